"""Turning generator outputs into uint8 images and PNG grids."""

import io

import torch
from PIL import Image
from torch import nn
from torchvision.utils import make_grid


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's output range."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


@torch.no_grad()
def generate(g: nn.Module, z: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """uint8 images (N, 1, 28, 28) for the latent vectors `z`, with `g` in eval mode."""
    g.eval()
    device = next(g.parameters()).device
    return torch.cat([to_uint8(g(zb.to(device))).cpu() for zb in z.split(batch)])


def latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def grid_png(images: torch.Tensor, nrow: int = 8, scale: int = 2) -> bytes:
    """A PNG of uint8 images (N, 1, 28, 28) in rows of `nrow`, white gaps, upscaled `scale`x."""
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=255)[0]
    grid = grid.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    buf = io.BytesIO()
    Image.fromarray(grid.numpy(), mode="L").save(buf, format="PNG")
    return buf.getvalue()
