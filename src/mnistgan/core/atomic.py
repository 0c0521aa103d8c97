"""Atomic writes: a killed stage never leaves a half-written file behind.

Everything is rendered to bytes first, written to a temp file beside the target, fsynced
and renamed over it. Rendering to bytes (not saving straight to a temp path) also keeps
`torch.save` output independent of the temp file's name, so outputs are byte-identical.
A write that fails (disk full, read-only folder, a file where a folder should be) leaves
the old file as it was and is a UserError naming the target: the user's to fix.
"""

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mnistgan.core.errors import UserError

if TYPE_CHECKING:  # only the evaluate stage writes tables: the others never load pandas
    import pandas as pd

UMASK = os.umask(0)  # read it the only way there is: set it, then put it back
os.umask(UMASK)


def check_target(path: Path) -> None:
    """Refuse a target that is a folder or lies under a file, before any work is done."""
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder; give a file name")
    nearest = next((p for p in path.parents if os.path.exists(p)), None)
    if nearest is not None and not os.path.isdir(nearest):
        raise UserError(f"{path}: cannot write: {nearest} is a file, not a folder")


def write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes it 0600; give it open()'s usual mode
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise UserError(f"{path}: cannot write: {e.strerror or e}") from None


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_csv(path: str | Path, frame: "pd.DataFrame") -> None:
    """Floats to 6 significant digits and "\n" line ends, so identical runs write identical
    bytes on every platform."""
    write_text(path, frame.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def write_torch(path: str | Path, obj: Any) -> None:
    write_bytes(path, torch_bytes(obj))
