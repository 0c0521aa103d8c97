"""The GAN training loop: a choice of objective (mnistgan.gan.objectives), train.d_steps D updates
per G update, an optional EMA of the generator, batches sliced from one in-memory tensor, and a
checkpoint at the end of every epoch so a killed run resumes where it was and finishes
byte-identical to an uninterrupted one."""

import contextlib
import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from mnistgan.core import cpu, progress
from mnistgan.core.device import computes_in, generator_device, precision, resolve, sum_dtype
from mnistgan.core.digits import digit_counts
from mnistgan.core.errors import UserError
from mnistgan.core.params import ModelParams, TrainParams
from mnistgan.core.pixels import to_unit
from mnistgan.gan import distributed, objectives
from mnistgan.gan.distributed import World
from mnistgan.gan.ema import update_ema, warmed_decay
from mnistgan.gan.models import build
from mnistgan.gan.resume import fingerprint, load_resume, save_resume, settings
from mnistgan.gan.sampling import class_latents, digit_frequencies, generate, latents

COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
GRID_SIZE = 64


def prepare_net(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move to `device`; conv nets go channels_last (faster convs on CPU with oneDNN, and
    the layout tensor cores want on GPU), in one move."""
    if any(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in net.modules()):
        return net.to(device, memory_format=torch.channels_last)
    return net.to(device)


def fixed_latents(model_params: ModelParams, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The noise (and labels) of the per-epoch sample grid: 8x8, or one digit per row of 10."""
    if not model_params.conditional:
        return latents(GRID_SIZE, model_params.z_dim, seed), None
    return class_latents(model_params.z_dim, seed)


@dataclass
class History:
    """What training logged so far; saved in checkpoints so resumed runs log the same."""

    rows: list[list[float]] = field(default_factory=list)  # COLUMNS, one per logging step
    epoch_means: list[dict[str, float]] = field(default_factory=list)
    grids: list[torch.Tensor] = field(default_factory=list)  # fixed-noise samples per epoch


@dataclass
class Result:
    generator: torch.nn.Module  # the raw generator, the last iterate of training
    generator_ema: torch.nn.Module | None  # its moving average, when train.ema is set
    discriminator: torch.nn.Module
    history: History
    seconds: float
    images_seen: int


@dataclass
class Batch:
    """What one discriminator update consumes: real images, and the noise for as many fakes.
    Labels are None for an unconditional model; eps (the gradient penalty's mixing weights)
    is None unless the loss is wgan-gp."""

    real: torch.Tensor
    z: torch.Tensor
    real_y: torch.Tensor | None = None
    fake_y: torch.Tensor | None = None
    eps: torch.Tensor | None = None


@dataclass
class Nets:
    """Everything a training step changes, so everything a checkpoint must hold."""

    g: torch.nn.Module
    d: torch.nn.Module
    g_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator

    def state_dict(self) -> dict:
        return {
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "g_ema": self.g_ema.state_dict() if self.g_ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])
        if self.g_ema is not None:
            self.g_ema.load_state_dict(state["g_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])


def build_nets(model_params: ModelParams, train_params: TrainParams, device: torch.device) -> Nets:
    g, d = build(model_params, train_params.seed)
    g, d = prepare_net(g, device), prepare_net(d, device)
    g_ema = copy.deepcopy(g) if train_params.ema is not None else None
    betas = (train_params.beta1, train_params.beta2)
    # fused: one kernel per step for all params, on CPU and Apple GPUs too (torch >= 2.4)
    opt_g = torch.optim.Adam(g.parameters(), lr=train_params.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=train_params.lr_d, betas=betas, fused=True)
    rng = torch.Generator(generator_device(device)).manual_seed(train_params.seed)
    return Nets(g, d, g_ema, opt_g, opt_d, rng)


def steps_per_epoch(n_images: int, train_params: TrainParams) -> int:
    """Generator steps in an epoch: each takes d_steps batches. Refuses sizes that give none."""
    batch_size, d_steps = train_params.batch_size, train_params.d_steps
    steps = n_images // (batch_size * d_steps)
    if steps == 0 and n_images < batch_size:
        raise UserError(
            f"train.batch_size: got {batch_size}, expected at most {n_images} "
            "(the number of training images)"
        )
    if steps == 0:
        raise UserError(
            f"train.d_steps: got {d_steps}, expected at most {n_images // batch_size} "
            "(the number of batches of training images)"
        )
    return steps


def lr_scale(step: int, total: int, decay: float) -> float:
    """The learning rates' factor at `step` of `total`: 1, then over the last `decay` share of
    training a linear fall to 0 at the end. Stateless, so a resumed run follows it too."""
    start = total * (1 - decay)
    return 1.0 if step < start else (total - step) / (total - start)


def schedule_lrs(nets: Nets, train_params: TrainParams, step: int, total: int) -> None:
    """Set both optimizers' learning rates for `step` of `total` (lr_scale)."""
    scale = lr_scale(step, total, train_params.lr_decay)
    for opt, lr in ((nets.opt_g, train_params.lr_g), (nets.opt_d, train_params.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr * scale


def draw_batches(
    data: torch.Tensor,
    labels: torch.Tensor | None,
    order: torch.Tensor,
    step: int,
    train_params: TrainParams,
    model_params: ModelParams,
    rng: torch.Generator,
    part: slice = slice(None),
) -> list[Batch]:
    """The d_steps batches of generator step `step` of an epoch whose images come in `order`,
    with their noise (and eps) drawn from `rng` in a fixed order, on its device (then moved to
    the data's). A conditional G draws its fakes as the batch's real digits: the same digit
    counts on both sides, so D cannot tell by label frequencies. `part`: the rows of each
    batch this process trains on (all draws are made, so every process's `rng` stays in
    step)."""
    batches, n, d_steps, device = [], train_params.batch_size, train_params.d_steps, data.device
    for k in range(step * d_steps, (step + 1) * d_steps):
        idx = order[k * n : (k + 1) * n][part]
        z = torch.randn(n, model_params.z_dim, generator=rng, device=rng.device)[part].to(device)
        b = Batch(data[idx], z)
        if labels is not None:
            b.real_y = labels[idx]
        if model_params.conditional:
            b.fake_y = b.real_y
        if train_params.loss == "wgan-gp":
            b.eps = torch.rand(n, 1, 1, 1, generator=rng, device=rng.device)[part].to(device)
        batches.append(b)
    return batches


@dataclass(frozen=True)
class StepConfig:
    """How a training step updates D and G, beyond the nets and batches: the objective, the
    gradient penalty's weight (wgan-gp), G's class-balance term against `prior`, the training
    digit frequencies (a supervised D), G's digit cross-entropy (a supervised D and a
    conditional G), and `cast`, the maker of the forward passes' autocast context (backward
    runs outside it). The defaults are a plain bce step in fp32."""

    loss: str = "bce"
    gp_weight: float = 10.0
    balance: float = 0.0
    digit_loss: float = 0.0
    prior: torch.Tensor | None = None
    cast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext


def step_config(
    train_params: TrainParams, prior: torch.Tensor | None, cast: Callable = contextlib.nullcontext
) -> StepConfig:
    """The step of train.*: `prior` for its balance term, `cast` from device.precision."""
    keys = ("loss", "gp_weight", "balance", "digit_loss")
    return StepConfig(**{k: getattr(train_params, k) for k in keys}, prior=prior, cast=cast)


def scores(
    d: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, supervised: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits (N,), and a supervised D's digit logits (N, 10) (None for a plain D)."""
    return d(x, y, with_classes=True) if supervised else (d(x, y), None)


def unwrapped(d: torch.nn.Module) -> torch.nn.Module:
    """D's module itself, under DDP: the penalty and G's update call it, as they need no sync
    of D's gradients (DDP expects one backward per forward)."""
    return getattr(d, "module", d)


def d_update(
    g: torch.nn.Module,
    d: torch.nn.Module,
    opt_d: torch.optim.Optimizer,
    b: Batch,
    config: StepConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One D update on batch `b` against fakes G draws for it. Returns (d_loss, D(x), D(G(z)))
    on device, where D(.) is sigmoid(logit): a probability for bce, only a squashed critic
    score otherwise; and the fakes, whose graph through G the G update reuses."""
    # D without batch norm scores each image on its own: one pass over real and fake together
    # is the same maths with bigger, faster matrix products (batch norm needs separate batches)
    batch_norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    one_pass = not any(isinstance(m, batch_norms) for m in d.modules())
    critic = unwrapped(d)
    supervised = getattr(critic, "supervised", False)
    with config.cast():
        fake = g(b.z, b.fake_y)
        real_y = b.real_y if b.fake_y is not None else None  # a conditional D's labels
        if one_pass:
            y = None if real_y is None else torch.cat([real_y, b.fake_y])
            logits, classes = scores(d, torch.cat([b.real, fake.detach()]), y, supervised)
            real_logit, fake_logit = logits.chunk(2)
        else:
            real_logit, classes = scores(d, b.real, real_y, supervised)
            fake_logit = d(fake.detach(), b.fake_y)
        d_loss = objectives.d_loss(config.loss, real_logit, fake_logit)
        if supervised:  # the digit of each real image: the first len(real) rows
            d_loss = d_loss + F.cross_entropy(classes[: len(b.real)], b.real_y)
        if config.loss == "wgan-gp":
            gp = objectives.gradient_penalty(critic, b.real, fake, real_y, b.eps)
            d_loss = d_loss + config.gp_weight * gp
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    stats = [d_loss, torch.sigmoid(real_logit).mean(), torch.sigmoid(fake_logit).mean()]
    return torch.stack(stats).detach(), fake


def g_update(
    d: torch.nn.Module,
    opt_g: torch.optim.Optimizer,
    fake: torch.Tensor,
    b: Batch,
    config: StepConfig,
) -> torch.Tensor:
    """One G update on `fake`, drawn for batch `b`: G's objective, plus `balance` times its
    class-balance term and `digit_loss` times the cross-entropy between the digit D reads in
    a fake and the digit it was drawn as (a supervised D only; the second for a conditional
    G). Returns G's loss, on device."""
    critic = unwrapped(d)
    supervised = getattr(critic, "supervised", False)
    d.requires_grad_(False)  # G's update needs grads through D, not D's weight grads
    with config.cast():
        logit, classes = scores(critic, fake, b.fake_y, supervised)
        g_loss = objectives.g_loss(config.loss, logit)
        if supervised and config.balance > 0:
            g_loss = g_loss + config.balance * objectives.class_balance(classes, config.prior)
        if supervised and config.digit_loss > 0 and b.fake_y is not None:
            g_loss = g_loss + config.digit_loss * F.cross_entropy(classes.float(), b.fake_y)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    d.requires_grad_(True)
    return g_loss.detach()


def gan_step(
    g: torch.nn.Module,
    d: torch.nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batches: list[Batch],
    config: StepConfig,
) -> torch.Tensor:
    """One D update per batch, then one G update on the last batch's fakes. Returns means of
    (d_loss, g_loss, D(x), D(G(z))) on device."""
    d_stats = []
    for b in batches:
        stats, fake = d_update(g, d, opt_d, b, config)
        d_stats.append(stats)
    g_loss = g_update(d, opt_g, fake, b, config)
    d_mean = torch.stack(d_stats).mean(0)
    return torch.cat([d_mean[:1], g_loss.view(1), d_mean[1:]])


class RunningMean:
    """Sums step stats on the device; `take()` is the one host sync per logging interval (and,
    under torchrun, the one all-reduce: the means over every rank's slice of the batches)."""

    def __init__(self, device: torch.device):
        self.sum, self.n = torch.zeros(4, device=device, dtype=sum_dtype(device)), 0

    def add(self, stats: torch.Tensor) -> None:
        self.sum += stats
        self.n += 1

    def take(self, world: World = distributed.ALONE) -> list[float]:
        means = (distributed.mean_(self.sum, world) / self.n).tolist()
        self.sum.zero_()
        self.n = 0
        return means


def diverged(what: str, checkpoint: Path) -> UserError:
    return UserError(
        f"training diverged: {what}; kept the last good checkpoint {checkpoint} and wrote no models"
    )


def non_finite(net: torch.nn.Module | None) -> str | None:
    """The name of the first parameter or buffer of `net` holding NaN or inf, if any."""
    state = net.state_dict() if net is not None else {}
    return next(
        (k for k, v in state.items() if v.is_floating_point() and not v.isfinite().all()), None
    )


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


OnRow = Callable[[list[float]], None]  # a logged row of COLUMNS
OnEpoch = Callable[[int, dict[str, float], torch.Tensor], None]  # epoch, its means, its grid


def time_left(per_epoch: float, epochs_left: int) -> str:
    """The last epoch's pace and how long the rest takes at it: a run that will overrun its
    budget (a CPU without bf16 instructions can be several times slower) says so after one
    epoch, and a machine that gets busier or quieter shows at the next."""
    return f" ({per_epoch:.0f} s/epoch, about {per_epoch * epochs_left / 60:.0f} min to go)"


def ignore(*args) -> None:
    pass


def used_labels(model_params: ModelParams, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The labels training uses: a conditional G or a supervised D needs them (refused
    without), any other model ignores them (so they are no part of its fingerprint)."""
    for key in ("conditional", "supervised_d"):
        if getattr(model_params, key) and labels is None:
            raise UserError(f"model.{key}: true needs the labels of the training images")
    return labels if model_params.conditional or model_params.supervised_d else None


def check_balance(train_params: TrainParams, labels: torch.Tensor | None) -> None:
    """G's balance term pulls its digits towards the training set's shares of each, by their
    logs: a digit the training images lack (share 0) would make it infinite at once."""
    if train_params.balance == 0 or labels is None:
        return
    missing = (digit_counts(labels) == 0).nonzero().flatten().tolist()
    if missing:
        raise UserError(
            f"train.balance: got {train_params.balance}, but the training images hold no "
            f"digit {', '.join(map(str, missing))}, and the balance term aims G at each "
            "digit's share of them: set train.balance: 0, or train on data with every digit"
        )


def replay(history: History, on_row: OnRow, on_epoch: OnEpoch) -> None:
    """Show the callbacks what a resumed run logged before, in the order a fresh run did:
    each epoch's rows (a row's column 1 is its epoch), then that epoch's end."""
    rows = iter(history.rows)
    row = next(rows, None)
    for epoch, (means, grid) in enumerate(zip(history.epoch_means, history.grids, strict=True)):
        while row is not None and row[1] <= epoch + 1:
            on_row(row)
            row = next(rows, None)
        on_epoch(epoch + 1, means, grid)


@dataclass
class Data:
    """The training set on the device, normalised once: images in [-1, 1], their labels (None
    when unused), and the digit frequencies G's class-balance term aims at."""

    images: torch.Tensor
    labels: torch.Tensor | None
    prior: torch.Tensor | None


def place_data(images: torch.Tensor, labels: torch.Tensor | None, device: torch.device) -> Data:
    data = to_unit(images).to(device)  # the whole set lives on the device
    targets = labels.to(device) if labels is not None else None
    return Data(data, targets, None if labels is None else digit_frequencies(targets))


def wrap_nets(
    nets: Nets, train_params: TrainParams, world: World, device: torch.device
) -> tuple[torch.nn.Module, torch.nn.Module]:
    """G and D as the step calls them: in DDP under torchrun, compiled if train.compile.
    The wrappers share parameters with nets.g and nets.d, whose state dicts keep plain keys."""
    g, d = distributed.wrap(nets.g, world, device), distributed.wrap(nets.d, world, device)
    if train_params.compile:
        g, d = torch.compile(g), torch.compile(d)
    return g, d


@dataclass(frozen=True)
class Run:
    """A training run once set up: what every epoch reads."""

    model_params: ModelParams
    train_params: TrainParams
    checkpoint: Path
    world: World
    device: torch.device
    part: slice  # this process's rows of every batch
    steps: int  # generator steps per epoch
    nets: Nets
    g: torch.nn.Module  # nets.g and nets.d as the step calls them (wrap_nets)
    d: torch.nn.Module
    data: Data
    config: StepConfig


def log_row(run: Run, log_mean: RunningMean, step: int, epoch: int) -> list[float]:
    """The logged row of COLUMNS for the steps since the last; a non-finite loss stops."""
    means = log_mean.take(run.world)
    if not all(map(math.isfinite, means)):
        raise diverged(f"non-finite loss at epoch {epoch}, step {step}", run.checkpoint)
    return [step, epoch, *means]


def train_step(run: Run, order: torch.Tensor, step: int, i: int) -> torch.Tensor:
    """Step `i` of an epoch whose images come in `order`, step `step` of the run: learning
    rates, batches, the GAN step, the EMA. Returns its stats on the device: no host sync."""
    nets, data, train_params = run.nets, run.data, run.train_params
    schedule_lrs(nets, train_params, step, train_params.epochs * run.steps)
    batches = draw_batches(
        data.images, data.labels, order, i, train_params, run.model_params, nets.rng, run.part
    )
    stats = gan_step(run.g, run.d, nets.opt_g, nets.opt_d, batches, run.config)
    if nets.g_ema is not None:
        update_ema(nets.g_ema, nets.g, warmed_decay(train_params.ema, step))
    return stats


def train_epoch(
    run: Run, epoch: int, history: History, on_row: OnRow, pace: progress.Pace | None = None
) -> dict[str, float]:
    """Epoch `epoch`'s steps, in a fresh order of the images: learning rates, batches, the
    GAN step, the EMA, a logged row every train.log_every steps; the run's `pace` told once,
    early. Returns the epoch's means."""
    nets, data, train_params, steps = run.nets, run.data, run.train_params, run.steps
    nets.g.train()
    nets.d.train()
    order = torch.randperm(len(data.images), generator=nets.rng, device=nets.rng.device)
    order = order.to(run.device)
    epoch_mean, log_mean = RunningMean(run.device), RunningMean(run.device)
    desc = f"epoch {epoch}/{train_params.epochs}"
    bar = tqdm(range(steps), desc=desc, disable=None, leave=False)
    beat = progress.Heartbeat()  # without a terminal (no bar), a line every minute
    for i in bar:
        step = (epoch - 1) * steps + i
        stats = train_step(run, order, step, i)
        epoch_mean.add(stats)
        log_mean.add(stats)
        if (step + 1) % train_params.log_every == 0 or i == steps - 1:
            history.rows.append(log_row(run, log_mean, step + 1, epoch))
            on_row(history.rows[-1])
            _, _, d_loss, g_loss, *_ = history.rows[-1]
            bar.set_postfix(d_loss=f"{d_loss:.3f}", g_loss=f"{g_loss:.3f}")
        if pace and (line := pace.step()) and run.world.main:
            say(line)
        elif beat.due() and run.world.main:
            say(f"{desc}, step {i + 1}/{steps}")  # not "epoch k/n:", the epoch's end
    return dict(zip(COLUMNS[2:], epoch_mean.take(run.world), strict=True))


def check_nets(nets: Nets, epoch: int, checkpoint: Path) -> None:
    """Finite losses can hide a broken net: inf batch-norm statistics make G draw NaN."""
    for name, net in (
        ("generator", nets.g),
        ("generator's EMA", nets.g_ema),
        ("discriminator", nets.d),
    ):
        if (bad := non_finite(net)) is not None:
            raise diverged(f"non-finite {bad} in the {name} at epoch {epoch}", checkpoint)


def contention_of(device: torch.device, threads: int, cpu_seconds: float, wall: float) -> str:
    """Crowded out by other programs, and what to set (cpu.contention): on a CPU only."""
    return cpu.contention(cpu_seconds, wall, threads) if device.type == "cpu" else ""


def sampler(nets: Nets) -> torch.nn.Module:
    """The generator that draws the samples: the EMA when train.ema keeps one."""
    return nets.g_ema if nets.g_ema is not None else nets.g


def finished(net: torch.nn.Module | None) -> torch.nn.Module | None:
    """A trained net as callers get it: on the CPU, contiguous, in eval mode."""
    return None if net is None else net.cpu().to(memory_format=torch.contiguous_format).eval()


def train(
    images: torch.Tensor,
    model_params: ModelParams,
    train_params: TrainParams,
    checkpoint: Path,
    labels: torch.Tensor | None = None,
    on_row: OnRow = ignore,
    on_epoch: OnEpoch = ignore,
    world: World = distributed.ALONE,
) -> Result:
    """Train on uint8 `images` (N, 1, 28, 28) (and their int64 `labels` (N,), needed when the
    model is conditional), resuming from `checkpoint` when it matches. `on_row` and `on_epoch`
    see every logged row and finished epoch once, in order, resumed or not (live progress).
    Under torchrun (`world`, see mnistgan.gan.distributed) each process trains on its slice of
    every batch; rank 0 alone reads and writes the checkpoint."""
    epochs, batch_size = train_params.epochs, train_params.batch_size
    labels = used_labels(model_params, labels)
    steps = steps_per_epoch(len(images), train_params)
    check_balance(train_params, labels if model_params.supervised_d else None)
    part = distributed.rows(batch_size, world)
    device = distributed.local_device(resolve(train_params.device, "train.device"), world)
    cast = precision(train_params.amp, device)  # refuses a bad train.amp before any work
    where = f"{device.type} in {computes_in(train_params.amp, device)}"

    nets = build_nets(model_params, train_params, device)
    fp = fingerprint(model_params, train_params, images, labels, (nets.g, nets.d), where)
    now = settings(model_params, train_params, where)
    start, logged = load_resume(checkpoint, fp, where, nets, epochs, now) if world.main else (0, {})
    if world.size > 1:  # rank 0 alone reads the checkpoint; every rank starts from its state
        state, logged, start = distributed.from_main((nets.state_dict(), logged, start), world)
        nets.load_state_dict(state)
    history = History(**logged)
    replay(history, on_row, on_epoch)

    data = place_data(images, labels, device)
    g, d = wrap_nets(nets, train_params, world, device)
    config = step_config(train_params, data.prior, cast)
    run = Run(
        model_params, train_params, checkpoint, world, device, part, steps, nets, g, d, data, config
    )
    grid_z, grid_y = fixed_latents(model_params, train_params.seed + 1)
    began = time.perf_counter()
    threads = torch.get_num_threads()
    why_slow = partial(contention_of, device, threads)
    pace = progress.Pace(f"training on {where}", (epochs - start) * steps, why_slow)
    for epoch in range(start + 1, epochs + 1):
        epoch_began, cpu_began = time.perf_counter(), time.process_time()
        history.epoch_means.append(train_epoch(run, epoch, history, on_row, pace))
        check_nets(nets, epoch, checkpoint)
        history.grids.append(generate(sampler(nets), grid_z, grid_y))
        if world.main:
            save_resume(checkpoint, fp, where, epoch, nets, vars(history), now)
            seconds = time.perf_counter() - epoch_began
            left = time_left(seconds, epochs - epoch)
            left += why_slow(time.process_time() - cpu_began, seconds)
            say(f"epoch {epoch}/{epochs}: {progress.numbers(history.epoch_means[-1])}{left}")
        on_epoch(epoch, history.epoch_means[-1], history.grids[-1])

    seconds = time.perf_counter() - began
    images_seen = (epochs - start) * steps * batch_size * train_params.d_steps
    nets_out = finished(nets.g), finished(nets.g_ema), finished(nets.d)
    return Result(*nets_out, history, seconds, images_seen)
