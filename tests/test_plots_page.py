"""Building the offline page template: the libraries go inline, DVC's placeholders survive."""

from pathlib import Path

import pytest

from mnistgan.core import plots_page
from mnistgan.core.errors import UserError

SKELETON = (Path(__file__).resolve().parents[1] / "plots/page.in.html").read_text()


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
