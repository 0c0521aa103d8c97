"""Stage download: the four IDX files of data.dataset -> data/raw/<dataset>/, from
torchvision's mirrors (MD5-checked), or copied from the folder data.source (offline)."""

from pathlib import Path

from mnistgan.core import params
from mnistgan.core.errors import exit_on_user_error
from mnistgan.data import raw


def main() -> None:
    p = params.load().data
    source = None if p.source is None else Path(p.source).expanduser()
    raw.fetch(raw.raw_folder(p.dataset), p.dataset, source)


if __name__ == "__main__":
    exit_on_user_error(main)
