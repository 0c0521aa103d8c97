"""The prepare stage's data: the four raw IDX files checked and read, the training set split.

The download stage (mnistgan.data.raw) puts the files in data/raw/ (raw.OUTPUTS).
"""

import sys
from pathlib import Path

import torch

from mnistgan.core.errors import UserError
from mnistgan.data.raw import FILES, OUTPUTS, md5, official_md5


def locate(files: dict[str, Path] = OUTPUTS, dataset: str = "mnist") -> dict[str, Path]:
    """`files` (role -> path), each there; a UserError naming each missing one otherwise."""
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise UserError(
            f"missing {dataset} file(s) {', '.join(missing)}: "
            "`dvc repro` puts them there (its download stage)"
        )
    return files


def provenance(files: dict[str, Path], dataset: str = "mnist") -> dict[str, dict]:
    """MD5 of each file found and whether it is the official release's, warning if not."""
    out, md5s = {}, official_md5(dataset)
    for role, name in FILES.items():
        digest = md5(files[role])
        out[name] = {"file": files[role].name, "md5": digest, "official": digest == md5s[name]}
    unofficial = [n for n, v in out.items() if not v["official"]]
    if unofficial:
        print(
            f"warning: {len(unofficial)} of 4 files are not the official {dataset} release "
            f"({', '.join(unofficial)}); MD5s recorded in data/prepared/provenance.json",
            file=sys.stderr,
        )
    return out


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
