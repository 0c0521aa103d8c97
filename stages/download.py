"""Stage download: the four IDX files of data.dataset -> data/raw/ (raw.OUTPUTS), from
torchvision's mirrors (MD5-checked), or copied from the folder data.source (offline);
checked as IDX files of digits and their labels before any is written."""

from pathlib import Path

from mnistgan.core import params
from mnistgan.core.errors import exit_on_user_error
from mnistgan.data import raw


def main() -> None:
    p = params.load().data
    raw.fetch(p.dataset, None if p.source is None else Path(p.source).expanduser())


if __name__ == "__main__":
    exit_on_user_error(main)
