"""The Spanish catalogue (pops/locale/): every patient-facing sentence has Spanish, none is fuzzy or left
in English (but for a few names), and each committed .mo is exactly what its .po compiles to."""
from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from markupsafe import Markup

from pops import templating

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "pops" / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/messages.po"))
# The same in Spanish: names of products and brands, and a word both languages share.
SAME_IN_SPANISH = {"POPS", "QuickPay", "Google Pay", "Apple Pay", "Sandbox Pay", "Total"}


def extracted() -> dict[str, str]:
    """Every msgid the source marks today (babel.cfg's files, N_ and _), with where it is."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}

    def only_the_source(dirname: str) -> bool:  # the top level: pops/ and templates/ only
        relative = Path(dirname).relative_to(ROOT)
        return len(relative.parts) != 1 or relative.parts[0] in ("pops", "templates")

    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None},
            directory_filter=only_the_source):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def spanish():
    with open(LOCALE / "es" / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale="es")


def test_there_is_a_spanish_catalogue():
    assert [p.relative_to(LOCALE).as_posix() for p in CATALOGUES] == ["es/LC_MESSAGES/messages.po"]


def test_every_patient_facing_sentence_has_spanish():
    catalogue = spanish()
    missing = [f"{where}: {msgid!r}" for msgid, where in sorted(extracted().items(), key=lambda kv: kv[1])
               if not (catalogue.get(msgid) and all(_strings(catalogue.get(msgid))))]
    assert missing == [], ("no Spanish yet (run the catalogue update in README's 'Translations', then translate):\n"
                           + "\n".join(missing))


def test_no_entry_is_fuzzy_or_left_in_english():
    catalogue = spanish()
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert fuzzy == [], f"fuzzy entries (check the Spanish, then drop the flag): {fuzzy}"
    english = [m.id for m in catalogue if m.id and not isinstance(m.id, tuple) and m.string == m.id
               and m.id not in SAME_IN_SPANISH]
    assert english == [], f"msgstr equal to its msgid: {english}"
    for m in catalogue:
        if isinstance(m.id, tuple):
            assert m.id[1] not in m.string, m.id


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_the_committed_mo_is_what_the_po_compiles_to(po):
    with open(po, "rb") as f:
        catalogue = read_po(f, locale=po.parent.parent.name)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.read_bytes() == compiled.getvalue(), (
        f"{mo.relative_to(ROOT)} is stale: run .venv/bin/pybabel compile -d pops/locale -D messages")


def test_a_page_sentence_is_written_in_its_language_when_the_template_is_compiled():
    """pops.web.render keeps an environment per language: `_("…")` of a plain sentence becomes the page's text
    (no call on each render); `_()` with parameters is written in the language too, its values put in by a
    filter Jinja calls directly (no call through the context), escaped as `_()` escapes them."""
    from pops.web.render import ENVIRONMENTS

    source = ('<h1>{{ _("Amount Due") }}</h1>'
              '<p>{{ _("Statement of %(date)s, due %(due)s", date=when, due=tel("2") ~ "<") }}</p>'
              '<h2>{{ _(option.label) }}</h2>')
    for lang, heading, sentence in (("en", "Amount Due", "Statement of %(date)s, due %(due)s"),
                                    ("es", "Monto a pagar", "Estado de cuenta del %(date)s, vence el %(due)s")):
        env = ENVIRONMENTS[lang]
        code = env.compile(source, raw=True)
        assert f"'<h1>{heading}</h1><p>'," in code, code  # text in the compiled page
        assert repr(sentence) in code, code  # the sentence with values, in its language
        assert code.count("context.call(") == 1, code  # one call: tel() (the sentences go to their filters)
        option = {"label": "Current Balance"}
        with templating.rendering(lang):
            html = env.from_string(source).render(when="Nov 1 <b>", option=option)
            called = source.replace('_("Statement', '_(("Statement').replace('due)s",', 'due)s"),').replace(
                "_(option.label)", "_(option.label, )")  # as written, `_()` itself is called for each
            assert env.compile(called, raw=True).count("context.call(") == 3
            assert html == env.from_string(called).render(when="Nov 1 <b>", option=option)
        want = sentence.replace("%(date)s", "Nov 1 &lt;b&gt;").replace("%(due)s", '<a href="tel:2">2</a>&lt;')
        balance = {"en": "Current Balance", "es": "Saldo actual"}[lang]
        assert html == f"<h1>{heading}</h1><p>{want}</p><h2>{balance}</h2>", html


def test_a_run_of_text_and_values_is_written_out_in_one_piece_as_jinja_would_write_it():
    """templating._JoinedOutput: text and values between two tags are one `yield` of their join, and in a page
    environment (_WholeParts) a block, the template extended and an include pass their output on in one piece;
    the page is the one Jinja's own code generator writes (escaping, autoescape blocks, loops, macros, {% set %}
    blocks, includes of another template, inheritance, blocks overridden and their super()), character for
    character."""
    import jinja2
    import jinja2.compiler

    source = ('{% macro row(x) %}<td>{{ x }}</td>{{ caller() if caller }}{% endmacro %}'
              '{% set block %}<i>{{ hostile }}</i> and {{ safe }}{% endset %}'
              '<p>{{ hostile }} · {{ safe }} · {{ n }} · {{ missing_value }}</p>\n'
              '{% for item in items %}<li class="{{ loop.index }}">{{ item }}{% if loop.last %}!{% endif %}</li>'
              '{% endfor %}{{ block }}{{ row(hostile) }}{% call row(n) %}<b>{{ safe }}</b>{% endcall %}'
              '{% autoescape false %}<raw>{{ hostile }}</raw>{% endautoescape %}'
              '{{ _("Statement of %(date)s", date=hostile) }}{% include "inner.html" %}'
              '{% block head %}<h>{{ n }}</h>{% block inner %}[{{ safe }}]{% endblock %}{% endblock %}'
              '{% for item in items %}{% block each scoped %}<{{ item }}>{% endblock %}{% endfor %}')
    loader = jinja2.DictLoader({
        "page.html": source, "inner.html": "<q>{{ hostile }}{{ n + 1 }}</q>",
        "child.html": '{% extends "page.html" %}',
        "grandchild.html": '{% extends "middle.html" %}{% block inner %}{{ super() }}+{{ hostile }}{% endblock %}'
                           '{% block each %}({{ item }}){{ super() }}{% endblock %}',
        "middle.html": '{% extends "page.html" %}{% block head %}<m>{% include "inner.html" %}</m>{{ super() }}'
                       '{% endblock %}'})
    values = {"hostile": '<script>"&\'', "safe": Markup("<em>ok</em>"), "n": 41, "items": ["a<", "b", "c"]}
    env = templating.environment(language="en")
    env.loader = loader
    stock = templating.environment(language="en")
    stock.loader = loader
    stock.code_generator_class = jinja2.compiler.CodeGenerator
    for name in ("page.html", "child.html", "middle.html", "grandchild.html"):
        with templating.rendering("en"):
            assert env.get_template(name).render(values) == stock.get_template(name).render(values)
    code = env.compile(source, raw=True)
    assert "yield ''.join((" in code and "yield ''.join(context.blocks['head'][0](context))" in code
    assert code.count("yield ") < stock.compile(source, raw=True).count("yield ") / 2, code
    assert "yield ''.join(parent_template.root_render_func(context))" in env.compile(
        loader.get_source(env, "middle.html")[0], raw=True)


@pytest.mark.parametrize("values", [
    {"name": '<b>"Tom" & \'Jerry\'</b>', "n": 7},
    {"name": None, "n": 0},
    {"name": Markup("<em>safe</em>"), "n": -3},
    {"name": Decimal("12.50"), "n": 2},
    {"name": 3.5, "n": 12},
])
def test_a_sentence_with_values_is_what_markupsafe_makes_of_it(values):
    """templating._filled (`_("…", name=…)` in a template) writes the text `Markup(sentence) % values` writes."""
    for sentence in ("Dear %(name)s, card %(n)02d.", "%(name)s%% of %(n)d", "<p>%(name)s</p> (%(n)s)"):
        assert templating._with_values(sentence, **values) == Markup(sentence) % values
        assert isinstance(templating._with_values(sentence, **values), Markup)
