"""MNIST-like data sets on disk: find the four IDX files, download them if missing, split them.

MNIST, Fashion-MNIST and KMNIST share the IDX format, the image size and the file names;
they differ in mirrors and MD5s, which come from torchvision's dataset classes.
"""

import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torchvision.datasets import KMNIST, MNIST, FashionMNIST
from torchvision.datasets.utils import download_url

from .errors import UserError
from .idx import read_idx

FILES = {  # role -> official file name
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
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


def locate(raw_dir: Path, dataset: str = "mnist") -> dict[str, Path]:
    """The four files, downloading what is missing; a UserError naming each file otherwise."""
    found = find_raw(raw_dir)
    missing = [n for n in FILES.values() if n not in found]
    if missing:
        print(f"downloading {dataset} {', '.join(missing)} into {raw_dir}", file=sys.stderr)
        errors = download(raw_dir, missing, dataset)
        found = find_raw(raw_dir)
        missing = [n for n in FILES.values() if n not in found]
        if missing:
            raise UserError(
                f"missing {dataset} file(s) {', '.join(missing)}: put them (plain or .gz) in "
                f"{raw_dir}/ or set data.raw_dir; download failed: {'; '.join(errors[-2:])}"
            )
    return {role: found[name] for role, name in FILES.items()}


def provenance(files: dict[str, Path], dataset: str = "mnist") -> dict[str, dict]:
    """MD5 of each file found and whether it is the official release's, warning if not."""
    out, md5s = {}, official_md5(dataset)
    for name, path in zip(FILES.values(), files.values(), strict=True):
        digest = md5(path)
        out[name] = {"file": path.name, "md5": digest, "official": digest == md5s[name]}
    unofficial = [n for n, v in out.items() if not v["official"]]
    if unofficial:
        print(
            f"warning: {len(unofficial)} of 4 files are not the official {dataset} release "
            f"({', '.join(unofficial)}); MD5s recorded in metrics/data.json",
            file=sys.stderr,
        )
    return out


def load_pair(images: Path, labels: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64, checked against each other."""
    x, y = read_idx(images, (28, 28)), read_idx(labels)
    if len(x) != len(y):
        raise UserError(f"{labels}: {len(y)} labels for {len(x)} images in {images.name}")
    if int(y.max()) > 9:
        raise UserError(f"{labels}: label {int(y.max())} outside 0-9")
    return x.unsqueeze(1).clone(), y.long()


def split(
    x: torch.Tensor, y: torch.Tensor, val_size: int, limit: int | None, seed: int
) -> dict[str, dict[str, torch.Tensor]]:
    """A seeded validation split off the training set, and at most `limit` training images."""
    if val_size >= len(x):
        raise UserError(f"data.val_size: got {val_size}, expected less than {len(x)}")
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, train = perm[:val_size], perm[val_size:]
    if limit is not None:
        if limit > len(train):
            raise UserError(
                f"data.limit: got {limit}, expected at most {len(train)} "
                "(training images after the validation split)"
            )
        train = train[:limit]
    val, train = val.sort().values, train.sort().values
    return {
        "train": {"images": x[train], "labels": y[train]},
        "val": {"images": x[val], "labels": y[val]},
    }
