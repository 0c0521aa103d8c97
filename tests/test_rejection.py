from dataclasses import replace

import pytest
import torch
from conftest import SMALL

from mnistgan.gan import models
from mnistgan.gan.rejection import drafts_needed, most_sure, sureness

P = SMALL


@pytest.mark.parametrize("n,keep,drafts", [(10000, 0.6, 16667), (10, 1.0, 10), (6, 0.6, 10)])
def test_drafts_needed_gives_at_least_n_kept(n, keep, drafts):
    assert drafts_needed(n, keep) == drafts


def test_most_sure_keeps_the_same_share_of_every_group_and_its_surest():
    group = torch.tensor([0] * 8 + [1] * 4)
    score = torch.tensor([8.0, 1, 7, 2, 6, 3, 5, 4, 0.4, 0.1, 0.3, 0.2])
    kept = most_sure(group, score, 6)
    assert kept.tolist() == [0, 2, 4, 6, 8, 10]  # the top half of each group, in draft order


def test_most_sure_breaks_ties_by_draft_order():
    assert most_sure(torch.zeros(4, dtype=torch.int64), torch.ones(4), 2).tolist() == [0, 1]


def test_sureness_of_a_supervised_d_is_its_k_plus_1_probability_of_a_real_digit():
    torch.manual_seed(0)
    d = models.build_discriminator(
        replace(P.model, features=4, d_features=4, supervised_d=True)
    ).eval()
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    realness, classes = d(images.float() / 127.5 - 1, with_classes=True)
    # p(real and digit c) = p(real) * p(c | real) = sigmoid(realness) * softmax(classes)_c
    p = torch.sigmoid(realness)[:, None] * classes.softmax(1)
    group, score = sureness(d, images, None)
    assert torch.equal(group, p.argmax(1))
    assert torch.allclose(score.exp(), p.max(1).values)
    asked = torch.tensor([3, 3, 1, 0, 9])
    group, score = sureness(d, images, asked)  # conditional: the digit asked for
    assert torch.equal(group, asked)
    assert torch.allclose(score.exp(), p[torch.arange(5), asked])


def test_sureness_of_a_plain_d_is_its_realness_logit_in_one_group():
    torch.manual_seed(0)
    d = models.build_discriminator(
        replace(P.model, features=4, d_features=4, supervised_d=False)
    ).eval()
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    group, score = sureness(d, images, None)
    assert group.tolist() == [0] * 5
    assert torch.allclose(score, d(images.float() / 127.5 - 1))
