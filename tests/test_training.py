"""Training resumes from its per-epoch checkpoint exactly, and stops cleanly on NaN."""

from dataclasses import replace

import pytest
import torch
from conftest import SMALL, images

from mnistgan.core import params, progress
from mnistgan.core.errors import UserError
from mnistgan.gan import models, resume, training

P = SMALL
MODEL = replace(P.model, features=4, d_features=4)
# Constant rates: the tests below "kill" a run by training it for fewer epochs, and with
# lr_decay the epoch count is part of the fingerprint (the lr_decay test kills it for real)
TRAIN = replace(P.train, epochs=2, batch_size=16, log_every=1, device="cpu", lr_decay=0.0)


def digits(n: int = 64) -> torch.Tensor:
    """Labels for images(n): the default discriminator is supervised and needs them."""
    return torch.arange(n) % 10


def state(result: training.Result) -> list[torch.Tensor]:
    return list(result.generator.state_dict().values()) + list(
        result.discriminator.state_dict().values()
    )


def test_resumed_run_shows_the_callbacks_what_a_straight_run_did(tmp_path):
    """The callbacks see rows and epoch ends interleaved as they came: DVCLive names each
    epoch's sample grid after the last row before it, so replaying every row first would file
    all the replayed epochs' grids under the last step."""

    def calls(checkpoint, train_params) -> list:
        seen = []
        training.train(
            images(),
            MODEL,
            train_params,
            tmp_path / checkpoint,
            digits(),
            on_row=lambda row: seen.append(("row", row[0], row[1])),
            on_epoch=lambda epoch, means, grid: seen.append(("epoch", epoch)),
        )
        return seen

    three = replace(TRAIN, epochs=3, log_every=2)  # 4 steps an epoch: rows at 2, 4; 6, 8; ...
    straight = calls("a.pt", three)
    assert straight[:7] == [
        ("row", 2, 1), ("row", 4, 1), ("epoch", 1),
        ("row", 6, 2), ("row", 8, 2), ("epoch", 2),
        ("row", 10, 3),
    ]  # fmt: skip
    calls("b.pt", replace(three, epochs=2))  # "killed" after epoch 2
    assert calls("b.pt", three) == straight


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    x = images()
    straight = training.train(x, MODEL, TRAIN, tmp_path / "a.pt", digits())
    training.train(
        x, MODEL, replace(TRAIN, epochs=1), tmp_path / "b.pt", digits()
    )  # "killed" after 1
    resumed = training.train(x, MODEL, TRAIN, tmp_path / "b.pt", digits())
    assert resumed.images_seen == 64  # only epoch 2 ran
    assert straight.history.rows == resumed.history.rows
    assert straight.history.epoch_means == resumed.history.epoch_means
    grids = zip(straight.history.grids, resumed.history.grids, strict=True)
    assert all(torch.equal(a, b) for a, b in grids)
    assert all(torch.equal(a, b) for a, b in zip(state(straight), state(resumed), strict=True))


def test_checkpoint_from_other_params_is_ignored(tmp_path, capsys):
    x = images()
    training.train(x, MODEL, replace(TRAIN, epochs=1), tmp_path / "c.pt", digits())
    result = training.train(x, MODEL, replace(TRAIN, lr_g=1e-3), tmp_path / "c.pt", digits())
    assert "ignoring" in capsys.readouterr().err
    assert result.images_seen == 2 * 64  # trained from scratch


def test_checkpoint_from_code_with_other_layers_is_ignored(tmp_path, capsys, monkeypatch):
    """Same params and data, but the code has changed a layer since: start afresh, do not
    crash half-way through loading weights that no longer fit."""
    x, y = images(), digits()
    model = replace(MODEL, conditional=True, supervised_d=False)  # embeddings, no digit head
    training.train(x, model, replace(TRAIN, epochs=1), tmp_path / "k.pt", y)
    monkeypatch.setattr(models, "N_CLASSES", 11)  # "new code": embeddings with 11 rows
    result = training.train(x, model, TRAIN, tmp_path / "k.pt", y)
    assert "ignoring" in capsys.readouterr().err
    assert result.images_seen == 2 * 64  # trained from scratch


