"""The training step's parts on tiny hand-made nets: each update's loss, the direction it
moves each net, the batches it draws and the statistics it returns."""

import contextlib
import copy
import math
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from conftest import SMALL

from mnistgan.gan import distributed, training
from mnistgan.gan.objectives import class_balance
from mnistgan.gan.training import Batch, StepConfig, d_update, g_update


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class ScaleG(torch.nn.Module):
    """G(z) = a z, as a one-pixel image."""

    def __init__(self, a: float = 1.0):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a))

    def forward(self, z, y=None):
        return (self.a * z).view(-1, 1, 1, 1)


class LinearD(torch.nn.Module):
    """D(x) = w x (one pixel); a supervised one reads the digit logits x v. Records its calls."""

    def __init__(self, w: float = 1.0, supervised: bool = False, batch_norm: bool = False):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))
        self.v = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
        self.supervised = supervised
        self.norm = torch.nn.BatchNorm1d(1) if batch_norm else None  # only its presence counts
        self.calls = []

    def forward(self, x, y=None, with_classes=False):
        self.calls.append((len(x), y))
        s = x.flatten(1).sum(1)
        return (self.w * s, s[:, None] * self.v) if with_classes else self.w * s


def sgd(net: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=0.1)


REAL = torch.tensor([1.0, 2.0]).view(2, 1, 1, 1)
Z = torch.tensor([[1.0], [-2.0]])  # with a = 1: fakes 1, -2


def test_d_update_takes_a_step_down_the_bce_loss_and_leaves_g_alone():
    g, d = ScaleG(), LinearD()
    stats, fake = d_update(g, d, sgd(d), Batch(REAL, Z), StepConfig())
    # logits: real 1, 2; fake 1, -2
    loss = (softplus(-1) + softplus(-2)) / 2 + (softplus(1) + softplus(-2)) / 2
    expected = [loss, (sigmoid(1) + sigmoid(2)) / 2, (sigmoid(1) + sigmoid(-2)) / 2]
    assert stats.tolist() == pytest.approx(expected, rel=1e-6)
    # dL/dw = mean(-r sigmoid(-w r)) + mean(f sigmoid(w f)), at w = 1
    grad = (-1 * sigmoid(-1) - 2 * sigmoid(-2)) / 2 + (1 * sigmoid(1) - 2 * sigmoid(-2)) / 2
    assert d.w.item() == pytest.approx(1 - 0.1 * grad, rel=1e-6)
    assert g.a.grad is None and g.a.item() == 1.0
    assert fake.flatten().tolist() == [1.0, -2.0] and fake.requires_grad  # G's graph, kept
    assert d.calls == [(4, None)]  # real and fake in one pass: D has no batch norm


def test_d_with_batch_norm_scores_real_and_fake_apart():
    d = LinearD(batch_norm=True)
    stats, _ = d_update(ScaleG(), d, sgd(d), Batch(REAL, Z), StepConfig())
    assert [n for n, _ in d.calls] == [2, 2]
    plain = LinearD()
    assert torch.allclose(
        stats, d_update(ScaleG(), plain, sgd(plain), Batch(REAL, Z), StepConfig())[0]
    )


def test_supervised_d_adds_the_cross_entropy_of_the_real_digits_only():
    d, y = LinearD(supervised=True), torch.tensor([0, 1])
    stats, _ = d_update(ScaleG(), d, sgd(d), Batch(REAL, Z, real_y=y), StepConfig())
    bce = (softplus(-1) + softplus(-2)) / 2 + (softplus(1) + softplus(-2)) / 2
    # digit logits of the real images: (1, -1) and (2, -2); their digits 0 and 1
    ce = (softplus(-2) + softplus(4)) / 2  # -log softmax: log(1 + e^(-2s)) for the right one
    assert stats[0].item() == pytest.approx(bce + ce, rel=1e-6)
    assert d.calls == [(4, None)]  # an unconditional D gets no labels


