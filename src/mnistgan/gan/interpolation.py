"""Walks through the generator's input space: a smooth row of images between two points says
the generator learned a continuous map, not a lookup of memorised digits."""

import torch
from torch import nn

from mnistgan.core.digits import N_CLASSES
from mnistgan.gan.sampling import generate, latents

STEPS = 10  # images per row, the two end points included


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of `a` and `b` at fractions `t` (T,): (N, T, D).
    Gaussian z lives near a sphere; a straight line between two z passes through its inside,
    where the generator saw few inputs (White 2016)."""
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((an * bn).sum(1).clamp(-1, 1))[:, None, None]  # (N, 1, 1)
    t = t[None, :, None]
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / so


def latent_rows(g: nn.Module, z_dim: int, rows: int, seed: int) -> torch.Tensor:
    """`rows` rows of STEPS images between random pairs of z; a conditional generator keeps
    one digit per row (row r shows digit r mod 10)."""
    z = latents(2 * rows, z_dim, seed)
    path = slerp(z[:rows], z[rows:], torch.linspace(0, 1, STEPS)).reshape(-1, z_dim)
    y = None
    if getattr(g, "embed", None) is not None:
        y = (torch.arange(rows) % N_CLASSES).repeat_interleave(STEPS)
    return generate(g, path, y)


def digit_rows(g: nn.Module, z_dim: int, rows: int, seed: int) -> torch.Tensor:
    """For a conditional generator: `rows` rows from digit r to digit r + 1 (mod 10), with z
    fixed along each row, by mixing the two digits' label embeddings."""
    z = latents(rows, z_dim, seed).repeat_interleave(STEPS, 0)
    t = torch.linspace(0, 1, STEPS).repeat(rows)
    start = torch.arange(rows).repeat_interleave(STEPS) % N_CLASSES
    weights = torch.zeros(len(t), N_CLASSES)
    weights[torch.arange(len(t)), start] = 1 - t
    weights[torch.arange(len(t)), (start + 1) % N_CLASSES] += t
    return generate(g, z, weights)
