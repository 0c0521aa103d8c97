"""The page template for `dvc plots show` / `diff`, with vega inlined so it renders offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN, so with no network it is
blank. .dvc/config points DVC at plots/page.html instead, built from our plots/page.in.html by
inlining the three libraries from the PyPI package django-js-lib-vega-embed, pinned in
requirements.txt (upstream's minified builds of vega 5.33.0, vega-lite 5.23.0 and vega-embed
6.29.0). Inlined, each page DVC writes is self-contained: it renders wherever it is written
(`-o DIR`) or copied, on a machine with no network and nothing installed.
"""

import importlib.resources
import re
from pathlib import Path

from mnistgan.core import files
from mnistgan.core.errors import UserError

PACKAGE = "js_lib_vega_embed"
LIBRARIES = ["vega5.js", "vega-lite5.js", "vega-embed6.js"]  # in load order
MARKER = "<!-- vega libraries -->"
DVC_PLACEHOLDERS = ["{scripts}", "{plot_divs}", "{refresh_tag}"]  # DVC str.replace()s these


def library_sources() -> list[str]:
    """The JavaScript of LIBRARIES, from the installed package."""
    try:
        folder = importlib.resources.files(PACKAGE) / "static" / PACKAGE
    except ModuleNotFoundError:
        raise UserError(
            "vega, vega-lite and vega-embed are not installed (PyPI package "
            "django-js-lib-vega-embed): run pip install -r requirements.txt"
        ) from None
    return [(folder / name).read_text(encoding="utf-8") for name in LIBRARIES]


def read_skeleton(path: str | Path) -> str:
    """The page template at `path`, UTF-8 text holding MARKER once, or a UserError naming it."""
    restore = f": restore it with `git checkout -- {path}`"
    skeleton = files.read_text(path, "the page template", missing=restore)
    if (count := skeleton.count(MARKER)) != 1:
        raise UserError(
            f"{path}: holds {MARKER} {count} times, expected once: the libraries go there"
        )
    return skeleton


def inline(skeleton: str, libraries: list[str]) -> str:
    """`skeleton` with its MARKER replaced by one inline <script> per library."""
    if skeleton.count(MARKER) != 1:
        raise ValueError(f"the page template must contain {MARKER!r} exactly once")
    scripts = []
    for source in libraries:
        if any(p in source for p in DVC_PLACEHOLDERS):
            raise ValueError("a library contains a DVC placeholder, which DVC would overwrite")
        source = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
        scripts.append(f"<script>{source}</script>")
    return skeleton.replace(MARKER, "\n".join(scripts))
