"""Building the offline page template: the libraries go inline, DVC's placeholders survive."""

import re
from pathlib import Path

import pytest

from mnistgan.core import plots_page
from mnistgan.core.errors import UserError

REPO = Path(__file__).resolve().parents[1]
SKELETON = (REPO / "plots/page.in.html").read_text(encoding="utf-8")


def test_inlines_the_installed_libraries_in_load_order():
    libraries = plots_page.library_sources()
    page = plots_page.inline(SKELETON, libraries)
    assert plots_page.MARKER not in page and "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # DVC would fill it with CDN <script> tags
    positions = [page.index(source[:200]) for source in libraries]
    assert positions == sorted(positions)  # vega, then vega-lite, then vega-embed
    assert 'version="5.33.0"' in libraries[0] and 'var n="5.23.0"' in libraries[1]
    assert "http" not in SKELETON  # nothing of ours points off the machine


def test_script_end_tags_inside_a_library_are_escaped():
    page = plots_page.inline(SKELETON, ['var s = "</script><p>";'])
    assert '<script>var s = "<\\/script><p>";</script>' in page


def test_refuses_what_dvc_would_rewrite():
    with pytest.raises(ValueError, match="placeholder"):
        plots_page.inline(SKELETON, ['var t = "{plot_divs}";'])
    with pytest.raises(ValueError, match="exactly once"):
        plots_page.inline("<html>{plot_divs}</html>", [])


def test_missing_libraries_are_a_user_error(monkeypatch):
    monkeypatch.setattr(plots_page, "PACKAGE", "no_such_package_for_vega")
    with pytest.raises(UserError, match="pip install -r requirements.txt"):
        plots_page.library_sources()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file: restore it with `git checkout -- "),
        (SKELETON.replace(plots_page.MARKER, ""), f"holds {plots_page.MARKER} 0 times"),
        (SKELETON + plots_page.MARKER, f"holds {plots_page.MARKER} 2 times"),
        (SKELETON.encode("utf-16"), "not UTF-8 text"),
        (b"\xff" + SKELETON.encode(), r"not UTF-8 text \(byte 0: invalid start byte\)"),
    ],
    ids=["missing", "no marker", "two markers", "utf-16", "a stray byte"],
)
def test_a_missing_or_spoilt_page_template_is_one_line_naming_it(tmp_path, content, message):
    path = tmp_path / "page.in.html"
    if content is not None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserError, match=f"^{path}: {message}") as e:
        plots_page.read_skeleton(path)
    assert "\n" not in str(e.value)


def test_the_page_template_reads_as_it_is():
    assert plots_page.read_skeleton(REPO / "plots/page.in.html") == SKELETON


# What parses a string as HTML: with any of these, a file name or a param on the page could
# become markup that runs. The page templates build their elements and put strings in as text.
HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser"
)


@pytest.mark.parametrize("template", ["plots/page.in.html", "explorer/page.in.html"])
def test_page_templates_put_no_string_in_as_markup(template):
    assert HTML_SINKS.findall((REPO / template).read_text(encoding="utf-8")) == []
