"""Model files: a network's weights plus the config that builds it, loaded without unpickling.

A file holds {"format", "kind", "config", "state_dict"}. Its config is the network's own
(mnistgan.gan.models.GeneratorConfig, ...), not the params it was trained with: a generator file
carries no discriminator key, so a key added for one network leaves the other's files as
they were. A key added to a network's config goes into ADDED with the value that builds what
older files hold, and FORMAT goes up by one: files of every format since OLDEST_FORMAT load.

`torch.load(..., weights_only=True)` only reconstructs tensors and plain containers, so a
file crafted to run code is refused instead of executed; and a file's zip directory is read
first, so one whose entries would inflate past what such a file can hold is refused before
torch.load allocates anything. A leaf module: callers hand it the builder of their own
model, so loading a GAN never imports the classifier, nor the reverse.
"""

import os
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistgan.core import atomic
from mnistgan.core.errors import UserError
from mnistgan.core.params import MAX_EPOCHS, MAX_IMAGES, parse_section, preview

FORMAT = 1  # what save_model writes
OLDEST_FORMAT = 0  # 0: a file without "format", whose config was the whole model: section

# Keys that networks' configs gained after files without them were written, with the value
# that builds what those files hold. Not d_features nor g_taper: which value does depends on
# how old such a file is, so one without them is refused, naming the key
ADDED = {
    "generator": {"mixture": 0, "g_refine": 0},
    "discriminator": {"supervised_d": False},
}


# What the entries of a file may declare in all, by kind. torch.load allocates each entry's
# size as its zip directory declares it and inflates into that buffer, never past it, so
# these bound its memory (Python's zipfile and torch's reader both take the directory that
# the file's last end record points to). Each is the most that params within their bounds
# (core/params.py) make such a file hold, with room to spare (tests/test_checkpoint.py):
# - a model file: the largest generator, dcgan with z_dim MAX_Z_DIM, features MAX_WIDTH and
#   g_refine MAX_REFINE, holds 1.14 GiB of float32 weights;
MODEL_FILE_BYTES = 2 << 30
# - the resume checkpoint: G, its EMA, D and Adam's two moments of G and of D (4 of the
#   largest G and 3 of the largest D: 5 GiB), a 100-image grid per epoch for MAX_EPOCHS
#   epochs, and 1 GiB for the logged rows;
RESUME_FILE_BYTES = (6 << 30) + MAX_EPOCHS * 100 * 784 + (1 << 30)
# - data/prepared/*.pt, data/samples/samples.pt: MAX_IMAGES images and their int64 labels.
DATA_FILE_BYTES = MAX_IMAGES * (784 + 8) + (1 << 20)
# torch.save stores entries uncompressed; a deflated one comes from a file zipped by hand, and
# real weights or digits deflate a few times at most. One that inflates more than MAX_RATIO
# times, past 1 MiB, is a bomb: a few MB of zeros deflated ask for gigabytes
MAX_RATIO = 100
ZIP_MAGIC = b"PK\x03\x04"  # torch.load reads a file starting so as a zip archive


def save_model(path: str | Path, kind: str, net: nn.Module) -> None:
    """Weights plus `net.config`, the network's own config (what builds it)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    config = asdict(net.config)
    atomic.write_torch(
        path, {"format": FORMAT, "kind": kind, "config": config, "state_dict": state}
    )


def path_argument(name: str, value: Any) -> str | os.PathLike:
    """`value`, a path (str or os.PathLike), or a UserError naming the argument `name`: open()
    takes an int for a file descriptor, and would read (then close) one of the process's."""
    if isinstance(value, (str, os.PathLike)):
        return value
    if hasattr(value, "read"):
        where = getattr(value, "name", None)
        hint = f": pass {where!r}" if isinstance(where, str) else ", not an open file"
        raise UserError(
            f"{name}: got a file object ({type(value).__name__}), expected its path{hint}"
        )
    raise UserError(f"{name}: got {preview(value)}, expected the path of a model file")


def load_safely(path: str | Path, limit: int = MODEL_FILE_BYTES, what: str = "model file") -> Any:
    """torch.load restricted to tensors and containers, of a `what` file whose entries declare
    at most `limit` bytes in all; any other content is a UserError."""
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO would block forever
        raise UserError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
            if head == ZIP_MAGIC:
                check_entries(path, f, limit, what)
            elif head[:1] != b"\x80":  # a pickle, as torch.save wrote before zip files
                raise UserError(f"{path}: not a {what} (PyTorch files are zip archives)")
            f.seek(0)
            return torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UserError:
        raise
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserError(
            f"{path}: refused to load: it holds objects other than tensors, which could run "
            f"code ({first[:200]})"
        ) from None
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable {what} ({first[:200]})") from None


