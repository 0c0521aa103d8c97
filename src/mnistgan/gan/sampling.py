"""Drawing images from a generator: latent vectors, labels, and the uint8 images they make."""

import operator
import os
from typing import Any

import torch
from torch import nn

from mnistgan.core.device import forward_in_batches
from mnistgan.core.digits import N_CLASSES, digit_counts
from mnistgan.core.errors import UserError
from mnistgan.core.params import MAX_IMAGES, MAX_SEED, MAX_TEMPERATURE, preview
from mnistgan.core.pixels import to_uint8
from mnistgan.gan.models import GeneratorConfig


@torch.no_grad()
def generate(
    g: nn.Module,
    z: torch.Tensor,
    y: torch.Tensor | None = None,
    batch: int = 1000,
    source: str = "the generator",
) -> torch.Tensor:
    """uint8 images (N, 1, 28, 28) for the latent vectors `z` (and labels `y`, for a
    conditional generator: int64 digits (N,) or class weights (N, 10)), `g` in eval mode.
    NaN would pass as black pixels, so a non-finite output is an error naming `source`.
    Drawn on g's device with one host sync, at the end; returned on the CPU."""

    def draw(zb: torch.Tensor, yb: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = g(zb, yb)
        return to_uint8(x), x.isfinite().all().view(1)

    images, finite = forward_in_batches(g, draw, z, y, batch=batch)
    if not finite.all():
        raise UserError(
            f"{source} draws NaN or inf, not images: its weights are broken, as after "
            "a diverged training run; train it again"
        )
    return images.cpu()


def balanced_labels(n: int) -> torch.Tensor:
    """0, 1, ..., 9, 0, 1, ...: every digit equally often (up to one when 10 does not divide n)."""
    return torch.arange(n) % N_CLASSES


def digit_frequencies(labels: torch.Tensor) -> torch.Tensor:
    """The share of each digit among int64 `labels` (10,)."""
    return digit_counts(labels) / len(labels)


def prior_labels(prior: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n digits in the proportions `prior` (largest remainder), in a seeded random order: a
    conditional G's samples then have the training digits' frequencies, as the data do."""
    exact = prior.double() * n
    counts = exact.floor().long()
    counts[(exact - counts).argsort(descending=True)[: n - int(counts.sum())]] += 1
    y = torch.repeat_interleave(torch.arange(len(prior)), counts)
    return y[torch.randperm(n, generator=torch.Generator().manual_seed(seed))]


def class_rows(per_class: int = 10) -> torch.Tensor:
    """Labels 0 x per_class, 1 x per_class, ...: digit d in row d of a grid of nrow=per_class."""
    return torch.arange(N_CLASSES).repeat_interleave(per_class)


def class_latents(
    z_dim: int, seed: int, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise and labels for 10 images of each digit, digit d in row d (pixels.grid_png nrow=10)."""
    y = class_rows()
    return latents(len(y), z_dim, seed, temperature), y


# A GAN's generator draws too narrow a set: its samples cover less of the data than its
# training z ~ N(0, I) should give. Drawing z at a larger scale widens them again; chosen on the
# validation FID of three seeds of the default recipe, unconditional and conditional
# (docs/studies/2026-12-06-seeds-validation.md). The pipeline sets it as sample.temperature;
# `generate` and mnistgan.sample default to it
TEMPERATURE = 1.15


def latents(n: int, z_dim: int, seed: int, temperature: float = 1.0) -> torch.Tensor:
    """n seeded latent vectors z ~ N(0, temperature^2 I)."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)) * temperature


GRID_SIZE = 64  # the images of training's per-epoch sample grid, 8x8, when unconditional


def grid_latents(model_params: Any, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The noise (and labels) of training's per-epoch sample grid: 8x8, or one digit per row
    of 10 for a conditional generator."""
    if not model_params.conditional:
        return latents(GRID_SIZE, model_params.z_dim, seed), None
    return class_latents(model_params.z_dim, seed)


def request(
    g_config: Any, n: Any, seed: Any, digits: Any, temperature: Any
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The latents and labels (None: unconditional) that mnistgan.sample's arguments ask a
    generator of config `g_config` for, each argument checked: a bad one is a UserError
    naming it, not a traceback from deep in torch. `digits`: None (each digit in turn, for a
    conditional generator), one digit, or n of them."""
    n, seed = integer("n", n), integer("seed", seed)
    if not 1 <= n <= MAX_IMAGES:
        raise UserError(f"n: got {n}, expected an integer in [1, {MAX_IMAGES}]")
    if not 0 <= seed < MAX_SEED:
        raise UserError(f"seed: got {seed}, expected an integer in [0, 2^63)")
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = float("nan")
    if not 0 < t <= MAX_TEMPERATURE:  # NaN fails every comparison
        raise UserError(
            f"temperature: got {preview(temperature)}, expected a number in "
            f"(0, {MAX_TEMPERATURE:g}]"
        )
    if not g_config.conditional:
        if digits is not None:
            raise UserError(
                "digits: this generator is unconditional (model.conditional: false): it cannot "
                "draw a chosen digit; train with model.conditional: true for that"
            )
        return latents(n, g_config.z_dim, seed, t), None
    return latents(n, g_config.z_dim, seed, t), digit_labels(digits, n)


def described(value: Any) -> str:
    """`value` in a few words on one line: a path whole, an open file by its name."""
    if isinstance(value, (str, bytes, os.PathLike)):
        return repr(os.fspath(value))  # whole: preview would cut it
    if hasattr(value, "read"):
        name = getattr(value, "name", None)
        return (
            f"an open file ({type(value).__name__}{f' {name!r}' if isinstance(name, str) else ''})"
        )
    shown = preview(value)
    return shown if "\n" not in shown else f"a {type(value).__name__}"


def generator_config(g: Any) -> Any:
    """The config of `g`, checked to be a generator mnistgan.sample can draw from: an
    nn.Module with the config mnistgan.load_generator gives it and float32 weights holding
    values; anything else (None, a path or file, TorchScript, g.half()) is a UserError
    naming `g`, not a traceback from deep in torch."""
    loaded = "the generator mnistgan.load_generator(path) returns"
    if isinstance(g, (str, bytes, os.PathLike)) or hasattr(g, "read"):
        raise UserError(f"g: got {described(g)}, a model file: pass {loaded}")
    if not isinstance(g, nn.Module):
        raise UserError(f"g: got {described(g)}, expected a generator: pass {loaded}")
    if not isinstance(getattr(g, "config", None), GeneratorConfig):
        raise UserError(
            f"g: {type(g).__name__} without a generator's config (a converted, scripted or "
            f"traced model, or no mnistgan generator): pass {loaded}"
        )
    weights = list(g.parameters())
    if not weights or any(w.is_meta for w in weights):
        raise UserError(f"g: {type(g).__name__} without weights to draw with: pass {loaded}")
    if (dtype := weights[0].dtype) != torch.float32:
        raise UserError(f"g: its weights are {dtype}; it draws in torch.float32: pass g.float()")
    return g.config


def integer(name: str, value: Any) -> int:
    """`value` as an int (a Python, NumPy or 0-d tensor integer), or a UserError naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise UserError(f"{name}: got {preview(value)}, expected an integer") from None


def digit_labels(digits: Any, n: int) -> torch.Tensor:
    """int64 labels (n,) from `digits`: None (each digit in turn), one digit, or n digits."""
    if digits is None:
        return balanced_labels(n)
    try:
        y = torch.as_tensor(digits)
    except (TypeError, ValueError, RuntimeError):
        y = None
    if y is None or y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise UserError(f"digits: got {preview(digits)}, expected a digit or {n} of them")
    y = torch.full((n,), int(y)) if y.dim() == 0 else y
    if y.shape != (n,):
        raise UserError(
            f"digits: got {tuple(y.shape)}, expected one digit or n = {n}, one per image"
        )
    if (bad := y[(y < 0) | (y >= N_CLASSES)]).numel():
        raise UserError(f"digits: got {int(bad[0])}, expected digits 0-{N_CLASSES - 1}")
    return y.to(torch.int64)
