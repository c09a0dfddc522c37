"""The one Jinja environment factory: web pages and paper statements render through it.

Every filter and global a template may use is registered here, so a template renders the same
wherever it is used. Dates go through one filter, given the time zone to show them in; text, money
and dates are written in the render's language (`lang`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
from contextvars import ContextVar
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo

import jinja2
import jinja2.compiler
import jinja2.ext
import jinja2.lexer
from jinja2 import nodes
from markupsafe import Markup, escape

try:  # MarkupSafe's own escaping, without the Markup it wraps the text in (a Python call of its own each time)
    from markupsafe._speedups import _escape_inner as _escape_text
except ImportError:  # MarkupSafe without its compiled speedups
    def _escape_text(text: str) -> str:
        return str(escape(text))

from . import i18n
from .settings import TEMPLATES_DIR

HTMX_VERSION = "2.0.11"


def format_date(value: dt.date | dt.datetime | None, style: str = "long", tz: str | ZoneInfo | None = None) -> str:
    """A date, or an instant shown in the time zone `tz` (required for instants: no silent UTC), in English:
    for staff pages and logs. A template's `date` filter writes it in the page's language."""
    return i18n.format_date(value, style, tz)


# The language of the render under way: a macro imported without context (`{% from … import … %}`)
# sees only globals, so `_()` and the filters fall back on it when the context has no `lang`.
_RENDERING: ContextVar[str] = ContextVar("pops_rendering_language", default=i18n.DEFAULT)


@contextlib.contextmanager
def rendering(lang: str | None) -> Iterator[None]:
    """Render in `lang` (every template, macro and filter of the renders inside)."""
    token = _RENDERING.set(i18n.language(lang))
    try:
        yield
    finally:
        _RENDERING.reset(token)


def _lang(context) -> str:
    return context.get("lang") or _RENDERING.get()


def _translated(lang: str, message: str) -> str:
    """`message` in `lang`. A Message's parameters are escaped here, after translation; a literal % in
    them is doubled for the % formatting that follows (the i18n extension's, or `_translate`'s)."""
    if isinstance(message, i18n.Message) and message.params:
        translated = i18n.translations(i18n.language(lang)).gettext(message.msgid)
        values = {k: i18n.format_param(v, lang) for k, v in message.params.items()}
        return Markup(translated).format(**values).replace("%", "%%")
    return i18n.translations(i18n.language(lang)).gettext(message)


@jinja2.pass_context
def _gettext(context, message: str) -> str:
    """`gettext` (the i18n extension's, for {% trans %}) in the page's language (`lang` in the context)."""
    return _translated(_lang(context), message)


def _translate(message: str, **variables) -> Markup:
    """`_()` in the language of the render under way: what the i18n extension's new-style gettext does
    (translate, mark safe, then `%` with the variables, escaped), called directly: a page says `_()` a
    few dozen times, and the extension's way goes through three context calls each time."""
    if not variables and type(message) is str:
        return _sentence(_RENDERING.get(), message)
    return _filled(_translated(_RENDERING.get(), message), variables)


@functools.lru_cache(maxsize=4096)
def _sentence(lang: str, message: str) -> Markup:
    """A plain sentence in `lang`, as `_()` writes it: the same every time (a run of statements says each thousands of times)."""
    return Markup(_translated(lang, message)) % {}


@jinja2.pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(_lang(context), singular, plural, n)


@jinja2.pass_context
def _money(context, amount) -> str:
    return i18n.format_money(amount, _lang(context))


@jinja2.pass_context
def _date(context, value, style: str = "long", tz: str | ZoneInfo | None = None) -> str:
    return i18n.format_date(value, style, tz, _lang(context))


@functools.lru_cache(maxsize=256)  # a practice's number, on every page
def tel(phone: str | None, text: str | None = None) -> Markup:
    """The practice's phone number as a link a phone can call (tel: takes only the digits and a leading +),
    saying `text` (the number itself unless given)."""
    phone = phone or ""
    return Markup('<a href="tel:%s">%s</a>') % ("".join(c for c in phone if c in "+0123456789"),
                                                phone if text is None else text)


def _with_values(sentence: str, **values) -> Markup:
    """A sentence written in its language when its template was compiled (_WrittenSentences), with its values:
    what `_(sentence, **values)` makes (values escaped)."""
    return _filled(sentence, values)


_AS_THEY_ARE = frozenset({int, float})  # what %d and %f take, and what escaping leaves unchanged anyway


def _filled(sentence: str, values: Mapping[str, Any]) -> Markup:
    """`Markup(sentence) % values`, the same text: each value escaped as MarkupSafe escapes it (a number left as
    it is, for `%d`), without the wrapper object MarkupSafe makes of each value and of the mapping."""
    return Markup(sentence % {name: value if value.__class__ in _AS_THEY_ARE else _escaped(value)
                              for name, value in values.items()})


class _WrittenSentences(jinja2.ext.Extension):
    """In an environment of one language, `_("a sentence")` is written in it when a template is compiled: the
    page holds the text, as `_()` would have made it, and makes no call for it on each render. A sentence with
    values, `_("… %(name)s …", name=…)`, is written in it too, and its values put in on each render by a filter
    (_with_values). `_()` of a variable, `_(error)`, becomes that filter's sibling, `(error)|…` (_translate):
    Jinja calls a filter directly, and a function through the render's context."""

    def filter_stream(self, stream):
        lang = self.environment.sentences_in  # type: ignore[attr-defined]
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            call = (token.type == "name" and token.value == "_" and (i == 0 or tokens[i - 1].type != "dot")
                    and i + 3 < len(tokens) and tokens[i + 1].type == "lparen")
            literal = call and tokens[i + 2].type == "string"
            if literal and tokens[i + 3].type == "rparen":
                sentence = str(_sentence(lang, tokens[i + 2].value))  # marked safe, as `_()` marks it
                yield from self._tokens(token, ("lparen", "("), ("string", sentence), ("pipe", "|"),
                                        ("name", "safe"), ("rparen", ")"))
                i += 4
                continue
            if literal and [t.type for t in tokens[i + 3:i + 6]] == ["comma", "name", "assign"]:
                sentence = i18n.translations(lang).gettext(tokens[i + 2].value)  # still to be %-formatted
                yield from self._tokens(token, ("lparen", "("), ("string", sentence), ("pipe", "|"),
                                        ("name", VALUES_FILTER), ("lparen", "("))
                end = _closing(tokens, i + 1)  # the values and the call's parenthesis as written; one more closes it
                yield from tokens[i + 4:end + 1]
                yield from self._tokens(tokens[end], ("rparen", ")"))
                i = end + 1
                continue
            end = _closing(tokens, i + 1) if call and not literal else None
            if end is not None and end > i + 2 and not any(
                    t.type == "comma" and depth == 1 for t, depth in _depths(tokens, i + 1, end)):
                yield from self._tokens(token, ("lparen", "("), ("lparen", "("))
                yield from tokens[i + 2:end]
                yield from self._tokens(tokens[end], ("rparen", ")"), ("pipe", "|"), ("name", TRANSLATED_FILTER),
                                        ("rparen", ")"))
                i = end + 1
                continue
            yield token
            i += 1

    @staticmethod
    def _tokens(at: jinja2.lexer.Token, *kinds: tuple[str, str]) -> Iterator[jinja2.lexer.Token]:
        for kind, value in kinds:
            yield jinja2.lexer.Token(at.lineno, kind, value)


def _depths(tokens: list, start: int, end: int) -> Iterator[tuple[jinja2.lexer.Token, int]]:
    """tokens[start:end] with their depth in brackets of any kind (the opening one at `start` is depth 1)."""
    depth = 0
    for token in tokens[start:end]:
        if token.type in ("lparen", "lbracket", "lbrace"):
            depth += 1
        elif token.type in ("rparen", "rbracket", "rbrace"):
            depth -= 1
        yield token, depth


def _closing(tokens: list, start: int) -> int | None:
    """The index of the bracket that closes the one at `start` (None: not in this stream)."""
    depth = 0
    for index in range(start, len(tokens)):
        kind = tokens[index].type
        if kind in ("lparen", "lbracket", "lbrace"):
            depth += 1
        elif kind in ("rparen", "rbracket", "rbrace"):
            depth -= 1
            if depth == 0:
                return index
    return None


TRANSLATED_FILTER = "pops_translated"  # the filter _WrittenSentences writes `_()` of a variable with
VALUES_FILTER = "pops_with_values"  # the filter _WrittenSentences writes a sentence's values with


def _escaped(value) -> str:
    """What a template writes for `{{ value }}`: MarkupSafe's escape, as text. Jinja writes each value of a page
    through `escape` and only joins the pieces; a Markup of each one is work no page uses."""
    if value.__class__ is str:
        return _escape_text(value)
    html = getattr(value, "__html__", None)
    if html is not None:
        return html()
    return _escape_text(str(value))


class _Template(jinja2.Template):
    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        # The compiled module calls `escape` only to write a value out (jinja2.compiler: _output_child_pre).
        template.root_render_func.__globals__["escape"] = _escaped
        return template


class _JoinedOutput(jinja2.compiler.CodeGenerator):
    """Jinja's code generator, but a run of text and values between two tags is written out as one piece:
    `yield ''.join((text, escape(value), text, …))` where Jinja yields each part. A page's parts each pass
    through every template it extends (a generator each), so a page yields a third as often. The parts and
    their order, the constant text folded at compile time and each value's escaping are Jinja's own."""

    def visit_Output(self, node: nodes.Output, frame) -> None:
        if frame.buffer is not None or frame.require_output_check:
            super().visit_Output(node, frame)  # a {% set %} or {% call %} block's buffer; outside a block
            return
        finalize = self._make_finalize()
        body: list = []
        for child in node.nodes:  # as jinja2.compiler.CodeGenerator.visit_Output folds its constants
            try:
                if not (finalize.const or isinstance(child, nodes.TemplateData)):
                    raise nodes.Impossible()
                const = self._output_child_to_const(child, frame, finalize)
            except (nodes.Impossible, Exception):
                body.append(child)
                continue
            if body and isinstance(body[-1], list):
                body[-1].append(const)
            else:
                body.append([const])
        if len(body) < 2:
            super().visit_Output(node, frame)
            return
        self.writeline("yield ''.join((")
        self.indent()
        for item in body:
            if isinstance(item, list):
                self.writeline(self._output_const_repr(item) + ",")
            else:
                self.newline(item)
                self._output_child_pre(item, frame, finalize)
                self.visit(item, frame)
                self._output_child_post(item, frame, finalize)
                self.write(",")
        self.outdent()
        self.writeline("))")


# What Jinja writes to pass on another template's output part by part, and what a page environment (_WholeParts)
# writes instead: the output joined into one piece, then passed on once.
_PASSED_ON = {
    "yield from parent_template.root_render_func(context)":
        "yield ''.join(parent_template.root_render_func(context))",  # {% extends %}
    "for event in gen:": "for event in (''.join(gen),):",  # {% include %}
}


class _WholeParts(_JoinedOutput):
    """_JoinedOutput for pages rendered whole (never streamed with generate()): a block, the template a page
    extends and an include each pass their output on as one piece. Each part of a page otherwise passes through
    every template it extends, and through each block and include around it, a generator's turn at each."""

    def writeline(self, x: str, node=None, extra: int = 0) -> None:
        if x.startswith("yield from context.blocks["):  # {% block %} (Jinja writes it only when not async)
            x = "yield ''.join(" + x[len("yield from "):] + ")"
        super().writeline(_PASSED_ON.get(x, x), node, extra)


class _Environment(jinja2.Environment):
    """Jinja's environment with its globals final once environment() has set them: a template takes a copy (a
    dict, which each render's context copies at C speed) rather than a ChainMap over them. Its templates write
    values out with _escaped."""

    template_class = _Template
    code_generator_class = _JoinedOutput

    def make_globals(self, d):
        return {**self.globals, **(d or {})}


def environment(globals: Mapping[str, Any] | None = None, *, auto_reload: bool = True,
                language: str | None = None) -> jinja2.Environment:
    """A Jinja environment over the templates folder, with POPS's filters and the given globals.

    Without `auto_reload` a template is read once: no file check on every render (the server's pages).
    With a `language`, its templates are compiled in it (_WrittenSentences): render them only in that language.
    """
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        auto_reload=auto_reload,
        cache_size=400 if auto_reload else -1,  # not reloaded: every template kept, in a plain dict
        autoescape=jinja2.select_autoescape(default=True),
        extensions=["jinja2.ext.i18n", *([_WrittenSentences] if language else [])],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    if language:
        env.sentences_in = i18n.language(language)  # type: ignore[attr-defined]
        env.code_generator_class = _WholeParts  # a page: rendered whole
    # Every sentence a patient reads goes through gettext, in the language the render's context names
    # (`lang`: pops.language decides it; staff pages are English).
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = _translate  # every environment here escapes: the same as the extension's `_`, faster
    env.filters["money"] = _money
    env.filters[VALUES_FILTER] = _with_values
    env.filters[TRANSLATED_FILTER] = _translate
    env.filters["date"] = _date
    env.globals["languages"] = i18n.NAMES
    env.globals["tel"] = tel
    env.globals["htmx_js"] = f"htmx-{HTMX_VERSION}.min.js"
    env.globals.update(globals or {})
    return env
