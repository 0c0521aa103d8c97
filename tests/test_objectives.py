"""Objectives, spectral norm, conditional models and the generator EMA, on tiny random data."""

import math
from dataclasses import replace

import pytest
import torch
from conftest import SMALL

from mnistgan.core import params
from mnistgan.core.errors import UserError
from mnistgan.gan import training
from mnistgan.gan.ema import update_ema, warmed_decay
from mnistgan.gan.interpolation import STEPS, digit_rows, latent_rows, slerp
from mnistgan.gan.models import BATCH_NORMS, build
from mnistgan.gan.objectives import class_balance, d_loss, g_loss, gradient_penalty
from mnistgan.gan.sampling import digit_frequencies, prior_labels

P = SMALL
MODEL = replace(P.model, features=4, d_features=4, z_dim=16)
# constant rates, as in test_training: a shorter run stands in for a killed one below
TRAIN = replace(P.train, epochs=1, batch_size=16, log_every=1, device="cpu", lr_decay=0.0)


def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
    return images, torch.randint(0, 10, (n,), generator=g)


@pytest.mark.slow  # six training runs
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize(
    "loss,d_norm,sn",
    [("bce", "batch", False), ("hinge", "batch", True), ("wgan-gp", "layer", False)],
)
def test_each_objective_trains_without_nan(tmp_path, arch, loss, d_norm, sn):
    model = replace(MODEL, arch=arch, d_norm=d_norm, spectral_norm=sn, conditional=True)
    train = replace(TRAIN, loss=loss, d_steps=2 if loss == "wgan-gp" else 1)
    x, y = data()
    result = training.train(x, model, train, tmp_path / "c.pt", y)
    assert len(result.history.rows) == 4 // train.d_steps  # 64 / (16 x d_steps) steps, all logged
    assert all(torch.isfinite(torch.tensor(r)).all() for r in result.history.rows)
    assert result.images_seen == 64


def test_wgan_gp_with_batchnorm_critic_is_refused():
    raw = {k: vars(v).copy() for k, v in vars(P).items()}
    raw["train"]["loss"] = "wgan-gp"
    with pytest.raises(UserError, match=r"^train\.loss: wgan-gp needs .*model\.d_norm"):
        params.parse(raw)
    raw["model"]["d_norm"] = "layer"
    assert params.parse(raw).train.loss == "wgan-gp"


def test_gradient_penalty_of_a_unit_slope_critic_is_zero():
    w = torch.zeros(1, 1, 28, 28)
    w[0, 0, 0, 0] = 1.0  # D(x) = x[0, 0, 0]: gradient norm exactly 1 everywhere
    d = lambda x, y: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    assert gradient_penalty(d, real, fake, None, torch.rand(4, 1, 1, 1)).item() == 0.0
    d2 = lambda x, y: 3 * (x * w).flatten(1).sum(1)  # noqa: E731
    assert gradient_penalty(d2, real, fake, None, torch.rand(4, 1, 1, 1)).item() == 4.0


def test_conditional_generator_scales_and_shifts_every_batch_norm_per_digit():
    g, _ = build(replace(MODEL, conditional=True), 0)
    g.eval()
    norms = [m.num_features for m in g.body if isinstance(m, BATCH_NORMS)]
    assert [f.out_features for f in g.films] == [2 * c for c in norms]
    z, y = torch.randn(4, MODEL.z_dim), torch.tensor([0, 3, 3, 9])
    for f in g.films:  # no modulation: the label enters only beside z
        torch.nn.init.zeros_(f.weight), torch.nn.init.zeros_(f.bias)
    plain = g.body(torch.cat([g.mixture(z), g.embed(y)], 1))
    torch.testing.assert_close(g(z, y), plain)
    torch.nn.init.normal_(g.films[-1].weight)
    assert not torch.allclose(g(z, y), plain)


def test_prior_labels_draw_each_digit_as_often_as_the_training_data():
    train = torch.tensor([0] * 50 + [1] * 30 + [7] * 20)
    prior = digit_frequencies(train)
    torch.testing.assert_close(prior, torch.tensor([0.5, 0.3] + [0.0] * 5 + [0.2, 0.0, 0.0]))
    y = prior_labels(prior, 7, seed=0)  # exact 3.5, 2.1, 1.4: the largest remainder rounds up
    assert torch.bincount(y, minlength=10)[[0, 1, 7]].tolist() == [4, 2, 1]
    assert torch.equal(y, prior_labels(prior, 7, seed=0))
    y = prior_labels(prior, 1000, seed=1)
    assert torch.bincount(y, minlength=10)[[0, 1, 7]].tolist() == [500, 300, 200]
    assert not torch.equal(y, y.sort().values)  # shuffled: any first k are a fair draw


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_generator_honours_labels(arch, tmp_path):
    g, d = build(replace(MODEL, arch=arch, conditional=True), 0)
    g.eval()
    z = torch.randn(6, MODEL.z_dim)
    y = torch.tensor([0, 1, 2, 7, 7, 9])
    out = g(z, y)
    assert out.shape == (6, 1, 28, 28) and out.dtype == torch.float32
    assert d(out, y).shape == (6,)
    same_z = g(z[:1].repeat(10, 1), torch.arange(10))
    assert not torch.equal(same_z[0], same_z[1])  # the label changes the image
    one_hot = torch.nn.functional.one_hot(y, 10).float()
    torch.testing.assert_close(g(z, one_hot), out)  # class weights = labels at the corners
    with pytest.raises(ValueError, match="needs labels"):
        g(z)
    with pytest.raises(UserError, match="needs the labels"):
        training.train(data()[0], replace(MODEL, conditional=True), TRAIN, tmp_path / "c.pt")


