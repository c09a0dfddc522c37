"""The vendored htmx: one file, one version, the same one the README names and the pages load."""
from __future__ import annotations

import re

from pops.settings import ROOT, STATIC_DIR
from pops.templating import HTMX_VERSION
from pops.web.render import env


def vendored_htmx():
    files = sorted(STATIC_DIR.glob("htmx-*.min.js"))
    assert len(files) == 1, f"expected exactly one vendored htmx, found {[f.name for f in files]}"
    return files[0]


def test_the_vendored_file_is_the_version_its_name_says():
    path = vendored_htmx()
    named = re.fullmatch(r"htmx-(\d+\.\d+\.\d+)\.min\.js", path.name).group(1)
    inside = re.findall(r'version:"([^"]+)"', path.read_text())
    assert inside == [named]
    assert HTMX_VERSION == named


def test_the_readme_names_the_vendored_version():
    named = re.fullmatch(r"htmx-(.+)\.min\.js", vendored_htmx().name).group(1)
    mentioned = set(re.findall(r"htmx (\d+\.\d+\.\d+)", (ROOT / "README.md").read_text()))
    assert mentioned == {named}


def test_every_page_loads_the_vendored_file():
    html = env.get_template("base.html").render(title="Test")
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert f"/static/{vendored_htmx().name}" in scripts
