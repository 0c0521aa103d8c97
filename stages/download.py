"""Stage download: the four IDX files of data.dataset -> data/raw/ (raw.OUTPUTS), from
torchvision's mirrors (MD5-checked), or copied from the folder data.source or
$MNISTGAN_DATA_SOURCE names (offline); checked as IDX files of digits and their labels
before any is written."""

import os

from mnistgan.core import params
from mnistgan.core.errors import exit_on_user_error
from mnistgan.data import raw


def main() -> None:
    p = params.load().data
    folder, named = raw.source_folder(p.source, os.environ)
    raw.fetch(p.dataset, folder, named=named)


if __name__ == "__main__":
    exit_on_user_error(main)
