"""An exponential moving average of the generator's weights (Yazici et al. 2019): a cheap,
smoother generator than the last iterate of a GAN's oscillating training."""

import torch
from torch import nn


def warmed_decay(decay: float, step: int) -> float:
    """The decay to use after `step` updates: min(decay, (1 + step) / (10 + step)), as in
    TensorFlow's ExponentialMovingAverage. Early on the average follows the net closely,
    so a short run's EMA is not stuck near the random initial weights."""
    return min(decay, (1 + step) / (10 + step))


@torch.no_grad()
def update_ema(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net, for parameters and float buffers (BatchNorm's
    running statistics); integer buffers are copied. decay 0 makes `ema` an exact copy."""
    for e, n in zip(ema.state_dict().values(), net.state_dict().values(), strict=True):
        if e.is_floating_point():
            e.lerp_(n, 1.0 - decay)
        else:
            e.copy_(n)