def test_ema_differs_from_raw_after_a_step_and_equals_it_with_decay_0(tmp_path):
    x, y = data()
    smooth = training.train(x, MODEL, replace(TRAIN, ema=0.9), tmp_path / "a.pt", y)
    raw, ema = smooth.generator.state_dict(), smooth.generator_ema.state_dict()
    assert any(not torch.equal(raw[k], ema[k]) for k in raw if raw[k].is_floating_point())

    copy = training.train(x, MODEL, replace(TRAIN, ema=0.0), tmp_path / "b.pt", y)
    raw, ema = copy.generator.state_dict(), copy.generator_ema.state_dict()
    assert all(torch.equal(raw[k], ema[k]) for k in raw)
    off = training.train(x, MODEL, replace(TRAIN, ema=None), tmp_path / "c.pt", y)
    assert off.generator_ema is None


def test_update_ema_is_the_moving_average():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    expect = 0.75 * a.weight.detach() + 0.25 * b.weight.detach()
    update_ema(a, b, 0.75)
    torch.testing.assert_close(a.weight.detach(), expect)


def test_ema_warm_up_follows_the_model_early_and_caps_at_the_decay():
    assert warmed_decay(0.999, 0) == pytest.approx(0.1)
    assert warmed_decay(0.999, 90) == pytest.approx(0.91)
    assert warmed_decay(0.999, 100_000) == 0.999
    # 100 steps of a model that moved from 0 to 1 at step 0: without warm-up the average holds
    # 0.999^100 = 90% of the old weights; with it, under 1%
    ema, model = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    torch.nn.init.zeros_(ema.weight)
    torch.nn.init.ones_(model.weight)
    for step in range(100):
        update_ema(ema, model, warmed_decay(0.999, step))
    assert ema.weight.item() > 0.99


def test_resume_is_identical_with_ema_conditional_wgan_gp_and_spectral_norm(tmp_path):
    model = replace(MODEL, conditional=True, spectral_norm=True, d_norm="none")
    train = replace(TRAIN, epochs=2, ema=0.9, loss="wgan-gp", d_steps=2)
    x, y = data()
    straight = training.train(x, model, train, tmp_path / "a.pt", y)
    training.train(x, model, replace(train, epochs=1), tmp_path / "b.pt", y)
    resumed = training.train(x, model, train, tmp_path / "b.pt", y)
    assert resumed.images_seen == 64  # only epoch 2 ran
    assert straight.history.rows == resumed.history.rows
    grids = zip(straight.history.grids, resumed.history.grids, strict=True)
    assert all(torch.equal(a, b) for a, b in grids)
    for name in ("generator", "generator_ema", "discriminator"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_other_labels_make_the_checkpoint_stale(tmp_path, capsys):
    model = replace(MODEL, conditional=True)
    x, y = data()
    training.train(x, model, TRAIN, tmp_path / "a.pt", y)
    training.train(x, model, replace(TRAIN, epochs=2), tmp_path / "a.pt", (y + 1) % 10)
    assert "ignoring" in capsys.readouterr().err


def test_interpolations_shapes_and_end_points():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path[:, 0], a)
    torch.testing.assert_close(path[:, -1], b)
    g, _ = build(replace(MODEL, conditional=True), 0)
    assert latent_rows(g, MODEL.z_dim, 4, 0).shape == (4 * STEPS, 1, 28, 28)
    rows = digit_rows(g, MODEL.z_dim, 3, 0)
    assert rows.shape == (3 * STEPS, 1, 28, 28) and rows.dtype == torch.uint8


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


REAL, FAKE = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 3.0])  # D's logits


