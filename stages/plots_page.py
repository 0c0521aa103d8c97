"""Stage plots_page: plots/page.in.html + the pinned vega libraries -> plots/page.html, the
page template .dvc/config gives `dvc plots show` / `diff` (see mnistgan.core.plots_page)."""

from mnistgan.core import atomic, plots_page
from mnistgan.core.errors import exit_on_user_error


def main() -> None:
    skeleton = plots_page.read_skeleton("plots/page.in.html")
    atomic.write_text("plots/page.html", plots_page.inline(skeleton, plots_page.library_sources()))


if __name__ == "__main__":
    exit_on_user_error(main)