@pytest.mark.parametrize(
    "poison, error",
    [
        ("loss", r"non-finite loss at epoch 2, step 7"),
        ("weights", r"non-finite \S+ in the discriminator at epoch 2"),
    ],
)
def test_divergence_stops_saying_where_and_keeps_last_checkpoint(
    tmp_path, monkeypatch, poison, error
):
    x, ckpt = images(), tmp_path / "n.pt"
    training.train(x, MODEL, replace(TRAIN, epochs=1), ckpt, digits())
    good = ckpt.read_bytes()
    real_step = training.gan_step
    calls = []

    def poisoned(g, d, *args):
        calls.append(1)
        stats = real_step(g, d, *args)
        if poison == "loss" and len(calls) == 3:
            return stats * float("nan")
        if poison == "weights" and len(calls) == 4:  # epoch 2's last step: finite losses
            next(d.buffers()).fill_(float("inf"))
        return stats

    monkeypatch.setattr(training, "gan_step", poisoned)
    with pytest.raises(UserError, match=error):
        training.train(x, MODEL, TRAIN, ckpt, digits())
    assert ckpt.read_bytes() == good


def test_lr_g_that_breaks_the_generator_stops_training_before_it_writes(tmp_path):
    """lr_g 1e10 keeps the losses finite but leaves inf in G's batch-norm statistics: a G
    that draws only NaN must not be saved as a trained one."""
    ckpt = tmp_path / "x.pt"
    with pytest.raises(
        UserError,
        match=r"^training diverged: non-finite body\.\d+\.running_var in the generator at "
        r"epoch 1; kept the last good checkpoint .*x\.pt and wrote no models$",
    ):
        training.train(images(), MODEL, replace(TRAIN, lr_g=1e10), ckpt, digits())
    assert not ckpt.exists()


def spoil(ckpt, how: str) -> None:
    """Leave at `ckpt` a resume checkpoint that cannot be used."""
    if how == "empty":
        ckpt.write_bytes(b"")
    elif how == "random bytes":
        noise = torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0))
        ckpt.write_bytes(noise.to(torch.uint8).numpy().tobytes())
    elif how == "foreign keys":
        torch.save({"images": torch.zeros(2)}, ckpt)
    else:  # a checkpoint of this very run, spoilt after it was written
        training.train(images(), MODEL, replace(TRAIN, epochs=1), ckpt, digits())
        saved = torch.load(ckpt, weights_only=True)
        if how == "wrong shapes":  # G loads, then D fails half-way: G must be undone
            saved["d"]["head.weight"] = torch.zeros(3, 3)
        else:
            saved["g"]["body.1.running_var"].fill_(float("inf"))
        torch.save(saved, ckpt)


@pytest.mark.parametrize(
    "how", ["empty", "random bytes", "foreign keys", "wrong shapes", "non-finite"]
)
def test_unusable_checkpoint_is_moved_aside_and_training_starts_afresh(tmp_path, capsys, how):
    x, ckpt = images(), tmp_path / "c.pt"
    spoil(ckpt, how)
    spoilt = ckpt.read_bytes()
    result = training.train(x, MODEL, TRAIN, ckpt, digits())
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: ignoring {ckpt} (")
    assert warnings[0].endswith(f"moved it to {ckpt}.bad, training from scratch")
    assert (tmp_path / "c.pt.bad").read_bytes() == spoilt
    assert result.images_seen == 2 * 64  # trained from scratch, as a fresh run
    fresh = training.train(x, MODEL, TRAIN, tmp_path / "fresh.pt", digits())
    assert all(torch.equal(a, b) for a, b in zip(state(fresh), state(result), strict=True))


def test_batch_larger_than_data_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"^train\.batch_size: got 16, expected at most 8"):
        training.train(images(8), MODEL, TRAIN, tmp_path / "x.pt", digits(8))


def test_lr_scale_is_flat_then_falls_linearly_to_zero():
    assert [training.lr_scale(s, 10, 0.0) for s in (0, 5, 9)] == [1.0, 1.0, 1.0]
    assert [training.lr_scale(s, 10, 0.5) for s in (0, 4, 5, 6, 9)] == [1, 1, 1, 0.8, 0.2]
    assert [training.lr_scale(s, 4, 1.0) for s in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_lr_decay_sets_both_rates_and_a_killed_run_resumes_on_the_same_schedule(
    tmp_path, monkeypatch
):
    """A killed run's checkpoint holds no schedule state: the rates follow from the step, so
    the resumed run ends byte-identical to an uninterrupted one. The epoch count is in the
    fingerprint (it sets the schedule), so a shorter run's checkpoint is not resumed."""
    x, cfg = images(), replace(TRAIN, lr_decay=0.5)
    real_step, lrs = training.gan_step, []

    def logged(g, d, opt_g, opt_d, *args):
        lrs.append((opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]))
        return real_step(g, d, opt_g, opt_d, *args)

    monkeypatch.setattr(training, "gan_step", logged)
    straight = training.train(x, MODEL, cfg, tmp_path / "a.pt", digits())
    scales = [training.lr_scale(s, 8, 0.5) for s in range(8)]  # 2 epochs of 4 steps
    assert lrs == [(cfg.lr_g * s, cfg.lr_d * s) for s in scales]

    def killed(*args):
        if len(lrs) == 8 + 6:  # in epoch 2 of the second run
            raise KeyboardInterrupt
        return logged(*args)

    monkeypatch.setattr(training, "gan_step", killed)
    with pytest.raises(KeyboardInterrupt):
        training.train(x, MODEL, cfg, tmp_path / "b.pt", digits())
    monkeypatch.setattr(training, "gan_step", logged)
    resumed = training.train(x, MODEL, cfg, tmp_path / "b.pt", digits())
    assert resumed.images_seen == 64  # only epoch 2 ran
    assert all(torch.equal(a, b) for a, b in zip(state(straight), state(resumed), strict=True))
    shorter = replace(cfg, epochs=1)
    where = "cpu in fp32"
    assert resume.fingerprint(MODEL, shorter, x, None, (), where) != resume.fingerprint(
        MODEL, cfg, x, None, (), where
    )