def test_conditional_d_sees_the_labels_of_real_and_fake_images():
    d, y, fy = LinearD(), torch.tensor([3, 4]), torch.tensor([5, 6])
    d_update(ScaleG(), d, sgd(d), Batch(REAL, Z, real_y=y, fake_y=fy), StepConfig())
    assert d.calls[0][1].tolist() == [3, 4, 5, 6]
    d = LinearD(batch_norm=True)
    d_update(ScaleG(), d, sgd(d), Batch(REAL, Z, real_y=y, fake_y=fy), StepConfig())
    assert [c[1].tolist() for c in d.calls] == [[3, 4], [5, 6]]


def test_wgan_gp_d_loss_adds_the_weighted_penalty():
    d = LinearD(w=2.0)  # gradient norm 2 everywhere: penalty (2 - 1)^2 = 1
    b = Batch(REAL, Z, eps=torch.full((2, 1, 1, 1), 0.5))
    stats, _ = d_update(ScaleG(), d, sgd(d), b, StepConfig(loss="wgan-gp", gp_weight=3.0))
    # critic: real 2, 4; fake 2, -4: E[fake] - E[real] = -1 - 3 = -4
    assert stats[0].item() == pytest.approx(-4 + 3.0 * 1, rel=1e-6)
    # dL/dw = E[f] - E[r] + 3 * 2 (w - 1) = -0.5 - 1.5 + 6
    assert d.w.item() == pytest.approx(2 - 0.1 * 4.0, rel=1e-6)


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_g_update_moves_g_to_raise_d_score_of_its_fakes_and_leaves_d_alone(loss):
    g, d = ScaleG(), LinearD(w=0.5)
    z = torch.tensor([[1.0], [2.0]])
    fake = g(z)
    before = d(fake).mean().item()
    g_loss = g_update(d, sgd(g), fake, Batch(REAL, z), StepConfig(loss=loss))
    expected = {"bce": (softplus(-0.5) + softplus(-1)) / 2, "hinge": -0.75, "wgan-gp": -0.75}
    assert g_loss.item() == pytest.approx(expected[loss], rel=1e-6)
    assert g.a.item() > 1.0 and d(g(z)).mean().item() > before
    assert d.w.grad is None and d.w.requires_grad  # no grads for D, and D trainable again


def test_g_update_class_balance_term_moves_g_towards_the_missing_digit():
    g, d = ScaleG(), LinearD(w=0.0, supervised=True)  # realness 0: only the term moves G
    z = torch.tensor([[1.0], [2.0]])  # D reads both fakes as digit 0 (logits s, -s, s > 0)
    prior = torch.tensor([0.5, 0.5])
    before = class_balance(d(g(z), with_classes=True)[1], prior).item()
    config = StepConfig(balance=2.0, prior=prior)
    g_loss = g_update(d, sgd(g), g(z), Batch(REAL, z), config)
    assert g_loss.item() == pytest.approx(softplus(0) + 2.0 * before, rel=1e-6)
    assert g.a.item() < 1.0  # smaller s: closer to an even split of 0 and 1
    assert class_balance(d(g(z), with_classes=True)[1], prior).item() < before
    off = ScaleG()
    assert g_update(d, sgd(off), off(z), Batch(REAL, z), replace(config, balance=0.0)).item() == (
        pytest.approx(softplus(0))
    )
    assert off.a.item() == 1.0
    plain, g_plain = LinearD(w=0.0), ScaleG()  # a D without digits: no term
    assert g_update(plain, sgd(g_plain), g_plain(z), Batch(REAL, z), config).item() == (
        pytest.approx(softplus(0))
    )


def test_g_update_digit_term_moves_g_towards_the_requested_digit():
    g, d = ScaleG(), LinearD(w=0.0, supervised=True)
    z = torch.tensor([[1.0], [2.0]])  # read as digit 0; drawn as digit 1
    y = torch.tensor([1, 1])
    config = StepConfig(digit_loss=0.5)
    g_loss = g_update(d, sgd(g), g(z), Batch(REAL, z, fake_y=y), config)
    ce = (softplus(2) + softplus(4)) / 2  # -log softmax(s, -s)[1] = log(1 + e^(2s))
    assert g_loss.item() == pytest.approx(softplus(0) + 0.5 * ce, rel=1e-6)
    assert g.a.item() < 1.0  # s falls: towards digit 1
    unconditional = ScaleG()
    g_loss = g_update(d, sgd(unconditional), unconditional(z), Batch(REAL, z), config)
    assert g_loss.item() == pytest.approx(softplus(0)) and unconditional.a.item() == 1.0