def check_entries(path: str | Path, f: Any, limit: int, what: str) -> None:
    """Refuse a zip archive whose directory declares more than `limit` bytes in all, or an
    entry inflating more than MAX_RATIO times: read from its directory, nothing inflated."""
    try:
        entries = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a {what} (a broken zip archive: {e})") from None
    total = 0
    for e in entries:
        total += e.file_size
        if total > limit:
            raise UserError(
                f"{path}: refused: its entries declare more than {limit / 2**30:.3g} GiB, "
                f"more than a {what} holds ({e.filename[:80]}: {e.file_size} bytes)"
            )
        if e.file_size > max(MAX_RATIO * e.compress_size, 1 << 20):
            raise UserError(
                f"{path}: refused: its entry {e.filename[:80]} inflates {e.compress_size} "
                f"bytes to {e.file_size}, as only a crafted file does (a zip bomb)"
            )


def load_model(
    path: str | Path, kind: str, build: Callable[[Any], nn.Module], config_type: type
) -> tuple[nn.Module, Any]:
    """The `kind` model saved at `path`, rebuilt by `build` from its saved `config_type`
    config, in eval mode, with that config."""
    ckpt = load_safely(path)
    if not isinstance(ckpt, dict) or ckpt.get("kind") != kind or "state_dict" not in ckpt:
        raise UserError(f"{path}: not a mnistgan {kind} checkpoint")
    config = upgrade(path, kind, ckpt.get("format", 0), ckpt.get("config"), config_type)
    try:
        net_params = parse_section(config_type, config, "config")
    except UserError as e:
        raise UserError(f"{path}: bad model config in checkpoint: {e}") from None
    arch = f"{net_params.arch} " if hasattr(net_params, "arch") else ""
    # a config may lie about the model's size: compare shapes on the meta device (nothing is
    # allocated), so the model built is never bigger than the weights the file really holds
    with torch.device("meta"):
        expected = build(net_params).state_dict()
    if (misfit := misfit_weights(ckpt["state_dict"], expected)) is not None:
        raise UserError(f"{path}: weights do not fit a {arch}{kind} ({misfit[:200]})")
    net = build(net_params)
    try:
        net.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError) as e:
        detail = str(e).splitlines()[0]
        raise UserError(f"{path}: weights do not fit a {arch}{kind} ({detail})") from None
    return net.eval(), net_params


def upgrade(path: str | Path, kind: str, fmt: Any, config: Any, config_type: type) -> Any:
    """A `kind` file's config of format `fmt` as today's `config_type` reads it: an older
    file keeps only this network's keys (format 0 held every model: key) and gets the
    ADDED keys it lacks."""
    if type(fmt) is not int:
        raise UserError(f"{path}: format: got {preview(fmt)}, expected an integer")
    readable = f"this mnistgan reads formats {OLDEST_FORMAT} to {FORMAT}"
    if fmt > FORMAT:
        raise UserError(f"{path}: model file format {fmt} is too new: {readable}; update it")
    if fmt < OLDEST_FORMAT:
        raise UserError(f"{path}: model file format {fmt} is too old: {readable}; retrain it")
    if fmt == FORMAT or not isinstance(config, dict):
        return config
    names = {f.name for f in fields(config_type)}
    return ADDED.get(kind, {}) | {k: v for k, v in config.items() if k in names}


def misfit_weights(stored: Any, expected: dict[str, torch.Tensor]) -> str | None:
    """How `stored` weights differ from the `expected` names and shapes, or None if they fit;
    each must be a dense tensor holding all its elements (not_dense)."""
    if not isinstance(stored, dict):
        return "no mapping of names to tensors"
    if odd := sorted(expected.keys() ^ stored.keys(), key=str):
        return f"{'missing' if odd[0] in expected else 'unexpected'} {odd[0]}"
    for name, t in stored.items():
        if not isinstance(t, torch.Tensor):
            return f"{name} is not a tensor"
        if (odd := not_dense(t)) is not None:
            return f"{name}: {odd}"
        if t.shape != expected[name].shape:
            return f"{name}: {tuple(t.shape)} stored, {tuple(expected[name].shape)} expected"
    return None


def not_dense(t: torch.Tensor) -> str | None:
    """Why `t` is not a plain dense tensor holding all its elements, or None if it is: a
    sparse or nested one fails later, in code that expects a dense one, and a stride-0 view of
    a few bytes can claim any shape."""
    if t.is_nested:
        return "a nested tensor, expected a dense one"
    if t.layout != torch.strided:
        return f"a {str(t.layout).removeprefix('torch.')} tensor, expected a dense one"
    if t.untyped_storage().nbytes() < t.numel() * t.element_size():
        return f"{tuple(t.shape)} stored in fewer bytes than that takes"
    return None
