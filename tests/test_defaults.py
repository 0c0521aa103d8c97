"""The shipped params.yaml, as last committed: it parses, and its model trains a step at its own
shapes. Guards the defaults chosen by the quality study (docs/studies/2026-11-25-quality.md)
without training for minutes; a user's edit of their own params.yaml, which the README
invites, changes no shipped default and fails nothing here. Then the model features those
defaults turn on, each on the tests' own small params."""

import base64
import re
import subprocess
from dataclasses import replace

import pytest
import torch
from conftest import REPO, SMALL, small_raw

from mnistgan.core import device, params
from mnistgan.core.errors import UserError
from mnistgan.core.params import ModelParams, TrainParams
from mnistgan.explorer import export
from mnistgan.gan import models, sampling, training

P, RAW = SMALL, small_raw()


@pytest.fixture(scope="module")
def shipped() -> params.Params:
    """The committed params.yaml (the file itself outside a git checkout), read by the first
    two tests alone."""
    git = ["git", "show", "HEAD:params.yaml"]
    shown = subprocess.run(git, cwd=REPO, capture_output=True, text=True, timeout=60)
    text = shown.stdout if shown.returncode == 0 else (REPO / "params.yaml").read_text()
    return params.parse(params.read_yaml_12(text))


def one_step(model: ModelParams, train: TrainParams) -> tuple[list[float], torch.nn.Module]:
    """One gan_step of the default nets on a batch of the default size, with the default's
    autocast and G loss terms; stats and D."""
    torch.manual_seed(0)
    nets = training.build_nets(model, train, torch.device("cpu"))
    n = train.batch_size * train.d_steps
    data = torch.rand(n, 1, 28, 28) * 2 - 1
    labels = torch.arange(n) % 10
    batches = training.draw_batches(
        data, labels, torch.arange(n), 0, train, model, torch.Generator().manual_seed(0)
    )
    cast = device.precision(train.amp, torch.device("cpu"))
    config = training.step_config(train, torch.full((10,), 0.1), cast)
    stats = training.gan_step(nets.g, nets.d, nets.opt_g, nets.opt_d, batches, config)
    return stats.tolist(), nets.d


def test_params_yaml_parses_and_is_the_studied_default(shipped):
    m, t = shipped.model, shipped.train
    assert m.arch == "dcgan" and not m.conditional
    assert m.supervised_d and m.g_refine == 1 and m.mixture == 10
    assert not m.g_taper  # f channels at 28x28: the conditional model needs them
    assert t.ema is not None and t.lr_decay > 0 and t.amp == "auto"
    assert t.digit_loss > 0  # holds a conditional G to its digit
    assert m.features == 32 and m.d_features == 32  # G 48 paid, but not in time
    assert shipped.sample.temperature == sampling.TEMPERATURE  # what generate draws at


@pytest.mark.parametrize("conditional", [False, True])
def test_default_model_trains_a_step_at_default_shapes(shipped, conditional):
    model = replace(shipped.model, conditional=conditional)
    stats, d = one_step(model, shipped.train)
    assert all(map(torch.isfinite, torch.tensor(stats)))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
    g = models.build_generator(model).eval()
    y = torch.arange(4) if conditional else None
    assert g(torch.randn(4, model.z_dim), y).shape == (4, 1, 28, 28)


@pytest.mark.parametrize("conditional", [False, True])
def test_default_explorer_page_is_at_most_3_mb_and_the_same_bytes_each_time(shipped, conditional):
    """An untrained G of the default's shape: the page's size is its weights'."""
    torch.manual_seed(0)
    g = models.build_generator(replace(shipped.model, conditional=conditional)).eval()
    template = (REPO / "explorer/page.in.html").read_text(encoding="utf-8")
    html = export.page(g, template, shipped.sample.temperature)
    assert len(html.encode()) <= 3_000_000
    assert export.page(g, template, shipped.sample.temperature) == html
    blob = base64.b64decode(re.search(r'id="weights">(.*?)</script>', html, re.S)[1])
    floats = sum(p.numel() for p in g.parameters())  # folding leaves 1 of a norm's 2 per channel
    norms = sum(m.num_features for m in g.modules() if isinstance(m, models.BATCH_NORMS))
    assert len(blob) == 4 * (floats - norms)


def test_supervised_d_scores_realness_as_logsumexp_of_digit_logits():
    d = models.build_discriminator(replace(P.model, features=4, d_features=4)).eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    logit, classes = d(x, with_classes=True)
    assert classes.shape == (5, 10)
    torch.testing.assert_close(logit, classes.logsumexp(1))
    torch.testing.assert_close(d(x), logit)


