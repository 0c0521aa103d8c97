"""Images as pixels: scaling between stored uint8 and the [-1, 1] floats every net here
reads, and PNG grids. A leaf module: the GAN, the digit classifier and the discriminator's
verdict all need these, and none of them should import another just for them."""

import io

import torch
from PIL import Image
from torchvision.utils import make_grid


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's output range."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (clamped) -> uint8 [0, 255]."""
    return x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def grid(images: torch.Tensor, nrow: int = 8, scale: int = 2) -> torch.Tensor:
    """uint8 images (N, 1, 28, 28) as one uint8 (H, W) picture: rows of `nrow`, white gaps,
    upscaled `scale`x."""
    picture = make_grid(images, nrow=nrow, padding=2, pad_value=255)[0]
    return picture.repeat_interleave(scale, 0).repeat_interleave(scale, 1)


def grid_png(images: torch.Tensor, nrow: int = 8, scale: int = 2) -> bytes:
    """The PNG of `grid`; PIL writes no timestamp, so the same images give the same bytes."""
    buf = io.BytesIO()
    Image.fromarray(grid(images, nrow, scale).numpy(), mode="L").save(buf, format="PNG")
    return buf.getvalue()