def test_epoch_pace_extrapolates_the_pace_of_the_last_epoch():
    assert progress.epoch_pace(60.0, 30) == " (60 s/epoch, about 30 min to go)"
    assert progress.epoch_pace(50.0, 0) == " (50 s/epoch, about 0 min to go)"


def test_a_finished_run_is_trained_again_not_copied(tmp_path, capsys):
    """`dvc repro -f train` after a finished run: its checkpoint holds the last epoch, and a
    forced rerun trains every epoch again (and times them), ending with the same weights."""
    x, ckpt = images(), tmp_path / "c.pt"
    first = training.train(x, MODEL, TRAIN, ckpt, digits())
    again = training.train(x, MODEL, TRAIN, ckpt, digits())
    assert f"ignoring {ckpt}: its run finished all 2 epochs; training afresh" in (
        capsys.readouterr().err
    )
    assert again.images_seen == 2 * 64 and again.seconds > 0
    assert all(torch.equal(a, b) for a, b in zip(state(first), state(again), strict=True))
    assert again.history.rows == first.history.rows


def test_a_longer_run_still_resumes_a_finished_one(tmp_path):
    """With constant rates the epoch count is no part of the fingerprint: more epochs go on
    from a finished run's checkpoint."""
    x, ckpt = images(), tmp_path / "c.pt"
    training.train(x, MODEL, replace(TRAIN, epochs=1), ckpt, digits())
    assert training.train(x, MODEL, TRAIN, ckpt, digits()).images_seen == 64


@pytest.mark.parametrize("balance", [4.0, 0.0])
def test_a_digit_missing_from_the_training_images_is_named_with_balance(tmp_path, balance):
    """G's balance term aims at each digit's share, by its log: with a digit missing it says
    which, instead of "training diverged"; without the term, training goes on."""
    labels = digits() % 7  # no 7, 8 or 9
    cfg = replace(TRAIN, epochs=1, balance=balance)
    if balance == 0:
        assert training.train(images(), MODEL, cfg, tmp_path / "c.pt", labels).images_seen == 64
        return
    with pytest.raises(UserError) as e:
        training.train(images(), MODEL, cfg, tmp_path / "c.pt", labels)
    assert str(e.value).startswith(
        "train.balance: got 4.0, but the training images hold no digit 7, 8, 9, "
    )
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_the_smallest_batch_params_allow_trains(tmp_path, arch):
    """Every generator has batch norm, which needs 2 images a batch in training: params allow
    no fewer, and 2 train (a last, partial batch of 1 is dropped: 5 images are 2 steps)."""
    cfg = replace(TRAIN, epochs=1, batch_size=params.MIN_BATCH, balance=0.0)  # 5 digits
    result = training.train(images(5), replace(MODEL, arch=arch), cfg, tmp_path / "c.pt", digits(5))
    assert result.images_seen == 4 and len(result.history.rows) == 2
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        training.train(images(4), MODEL, replace(cfg, batch_size=1), tmp_path / "d.pt", digits(4))


def test_a_checkpoint_of_other_settings_says_which_changed_and_why_it_is_not_resumed(
    tmp_path, capsys
):
    x, ckpt = images(), tmp_path / "c.pt"
    training.train(x, MODEL, replace(TRAIN, epochs=1, threads=2), ckpt, digits())
    capsys.readouterr()
    again = training.train(x, MODEL, replace(TRAIN, threads=1), ckpt, digits())
    said = capsys.readouterr().err
    assert (
        f"ignoring {ckpt}: it was trained with train.threads 2, now 1: torch's CPU results "
        "change with the thread count; training from epoch 1"
    ) in said
    assert again.images_seen == 2 * 64  # both epochs trained
    training.train(x, MODEL, replace(TRAIN, epochs=1), tmp_path / "d.pt", digits())
    capsys.readouterr()
    training.train(x.flip(0), MODEL, TRAIN, tmp_path / "d.pt", digits())
    assert "it was trained on other data or with other code" in capsys.readouterr().err
    lr = replace(TRAIN, epochs=1, lr_g=0.5)
    training.train(x, MODEL, lr, tmp_path / "e.pt", digits())
    capsys.readouterr()
    training.train(x, MODEL, TRAIN, tmp_path / "e.pt", digits())
    assert "it was trained with train.lr_g 0.5, now 0.0012; training" in capsys.readouterr().err


