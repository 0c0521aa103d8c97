import pytest
import torch

from mnistgan.evaluation.verdict import discriminator_metrics, roc_auc


def brute_auc(pos, neg):
    wins = sum((p > n) + 0.5 * (p == n) for p in pos.tolist() for n in neg.tolist())
    return wins / (len(pos) * len(neg))


def test_auc_perfect_and_inverted():
    assert roc_auc(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.2, 0.3])) == 1.0
    assert roc_auc(torch.tensor([0.1]), torch.tensor([0.9, 0.8])) == 0.0


def test_auc_matches_pairwise_count_with_ties():
    g = torch.Generator().manual_seed(0)
    pos = torch.randint(0, 5, (50,), generator=g).float()
    neg = torch.randint(0, 5, (70,), generator=g).float()
    assert roc_auc(pos, neg) == pytest.approx(brute_auc(pos, neg))


def test_discriminator_metrics():
    m = discriminator_metrics(torch.tensor([0.9, 0.4]), torch.tensor([0.1, 0.6]))
    assert m["d_accuracy"] == 0.5 and m["d_real_mean"] == pytest.approx(0.65)
    assert m["d_auc"] == pytest.approx(0.75)
