"""The four raw IDX files of a data set, and how the download stage gets them.

MNIST, Fashion-MNIST and KMNIST share the IDX format, the image size and the file names;
they differ in mirrors and MD5s, which come from torchvision's dataset classes. The files
land in data/raw/<dataset>/, the download stage's output: DVC caches that folder, so queued
experiments, `dvc exp run --temp` and other clones (`dvc pull`) check it out instead of
fetching it again.
"""

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.utils import download_url

from mnistgan.core.errors import UserError

FILES = {  # role -> official file name
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "kmnist": KMNIST}


def raw_folder(dataset: str) -> Path:
    """Where the download stage puts the files and prepare reads them (dvc.yaml)."""
    return Path("data/raw", dataset)


def official_md5(dataset: str) -> dict[str, str]:
    return dict(DATASETS[dataset].resources)


def md5(path: Path) -> str:
    with path.open("rb") as f:  # streamed: a plain file may be large
        return hashlib.file_digest(f, "md5").hexdigest()


def find_raw(raw_dir: Path) -> dict[str, Path]:
    """Each official file found in `raw_dir`, gzipped or plain (name without .gz)."""
    found = {}
    for name in FILES.values():
        for candidate in (raw_dir / name, raw_dir / name.removesuffix(".gz")):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def download(raw_dir: Path, names: list[str], dataset: str = "mnist") -> list[str]:
    """Fetch `names` from torchvision's mirrors into `raw_dir`, MD5-checked; return errors."""
    errors, md5s = [], official_md5(dataset)
    for name in names:
        for mirror in DATASETS[dataset].mirrors:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    download_url(mirror + name, tmp, filename=name)
                except Exception as e:  # any network failure: try the next mirror
                    errors.append(f"{mirror}{name}: {e}")
                    continue
                got = md5(Path(tmp, name))
                if got != md5s[name]:
                    errors.append(f"{mirror}{name}: MD5 {got} != official {md5s[name]}")
                    continue
                raw_dir.mkdir(parents=True, exist_ok=True)
                shutil.move(Path(tmp, name), raw_dir / name)
                break
    return errors


def fetch(out: Path, dataset: str, source: Path | None) -> None:
    """The four files into `out`: copied as they are (plain or .gz) from `source` when it is
    given, else downloaded; a UserError naming each file that neither way gives."""
    names = list(FILES.values())
    if source is not None:
        found = find_raw(source)
        missing = [n for n in names if n not in found]
        if missing:
            raise UserError(
                f"data.source: missing {dataset} file(s) {', '.join(missing)} in {source}/ "
                "(put the four files there, plain or .gz)"
            )
        out.mkdir(parents=True, exist_ok=True)
        for path in found.values():
            shutil.copyfile(path, out / path.name)
        return
    print(f"downloading {dataset} into {out}", file=sys.stderr)
    errors = download(out, names, dataset)
    missing = [n for n in names if n not in find_raw(out)]
    if missing:
        raise UserError(
            f"missing {dataset} file(s) {', '.join(missing)}: download failed "
            f"({'; '.join(errors[-2:])}); offline, put the four files (plain or .gz) in a "
            "folder and set data.source to it"
        )
