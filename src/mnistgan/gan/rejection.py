"""Rejection by the GAN's own discriminator: G draws more drafts than asked for, and the ones D
is least sure of are dropped (after Azadi et al. 2019, "Discriminator Rejection Sampling").

A generator fed connected Gaussian noise cannot jump between ten separate digits without
drawing some strokes in between; a supervised D (model.supervised_d) reads those as no digit
in particular. Drafts are ranked within the digit D reads them as (or was asked for, when
conditional), so every digit loses the same share and the digit frequencies stay as G drew
them. Only the trained G and D are used: never the classifier behind the quality metrics."""

import math

import torch
from torch import nn

from mnistgan.core.device import forward_in_batches
from mnistgan.core.pixels import to_unit


def drafts_needed(n: int, keep: float) -> int:
    """How many drafts give n samples when a share `keep` of them is kept."""
    return math.ceil(n / keep - 1e-9)


@torch.no_grad()
def sureness(
    d: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, batch: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """(group, score) per uint8 image, higher score = surer. A supervised D: the digit asked
    for (conditional) or the one D reads, scored by D's K+1-class log-probability that the
    image is a real one of that digit, log(exp(l_c) / (1 + sum_k exp(l_k))): its realness and
    its reading in one number. A plain D: one group, scored by its realness logit. Computed
    on D's device, returned on the CPU."""
    if not getattr(d, "supervised", False):
        logits = forward_in_batches(d, lambda x, y: d(to_unit(x), y), images, labels, batch=batch)
        return torch.zeros(len(images), dtype=torch.int64), logits.cpu()

    def digit_logits(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return d(to_unit(x), y, with_classes=True)[1]

    classes = forward_in_batches(d, digit_logits, images, labels, batch=batch)
    fake = classes.new_zeros(len(classes), 1)  # the K+1-th class, "generated", has logit 0
    log_p = torch.cat([fake, classes], 1).log_softmax(1)[:, 1:]
    group = classes.argmax(1) if labels is None else labels.to(classes.device)
    return group.cpu(), log_p.gather(1, group[:, None]).squeeze(1).cpu()


def most_sure(group: torch.Tensor, score: torch.Tensor, n: int) -> torch.Tensor:
    """Indices (ascending) of the n drafts ranked highest within their own group: each draft's
    rank is its score's quantile among its group, so every group keeps the same share.
    Ties keep the earlier draft."""
    quantile = torch.empty(len(score), dtype=torch.float64)
    for g in group.unique():
        members = (group == g).nonzero().squeeze(1)
        order = members[score[members].argsort(descending=True, stable=True)]
        quantile[order] = torch.arange(len(order), dtype=torch.float64) / len(order)
    return quantile.argsort(stable=True)[:n].sort().values
