"""The prepare stage's data: the four raw IDX files checked and read, the training set split.

The download stage (mnistgan.data.raw) puts the files in data/raw/<dataset>/.
"""

import sys
from pathlib import Path

import torch

from mnistgan.core.errors import UserError
from mnistgan.data.idx import read_idx
from mnistgan.data.raw import FILES, find_raw, md5, official_md5


def locate(raw_dir: Path, dataset: str = "mnist") -> dict[str, Path]:
    """The four files; a UserError naming each missing one otherwise."""
    found = find_raw(raw_dir)
    missing = [n for n in FILES.values() if n not in found]
    if missing:
        raise UserError(
            f"missing {dataset} file(s) {', '.join(missing)} in {raw_dir}/: "
            "`dvc repro` puts them there (its download stage)"
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
            f"({', '.join(unofficial)}); MD5s recorded in data/prepared/provenance.json",
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
