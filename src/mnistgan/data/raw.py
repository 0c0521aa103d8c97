"""The four raw IDX files of a data set, and how the download stage gets them.

MNIST, Fashion-MNIST and KMNIST share the IDX format, the image size and the file names;
they differ in mirrors and MD5s, which come from torchvision's dataset classes.

The download stage writes four files of fixed names, OUTPUTS (data/raw/train-images, ...),
whatever the data set: DVC deletes a stage's outputs before running it, so no output path
depends on a param, and no output has the name of a file the stage reads (the official
names), so DVC can never delete the user's copy of the data whatever data.source says.
Each file holds the bytes fetched, gzipped or plain (readers tell by the first bytes). DVC
caches them, so queued experiments, `dvc exp run --temp` and other clones (`dvc pull`)
check them out instead of fetching them again.
"""

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.utils import download_url

from mnistgan.core.errors import UserError
from mnistgan.data.idx import read_idx

FILES = {  # role -> official file name
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
OUTPUTS = {role: Path("data/raw", role.replace("_", "-")) for role in FILES}  # dvc.yaml
SOURCE_VARIABLE = "MNISTGAN_DATA_SOURCE"
DATASETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "kmnist": KMNIST}


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


def load_pair(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64, checked against each other."""
    x, y = read_idx(images, (28, 28)), read_idx(labels)
    if len(x) != len(y):
        raise UserError(f"{labels}: {len(y)} labels for {len(x)} images in {images.name}")
    if int(y.max()) > 9:
        raise UserError(f"{labels}: label {int(y.max())} outside 0-9")
    return x.unsqueeze(1).clone(), y.long()


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


def source_folder(param: str | None, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    """The folder the four files are copied from and the setting that named it: data.source
    when set, else $MNISTGAN_DATA_SOURCE when set and not empty, else (None, "") to download.
    The variable is where a machine's own copy belongs: no file that `git checkout` or
    `dvc exp run -S` rewrites holds it, and DVC does not track it, so neither pointing at
    another copy of the same files nor losing the setting makes the stage run again."""
    if param is not None:
        return Path(param).expanduser(), "data.source"
    if environ.get(SOURCE_VARIABLE):
        return Path(environ[SOURCE_VARIABLE]).expanduser(), SOURCE_VARIABLE
    return None, ""


def in_source(source: Path, dataset: str, named: str = "data.source") -> dict[str, Path]:
    """The four files of the folder `source` (set by `named`), each a file of that folder: a
    link leaving it (to /etc/passwd, say) is refused, as its target would be cached and pushed."""
    found = find_raw(source)
    missing = [n for n in FILES.values() if n not in found]
    if missing:
        raise UserError(
            f"{named}: missing {dataset} file(s) {', '.join(missing)} in {source}/ "
            "(put the four files there, plain or .gz)"
        )
    root = source.resolve()
    for path in found.values():
        if not path.resolve().is_relative_to(root):
            raise UserError(
                f"{named}: {path} links to {path.resolve()}, outside {source}/: "
                "copy the file into the folder instead"
            )
    return found


def fetch(
    dataset: str,
    source: Path | None,
    outputs: dict[str, Path] = OUTPUTS,
    named: str = "data.source",
) -> None:
    """The four files into `outputs`: copied as they are (plain or .gz) from the folder
    `source` (messages name it as the setting `named`) when it is given, else downloaded.
    They land in a temporary folder beside the outputs and are read as IDX files of images
    and labels (header, dims, counts, labels 0-9) before any output is written; a UserError
    names each file that is missing or bad."""
    folder = outputs["train_images"].parent
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".incoming-") as tmp:
        staging = Path(tmp)
        if source is not None:
            for path in in_source(source, dataset, named).values():
                shutil.copyfile(path, staging / path.name)
        else:
            print(f"downloading {dataset} into {folder}", file=sys.stderr)
            errors = download(staging, list(FILES.values()), dataset)
            missing = [n for n in FILES.values() if n not in find_raw(staging)]
            if missing:
                raise UserError(
                    f"missing {dataset} file(s) {', '.join(missing)}: download failed "
                    f"({'; '.join(errors[-2:])}); offline, put the four files (plain or .gz) "
                    f"in a folder and set {SOURCE_VARIABLE} (or data.source) to it"
                )
        found = find_raw(staging)
        files = {role: found[name] for role, name in FILES.items()}
        try:
            for split in ("train", "test"):
                load_pair(files[f"{split}_images"], files[f"{split}_labels"])
        except UserError as e:  # name the user's file, not its copy
            raise UserError(str(e).replace(str(staging), str(source or dataset))) from None
        for role, path in files.items():
            os.replace(path, outputs[role])
