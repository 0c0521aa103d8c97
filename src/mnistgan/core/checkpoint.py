"""Model files: a network's weights plus the config that builds it, loaded without unpickling.

A file holds {"format", "kind", "config", "state_dict"}. Its config is the network's own
(mnistgan.gan.models.GeneratorConfig, ...), not the params it was trained with: a generator file
carries no discriminator key, so a key added for one network leaves the other's files as
they were. A key added to a network's config goes into ADDED with the value that builds what
older files hold, and FORMAT goes up by one: files of every format since OLDEST_FORMAT load.

`torch.load(..., weights_only=True)` only reconstructs tensors and plain containers, so a
file crafted to run code is refused instead of executed. A leaf module: callers hand it the
builder of their own model, so loading a GAN never imports the classifier, nor the reverse.
"""

import os
import pickle
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistgan.core import atomic
from mnistgan.core.errors import UserError
from mnistgan.core.params import parse_section, preview

FORMAT = 1  # what save_model writes
OLDEST_FORMAT = 0  # 0: a file without "format", whose config was the whole model: section

# Keys that networks' configs gained after files without them were written, with the value
# that builds what those files hold. Not d_features nor g_taper: which value does depends on
# how old such a file is, so one without them is refused, naming the key
ADDED = {
    "generator": {"mixture": 0, "g_refine": 0},
    "discriminator": {"supervised_d": False},
}


def save_model(path: str | Path, kind: str, net: nn.Module) -> None:
    """Weights plus `net.config`, the network's own config (what builds it)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    config = asdict(net.config)
    atomic.write_torch(
        path, {"format": FORMAT, "kind": kind, "config": config, "state_dict": state}
    )


def load_safely(path: str | Path) -> Any:
    """torch.load restricted to tensors and containers; any other content is a UserError."""
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO would block forever
        raise UserError(f"{path}: not a regular file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserError(
            f"{path}: refused to load: it holds objects other than tensors, which could run "
            f"code ({first[:200]})"
        ) from None
    except Exception as e:
        raise UserError(f"{path}: not a readable PyTorch file ({e})") from None


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
    """How `stored` weights differ from the `expected` names and shapes, or None if they fit.
    A stored tensor must hold all its elements: a stride-0 view of a few bytes can claim any
    shape."""
    if not isinstance(stored, dict):
        return "no mapping of names to tensors"
    if odd := sorted(expected.keys() ^ stored.keys(), key=str):
        return f"{'missing' if odd[0] in expected else 'unexpected'} {odd[0]}"
    for name, t in stored.items():
        if not isinstance(t, torch.Tensor):
            return f"{name} is not a tensor"
        if t.shape != expected[name].shape:
            return f"{name}: {tuple(t.shape)} stored, {tuple(expected[name].shape)} expected"
        if t.untyped_storage().nbytes() < t.numel() * t.element_size():
            return f"{name}: {tuple(t.shape)} stored in fewer bytes than that takes"
    return None