@pytest.mark.parametrize(
    ("kind", "d_expected", "g_expected"),
    [
        # -log sigmoid(r) = softplus(-r), -log(1 - sigmoid(f)) = softplus(f), means over images
        ("bce", (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(3)) / 2,
         (softplus(1) + softplus(-3)) / 2),
        # relu(1 - r): 0, 1; relu(1 + f): 0, 4
        ("hinge", 0.5 + 2.0, -1.0),
        # E[D(fake)] - E[D(real)] = 1 - 1
        ("wgan-gp", 0.0, -1.0),
    ],
)  # fmt: skip
def test_losses_equal_their_hand_computed_values(kind, d_expected, g_expected):
    assert d_loss(kind, REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert g_loss(kind, FAKE).item() == pytest.approx(g_expected, rel=1e-6)


@pytest.mark.parametrize("kind", ["bce", "hinge", "wgan-gp"])
def test_d_loss_falls_as_d_scores_real_higher_and_fake_lower_g_loss_as_fakes_score_higher(kind):
    real, fake = torch.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    d_loss(kind, real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake = torch.zeros(3, requires_grad=True)
    g_loss(kind, fake).backward()
    assert (fake.grad < 0).all()
    # at zero logits: bce's slope is sigmoid(0) / 3 = 1/6 per image, the others' 1/3
    slope = 1 / 6 if kind == "bce" else 1 / 3
    torch.testing.assert_close(fake.grad, torch.full((3,), -slope))


def test_hinge_d_loss_ignores_logits_past_the_margin():
    real, fake = torch.tensor([1.5], requires_grad=True), torch.tensor([-1.5], requires_grad=True)
    loss = d_loss("hinge", real, fake)
    loss.backward()
    assert loss.item() == 0.0 and real.grad.item() == 0.0 and fake.grad.item() == 0.0


def test_unknown_loss_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"^unknown loss 'lsgan'$"):
        d_loss("lsgan", REAL, FAKE)
    with pytest.raises(ValueError, match=r"^unknown loss 'lsgan'$"):
        g_loss("lsgan", FAKE)


class SquareCritic(torch.nn.Module):
    """D(x) = w ||x||^2 / 2: its gradient w x has norm w ||x||, so the penalty is known."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.labels = []

    def forward(self, x, y):
        self.labels.append(y)
        return self.w * x.square().flatten(1).sum(1) / 2


def test_gradient_penalty_is_the_mean_squared_distance_of_the_gradient_norm_from_one():
    real = torch.tensor([[6.0, 8.0], [4.0, 0.0]]).view(2, 1, 1, 2)
    fake = torch.tensor([[0.0, 0.0], [2.0, 0.0]]).view(2, 1, 1, 2).requires_grad_(True)
    eps = torch.tensor([0.5, 0.75]).view(2, 1, 1, 1)
    d, y = SquareCritic(), torch.tensor([3, 4])
    gp = gradient_penalty(d, real, fake, y, eps)
    # x = (3, 4) and (3 + 0.5, 0): gradient norms 5 and 3.5, so ((5 - 1)^2 + (3.5 - 1)^2) / 2
    assert gp.item() == pytest.approx((16 + 6.25) / 2)
    assert d.labels == [y]
    gp.backward()  # the penalty trains D: d/dw (w n - 1)^2 = 2 (w n - 1) n, at w = 1
    assert d.w.grad.item() == pytest.approx((2 * 4 * 5 + 2 * 2.5 * 3.5) / 2)
    assert fake.grad is None  # G gets nothing from D's penalty


def test_class_balance_is_the_kl_of_the_batch_digit_shares_from_the_prior():
    classes = torch.tensor([[0.0, 0.0], [math.log(3), 0.0]])  # softmax: (1/2, 1/2), (3/4, 1/4)
    prior = torch.tensor([0.5, 0.5])
    p = (0.625, 0.375)  # the batch's mean shares
    expected = p[0] * math.log(p[0] / 0.5) + p[1] * math.log(p[1] / 0.5)
    assert class_balance(classes, prior).item() == pytest.approx(expected, rel=1e-6)
    assert class_balance(classes, torch.tensor([0.625, 0.375])).item() == pytest.approx(0, abs=1e-7)
    # per-image KL would not vanish: each image is confident, the batch is balanced
    balanced = torch.tensor([[5.0, -5.0], [-5.0, 5.0]])
    assert class_balance(balanced, prior).item() == pytest.approx(0, abs=1e-7)


def test_class_balance_pushes_the_batch_towards_the_missing_digit():
    classes = torch.tensor([[2.0, 0.0], [2.0, 0.0]], requires_grad=True)  # all read as digit 0
    class_balance(classes, torch.tensor([0.5, 0.5])).backward()
    assert (classes.grad[:, 0] > 0).all() and (classes.grad[:, 1] < 0).all()


def test_update_ema_averages_float_buffers_and_copies_integer_ones():
    ema, net = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    net.running_mean.fill_(4.0)
    net.num_batches_tracked.fill_(7)
    update_ema(ema, net, 0.75)
    assert ema.running_mean.tolist() == [1.0, 1.0]  # 0.75 * 0 + 0.25 * 4
    assert ema.running_var.tolist() == [1.0, 1.0]  # both 1
    assert ema.num_batches_tracked.item() == 7
    update_ema(ema, net, 0.0)
    ema_state, net_state = ema.state_dict(), net.state_dict()
    assert all(torch.equal(ema_state[k], net_state[k]) for k in net_state)


def test_update_ema_refuses_a_net_of_another_layout():
    with pytest.raises(ValueError):  # not a silent average of the first tensors of each
        update_ema(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2), 0.5)