def test_gan_step_updates_d_on_each_batch_then_g_on_the_last_fakes():
    g, d = ScaleG(), LinearD()
    b1, b2 = Batch(REAL, Z), Batch(REAL * 2, torch.tensor([[3.0], [1.0]]))
    g2, d2 = copy.deepcopy(g), copy.deepcopy(d)
    opt_g2, opt_d2 = sgd(g2), sgd(d2)
    s1, _ = d_update(g2, d2, opt_d2, b1, StepConfig())
    s2, fake = d_update(g2, d2, opt_d2, b2, StepConfig())
    g_loss = g_update(d2, opt_g2, fake, b2, StepConfig())
    out = training.gan_step(g, d, sgd(g), sgd(d), [b1, b2], StepConfig())
    mean = (s1 + s2) / 2
    torch.testing.assert_close(out, torch.stack([mean[0], g_loss, mean[1], mean[2]]))
    assert d.w.item() == d2.w.item() and g.a.item() == g2.a.item()
    assert training.COLUMNS[2:] == ["d_loss", "g_loss", "d_real", "d_fake"]


def test_draw_batches_slices_the_order_and_draws_noise_in_a_fixed_order():
    data = torch.arange(8.0).view(8, 1, 1, 1)
    labels = torch.arange(8) + 10
    order = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    train = replace(SMALL.train, batch_size=2, d_steps=2, loss="wgan-gp")
    model = replace(SMALL.model, z_dim=3, conditional=True)
    batches = training.draw_batches(
        data, labels, order, 1, train, model, torch.Generator().manual_seed(5)
    )
    rng = torch.Generator().manual_seed(5)
    draws = [
        (torch.randn(2, 3, generator=rng), torch.rand(2, 1, 1, 1, generator=rng)) for _ in "ab"
    ]
    assert [b.real.flatten().tolist() for b in batches] == [[3.0, 2.0], [1.0, 0.0]]
    assert [b.real_y.tolist() for b in batches] == [[13, 12], [11, 10]]
    assert all(b.fake_y is b.real_y for b in batches)
    for b, (z, eps) in zip(batches, draws, strict=True):
        assert torch.equal(b.z, z) and torch.equal(b.eps, eps)
    # one process's rows: the same draws, sliced
    part = training.draw_batches(
        data, labels, order, 1, train, model, torch.Generator().manual_seed(5), slice(1, 2)
    )
    assert [b.real.flatten().tolist() for b in part] == [[2.0], [0.0]]
    assert torch.equal(part[1].z, draws[1][0][1:]) and torch.equal(part[1].eps, draws[1][1][1:])


def test_draw_batches_of_an_unconditional_bce_model_draw_only_noise():
    train = replace(SMALL.train, batch_size=2, d_steps=1, loss="bce")
    model = replace(SMALL.model, z_dim=3, conditional=False)
    rng = torch.Generator().manual_seed(5)
    (b,) = training.draw_batches(
        torch.zeros(4, 1, 1, 1), torch.arange(4), torch.arange(4), 0, train, model, rng
    )
    assert b.real_y.tolist() == [0, 1] and b.fake_y is None and b.eps is None
    assert torch.equal(b.z, torch.randn(2, 3, generator=torch.Generator().manual_seed(5)))
    (b,) = training.draw_batches(
        torch.zeros(4, 1, 1, 1), None, torch.arange(4), 1, train, model, rng
    )
    assert b.real_y is None


def test_schedule_lrs_scales_both_rates():
    g, d = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    nets = SimpleNamespace(opt_g=sgd(g), opt_d=sgd(d))
    train = replace(SMALL.train, lr_g=0.4, lr_d=0.2, lr_decay=0.5)
    training.schedule_lrs(nets, train, 8, 10)  # 2 of the last 5 steps left: 0.4
    assert nets.opt_g.param_groups[0]["lr"] == pytest.approx(0.16)
    assert nets.opt_d.param_groups[0]["lr"] == pytest.approx(0.08)
    training.schedule_lrs(nets, train, 4, 10)
    assert (nets.opt_g.param_groups[0]["lr"], nets.opt_d.param_groups[0]["lr"]) == (0.4, 0.2)


