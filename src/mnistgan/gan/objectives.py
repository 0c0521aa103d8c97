"""GAN objectives: what D and G minimise, given D's logits on real and on generated images.

- bce: the non-saturating loss of Goodfellow et al. 2014 (G maximises log D(G(z))).
- hinge: Lim & Ye 2017 / Miyato et al. 2018; D is pushed to +1 on real and -1 on fake only.
- wgan-gp: Gulrajani et al. 2017; D is a critic whose gradient norm is held near 1 by a
  penalty on images between real and fake ones (added by the training step).
"""

import torch
import torch.nn.functional as F
from torch import nn

from mnistgan.gan.distributed import batch_mean


def d_loss(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if kind == "wgan-gp":
        return fake.mean() - real.mean()
    raise ValueError(f"unknown loss {kind!r}")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    if kind in ("hinge", "wgan-gp"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}")


def gradient_penalty(
    d: nn.Module, real: torch.Tensor, fake: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor
) -> torch.Tensor:
    """E[(||grad_x D(x)|| - 1)^2] at x = eps * real + (1 - eps) * fake, eps (N, 1, 1, 1)."""
    x = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x, y).sum(), x, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def class_balance(classes: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """KL(mean softmax(classes) || prior): how far the digits a supervised D sees in a batch
    of fakes are from the training set's digit frequencies. Per-image realness cannot see a
    dropped digit; this batch-level term can (the marginal term of CatGAN, Springenberg 2016).
    Under torchrun the mean is over the global batch, as in a single process."""
    p = batch_mean(classes.float().softmax(1))
    return (p * (p.log() - prior.log())).sum()