def test_train_seed_seeds_the_noise_generator_and_the_initial_weights():
    """Another train.seed is another run: the noise generator (order of the images, noise) is
    seeded with it, as are the initial weights; the same seed builds the same nets."""

    def nets(seed: int) -> resume.Nets:
        return training.build_nets(MODEL, replace(TRAIN, seed=seed), torch.device("cpu"))

    def matrices(n: resume.Nets) -> list[torch.Tensor]:  # the randomly initialised weights
        tensors = [*n.g.state_dict().values(), *n.d.state_dict().values()]
        return [t for t in tensors if t.dim() >= 2]

    a, again, b = nets(0), nets(0), nets(7)
    for seed, n in ((0, a), (0, again), (7, b)):
        assert torch.equal(n.rng.get_state(), torch.Generator().manual_seed(seed).get_state())
    assert len(matrices(a)) >= 4  # G's and D's layers
    assert all(torch.equal(x, y) for x, y in zip(matrices(a), matrices(again), strict=True))
    assert not any(torch.equal(x, y) for x, y in zip(matrices(a), matrices(b), strict=True))


def test_two_seeds_train_on_other_batches_from_other_weights_and_one_seed_the_same(
    tmp_path, monkeypatch
):
    """Through train(): each run's noise and image order, and its trained nets."""
    real_step, drawn = training.gan_step, []

    def recorded(g, d, opt_g, opt_d, batches, config):
        drawn[-1].append((batches[0].real.clone(), batches[0].z.clone()))
        return real_step(g, d, opt_g, opt_d, batches, config)

    monkeypatch.setattr(training, "gan_step", recorded)
    runs = []
    for i, seed in enumerate((3, 3, 4)):
        drawn.append([])
        cfg = replace(TRAIN, epochs=1, seed=seed)
        runs.append(training.train(images(), MODEL, cfg, tmp_path / f"{i}.pt", digits()))
    (first, same, other), steps = drawn, len(drawn[0])
    assert steps == 4 and len(same) == len(other) == steps
    for k in range(steps):
        assert torch.equal(first[k][0], same[k][0]) and torch.equal(first[k][1], same[k][1])
        assert not torch.equal(first[k][0], other[k][0])  # another order of the images
        assert not torch.equal(first[k][1], other[k][1])  # other noise
    assert all(torch.equal(p, q) for p, q in zip(state(runs[0]), state(runs[1]), strict=True))
    weights = zip(state(runs[0]), state(runs[2]), strict=True)
    assert not any(torch.equal(p, q) for p, q in weights if p.dim() >= 2)


def test_the_ema_warms_up_over_the_run_not_over_each_epoch(monkeypatch, tmp_path):
    """Two epochs of 4 steps: the EMA equals one replayed by hand from the raw generator's
    weights after every step, with the decay of the run's step s, min(0.9, (1+s)/(10+s)):
    step 4 (the second epoch's first) averages with 5/14, not the first step's 1/10."""
    real_step, weights = training.gan_step, []

    def copy(g: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in g.state_dict().items()}

    def recorded(g, d, opt_g, opt_d, batches, config):
        if not weights:
            weights.append(copy(g))  # the initial weights, the EMA's start
        stats = real_step(g, d, opt_g, opt_d, batches, config)
        weights.append(copy(g))
        return stats

    monkeypatch.setattr(training, "gan_step", recorded)
    cfg = replace(TRAIN, epochs=2, ema=0.9)
    result = training.train(images(), MODEL, cfg, tmp_path / "c.pt", digits())
    assert len(weights) == 1 + 8
    ema = weights[0]
    for s, g in enumerate(weights[1:]):
        decay = min(0.9, (1 + s) / (10 + s))
        ema = {
            k: decay * ema[k] + (1 - decay) * g[k] if g[k].is_floating_point() else g[k] for k in g
        }
    got = result.generator_ema.state_dict()
    assert got.keys() == ema.keys()
    for k in ema:
        torch.testing.assert_close(got[k], ema[k], rtol=1e-5, atol=1e-6, msg=k)
