"""The discriminator's verdict: how well the trained D tells generated from held-out real
images (a D that cannot is either fooled or broken; the quality metrics tell which)."""

import torch
from torch import nn

from mnistgan.core.device import forward_in_batches
from mnistgan.core.pixels import to_unit


@torch.no_grad()
def d_scores(
    d: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None, batch: int = 1000
) -> torch.Tensor:
    """D's probability that each uint8 image is real (a conditional D: real as that digit),
    computed on D's device, returned on the CPU."""

    def probability(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return torch.sigmoid(d(to_unit(x), y))

    return forward_in_batches(d, probability, images, labels, batch=batch).cpu()


def roc_auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(score of a positive > score of a negative), ties counting half (Mann-Whitney U)."""
    scores = torch.cat([pos, neg]).double()
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    # Midranks for ties: every member of a group of equal scores gets the group's mean rank.
    _, inverse, counts = torch.unique(scores, return_inverse=True, return_counts=True)
    sums = torch.zeros(len(counts), dtype=torch.float64).index_add_(0, inverse, ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def discriminator_metrics(real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    correct = (real > 0.5).sum() + (fake < 0.5).sum()
    return {
        "d_real_mean": float(real.mean()),
        "d_fake_mean": float(fake.mean()),
        "d_accuracy": float(correct / (len(real) + len(fake))),
        "d_auc": roc_auc(real, fake),
    }
