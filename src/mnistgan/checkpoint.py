"""Model files: state dicts plus the config that rebuilds them, loaded without unpickling.

`torch.load(..., weights_only=True)` only reconstructs tensors and plain containers, so a
file crafted to run code is refused instead of executed. A leaf module: callers hand it the
builder of their own model, so loading a GAN never imports the classifier, nor the reverse.
"""

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import atomic
from .errors import UserError
from .params import parse_section


def save_model(path: str | Path, kind: str, net: nn.Module, net_params: Any) -> None:
    """Weights plus `net_params` (the params dataclass the net was built or trained with)."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    atomic.write_torch(path, {"kind": kind, "config": vars(net_params).copy(), "state_dict": state})


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
    try:
        net_params = parse_section(config_type, ckpt.get("config"), "config")
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