def test_supervised_d_learns_the_digits_of_real_images():
    """The cross-entropy term trains D's digit head: after a few steps on two digits that
    differ in every pixel, D tells them apart."""
    model, train = (
        replace(P.model, features=4, d_features=4),
        replace(P.train, batch_size=32, lr_d=0.01),
    )
    nets = training.build_nets(model, train, torch.device("cpu"))
    labels = torch.arange(32) % 2
    data = torch.where(labels.view(-1, 1, 1, 1) == 0, -1.0, 1.0).expand(32, 1, 28, 28)
    for step in range(20):
        batches = training.draw_batches(
            data, labels, torch.arange(32), 0, train, model, torch.Generator().manual_seed(step)
        )
        training.gan_step(nets.g, nets.d, nets.opt_g, nets.opt_d, batches, training.StepConfig())
    nets.d.eval()
    _, classes = nets.d(data.contiguous(), with_classes=True)
    assert torch.equal(classes[:, :2].argmax(1), labels)


def test_supervised_d_needs_labels(tmp_path):
    with pytest.raises(UserError, match="model.supervised_d: true needs the labels"):
        training.train(
            torch.zeros(64, 1, 28, 28, dtype=torch.uint8),
            replace(P.model, features=4, d_features=4),
            replace(P.train, epochs=1, batch_size=32),
            tmp_path / "c.pt",
        )


@pytest.mark.parametrize("taper", [True, False])
@pytest.mark.parametrize("refine", [0, 1, 2])
def test_g_refine_draws_pixels_with_3x3_convs_at_full_resolution(refine, taper):
    model = replace(P.model, features=4, d_features=4, g_refine=refine, g_taper=taper)
    g = models.build_generator(model).eval()
    assert g(torch.randn(3, P.model.z_dim)).shape == (3, 1, 28, 28)
    convs = [m for m in g.modules() if type(m) is torch.nn.Conv2d]
    assert [m.kernel_size for m in convs] == [(3, 3)] * refine
    width = 2 if taper else 4  # channels at 28x28: f/2, or f as the 40-epoch recipe's G
    assert [m.out_channels for m in convs] == [width] * (refine - 1) + [1] * (refine > 0)
    assert [m.in_channels for m in convs] == [width] * refine


def test_mixture_latent_picks_uniform_components_as_one_hot_codes():
    mix = models.MixtureLatent(10, scale=3.0)
    z = torch.randn(20_000, P.model.z_dim, generator=torch.Generator().manual_seed(0))
    out = mix(z)
    assert out.shape == z.shape
    code, rest = out[:, :10], out[:, 10:]
    assert torch.equal(rest, z[:, 10:])
    assert torch.equal(code.sum(1), torch.full((len(z),), 3.0))
    share = code.argmax(1).bincount(minlength=10) / len(z)
    assert share.min() > 0.09 and share.max() < 0.11  # argmax of iid normals: uniform


def test_mixture_generator_sees_only_the_component_of_the_first_dims():
    g = models.build_generator(replace(P.model, features=4, d_features=4, mixture=10)).eval()
    z = torch.randn(4, P.model.z_dim)
    same_component = z.clone()
    same_component[:, :10] *= 2  # the argmax, hence the component, is unchanged
    with torch.no_grad():
        torch.testing.assert_close(g(z), g(same_component))
        assert g(z).shape == (4, 1, 28, 28)


def test_mixture_must_leave_gaussian_dims():
    with pytest.raises(UserError, match="model.mixture: got 100"):
        params.parse({**RAW, "model": {**RAW["model"], "mixture": 100}})


def test_digit_loss_adds_the_cross_entropy_of_the_digit_d_reads_in_the_fakes():
    """G's loss with digit_loss w is its loss without, plus w x the cross-entropy between the
    supervised D's digit logits on the fakes (D as updated by the step) and their labels."""
    model = replace(P.model, features=4, d_features=4, conditional=True)
    train = replace(P.train, batch_size=16)
    g_losses, ds = [], []
    for weight in (0.0, 2.0):
        nets = training.build_nets(model, train, torch.device("cpu"))
        data, labels = torch.rand(16, 1, 28, 28) * 2 - 1, torch.arange(16) % 10
        batches = training.draw_batches(
            data, labels, torch.arange(16), 0, train, model, torch.Generator().manual_seed(0)
        )
        config = training.StepConfig(digit_loss=weight)
        stats = training.gan_step(nets.g, nets.d, nets.opt_g, nets.opt_d, batches, config)
        g_losses.append(stats[1])
        ds.append(nets.d)
    g, _ = models.build(model, train.seed)  # G before its update: it drew the fakes
    g = device.place_net(g, torch.device("cpu"))
    b = batches[0]
    with torch.no_grad():
        _, classes = ds[1](g(b.z, b.fake_y), b.fake_y, with_classes=True)
    ce = torch.nn.functional.cross_entropy(classes, b.fake_y)
    torch.testing.assert_close(g_losses[1] - g_losses[0], 2.0 * ce)


def test_digit_loss_needs_a_supervised_d():
    raw = {**RAW, "train": {**RAW["train"], "digit_loss": 1.0}}
    assert params.parse(raw).train.digit_loss == 1.0  # unconditional: no labels, no effect
    raw["model"] = {**RAW["model"], "supervised_d": False, "conditional": True}
    raw["train"]["balance"] = 0
    with pytest.raises(UserError, match=r"^train\.digit_loss: got 1\.0, but it scores"):
        params.parse(raw)
