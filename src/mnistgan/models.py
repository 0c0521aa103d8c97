"""The two GAN architectures. Discriminators return logits (one per image); generators
map z of shape (N, z_dim) to images (N, 1, 28, 28) in [-1, 1]."""

from dataclasses import asdict

import torch
from torch import nn

from .params import ModelParams


class MLPGenerator(nn.Module):
    """The fully connected generator of the classic tutorials: z -> 256 -> 512 -> 1024 -> 784."""

    def __init__(self, z_dim: int):
        super().__init__()
        layers, width = [], z_dim
        for out in (256, 512, 1024):
            layers += [nn.Linear(width, out), nn.BatchNorm1d(out), nn.ReLU(True)]
            width = out
        self.net = nn.Sequential(*layers, nn.Linear(width, 784), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)


class MLPDiscriminator(nn.Module):
    """784 -> 512 -> 256 -> 1 with LeakyReLU."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512),
            nn.LeakyReLU(0.2, True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, True),
            nn.Linear(256, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


class DCGANGenerator(nn.Module):
    """Linear to a 7x7 map, two stride-2 transposed convs to 14x14 and 28x28, Tanh."""

    def __init__(self, z_dim: int, features: int):
        super().__init__()
        f = features
        self.project = nn.Sequential(
            nn.Linear(z_dim, 2 * f * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * f * 7 * 7),
            nn.ReLU(True),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False),
            nn.BatchNorm2d(f),
            nn.ReLU(True),
            nn.ConvTranspose2d(f, 1, 4, 2, 1),
            nn.Tanh(),
        )
        self.features = f

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(-1, 2 * self.features, 7, 7))


class Flatten(nn.Flatten):
    """nn.Flatten that hands its gradient back in the input's memory layout. Flattening a
    channels_last map copies it to NCHW, so the gradient comes back NCHW, and elementwise
    backward ops that mix the two layouts (LeakyReLU, BatchNorm) run ~5-10x slower on CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cl = torch.channels_last
        if x.requires_grad and not x.is_contiguous() and x.is_contiguous(memory_format=cl):
            x.register_hook(lambda g: g.contiguous(memory_format=cl))
        return super().forward(x)


class DCGANDiscriminator(nn.Module):
    """Two stride-2 convs (28 -> 14 -> 7) with LeakyReLU, then a linear logit."""

    def __init__(self, features: int):
        super().__init__()
        f = features
        self.net = nn.Sequential(
            nn.Conv2d(1, f, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(f, 2 * f, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * f),
            nn.LeakyReLU(0.2, True),
            Flatten(),
            nn.Linear(2 * f * 7 * 7, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build_generator(cfg: ModelParams) -> nn.Module:
    if cfg.arch == "mlp":
        return MLPGenerator(cfg.z_dim)
    return DCGANGenerator(cfg.z_dim, cfg.features)


def build_discriminator(cfg: ModelParams) -> nn.Module:
    if cfg.arch == "mlp":
        return MLPDiscriminator()
    return DCGANDiscriminator(cfg.features)


def build(cfg: ModelParams, seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator with DCGAN init, seeded so runs are repeatable."""
    torch.manual_seed(seed)
    g, d = build_generator(cfg), build_discriminator(cfg)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


def config_of(cfg: ModelParams) -> dict:
    return asdict(cfg)