def test_lr_scale_at_the_start_of_the_decay():
    assert training.lr_scale(5, 10, 0.5) == 1.0 and training.lr_scale(6, 10, 0.5) == 0.8
    assert training.lr_scale(0, 4, 1.0) == 1.0 and training.lr_scale(2, 3, 0.0) == 1.0


def test_step_config_takes_the_train_keys():
    train = replace(SMALL.train, loss="hinge", gp_weight=3.0, balance=2.0, digit_loss=0.5)
    prior = torch.tensor([0.5, 0.5])
    config = training.step_config(train, prior)
    assert (config.loss, config.gp_weight, config.balance, config.digit_loss) == (
        "hinge", 3.0, 2.0, 0.5,
    )  # fmt: skip
    assert config.prior is prior


def test_mean_of_averages_the_summed_stats_and_zeroes_the_sum():
    total = torch.tensor([4.0, 4.0, 5.0, 8.0], dtype=torch.float64)
    assert training.mean_of(total, 2, distributed.ALONE) == [2.0, 2.0, 2.5, 4.0]
    assert total.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_noise_is_drawn_on_the_generators_device_then_moved_to_the_datas():
    """An Apple GPU's run draws on the CPU generator (device.generator_device): the draws
    must not follow torch's default device, and must land where the data is."""
    train = replace(SMALL.train, batch_size=2, d_steps=1, loss="wgan-gp")
    model = replace(SMALL.model, z_dim=3, conditional=False)
    expected = torch.Generator().manual_seed(5)
    z, eps = torch.randn(2, 3, generator=expected), torch.rand(2, 1, 1, 1, generator=expected)
    data = torch.zeros(4, 1, 1, 1)
    with torch.device("meta"):  # the default device: not where anything should be drawn
        (b,) = training.draw_batches(
            data, None, torch.arange(4), 0, train, model, torch.Generator().manual_seed(5)
        )
    assert torch.equal(b.z, z) and torch.equal(b.eps, eps)
    (b,) = training.draw_batches(
        data.to("meta"), None, torch.arange(4), 0, train, model, torch.Generator().manual_seed(5)
    )
    assert b.z.device.type == "meta" and b.eps.device.type == "meta"


def test_step_config_keeps_the_autocast_maker():
    def cast():
        return contextlib.nullcontext()

    assert training.step_config(SMALL.train, None, cast).autocast is cast


class PlainD(torch.nn.Module):
    """A D as a third party writes one: no `supervised` flag, no digit head."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(1.0))

    def forward(self, x, y=None):
        return self.w * x.flatten(1).sum(1)


def test_a_d_without_a_supervised_flag_is_a_plain_one():
    g, d = ScaleG(), PlainD()
    stats, fake = d_update(g, d, sgd(d), Batch(REAL, Z), StepConfig(balance=1.0))
    plain = LinearD()
    torch.testing.assert_close(
        stats, d_update(ScaleG(), plain, sgd(plain), Batch(REAL, Z), StepConfig())[0]
    )
    g_loss = g_update(d, sgd(g), fake, Batch(REAL, Z), StepConfig(balance=1.0, digit_loss=1.0))
    assert g_loss.item() == pytest.approx((softplus(-d.w.item()) + softplus(2 * d.w.item())) / 2)
    logits, classes = training.scores(d, REAL, None, supervised=False)
    assert classes is None and logits.tolist() == d(REAL).tolist()


def test_under_ddp_the_penalty_and_g_update_call_the_module_itself():
    d = PlainD()
    assert distributed.unwrapped(SimpleNamespace(module=d)) is d and distributed.unwrapped(d) is d


def test_a_balance_weight_below_one_counts_too():
    g, d = ScaleG(), LinearD(w=0.0, supervised=True)
    z, prior = torch.tensor([[1.0], [2.0]]), torch.tensor([0.5, 0.5])
    term = class_balance(d(g(z), with_classes=True)[1], prior).item()
    g_loss = g_update(d, sgd(g), g(z), Batch(REAL, z), StepConfig(balance=0.5, prior=prior))
    assert g_loss.item() == pytest.approx(softplus(0) + 0.5 * term, rel=1e-6)
