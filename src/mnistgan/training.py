"""The GAN training loop: a choice of objective (mnistgan.objectives), train.d_steps D updates
per G update, an optional EMA of the generator, batches sliced from one in-memory tensor, and a
checkpoint at the end of every epoch so a killed run resumes where it was and finishes
byte-identical to an uninterrupted one."""

import contextlib
import copy
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import distributed, objectives
from .device import autocast, generator_device, resolve
from .distributed import World
from .ema import update_ema, warmed_decay
from .errors import UserError
from .models import build
from .params import ModelParams, TrainParams
from .pixels import to_unit
from .resume import fingerprint, load_resume, save_resume
from .sampling import class_latents, digit_frequencies, generate, latents

COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
GRID_SIZE = 64


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move to `device`; conv models go channels_last (faster convs on CPU with oneDNN, and
    the layout tensor cores want on GPU)."""
    model = model.to(device)
    if any(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def fixed_latents(model: ModelParams, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The noise (and labels) of the per-epoch sample grid: 8x8, or one digit per row of 10."""
    if not model.conditional:
        return latents(GRID_SIZE, model.z_dim, seed), None
    return class_latents(model.z_dim, seed)


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


def build_nets(model_cfg: ModelParams, cfg: TrainParams, device: torch.device) -> Nets:
    g, d = build(model_cfg, cfg.seed)
    g, d = prepare_model(g, device), prepare_model(d, device)
    g_ema = copy.deepcopy(g) if cfg.ema is not None else None
    betas = (cfg.beta1, cfg.beta2)
    # fused: one kernel per step for all params, on CPU and Apple GPUs too (torch >= 2.4)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=betas, fused=True)
    rng = torch.Generator(generator_device(device)).manual_seed(cfg.seed)
    return Nets(g, d, g_ema, opt_g, opt_d, rng)


def steps_per_epoch(n_images: int, cfg: TrainParams) -> int:
    """Generator steps in an epoch: each takes d_steps batches. Refuses sizes that give none."""
    steps = n_images // (cfg.batch_size * cfg.d_steps)
    if steps == 0 and n_images < cfg.batch_size:
        raise UserError(
            f"train.batch_size: got {cfg.batch_size}, expected at most {n_images} "
            "(the number of training images)"
        )
    if steps == 0:
        raise UserError(
            f"train.d_steps: got {cfg.d_steps}, expected at most {n_images // cfg.batch_size} "
            "(the number of batches of training images)"
        )
    return steps


def lr_scale(step: int, total: int, decay: float) -> float:
    """The learning rates' factor at `step` of `total`: 1, then over the last `decay` share of
    training a linear fall to 0 at the end. Stateless, so a resumed run follows it too."""
    start = total * (1 - decay)
    return 1.0 if step < start else (total - step) / (total - start)


def schedule_lrs(nets: Nets, cfg: TrainParams, step: int, total: int) -> None:
    """Set both optimizers' learning rates for `step` of `total` (lr_scale)."""
    scale = lr_scale(step, total, cfg.lr_decay)
    for opt, lr in ((nets.opt_g, cfg.lr_g), (nets.opt_d, cfg.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr * scale


def draw_batches(
    data: torch.Tensor,
    labels: torch.Tensor | None,
    order: torch.Tensor,
    step: int,
    cfg: TrainParams,
    model: ModelParams,
    rng: torch.Generator,
    part: slice = slice(None),
) -> list[Batch]:
    """The d_steps batches of generator step `step` of an epoch whose images come in `order`,
    with their noise (and eps) drawn from `rng` in a fixed order, on its device (then moved to
    the data's). A conditional G draws its fakes as the batch's real digits: the same digit
    counts on both sides, so D cannot tell by label frequencies. `part`: the rows of each
    batch this process trains on (all draws are made, so every process's `rng` stays in
    step)."""
    batches, n, device = [], cfg.batch_size, data.device
    for k in range(step * cfg.d_steps, (step + 1) * cfg.d_steps):
        idx = order[k * n : (k + 1) * n][part]
        z = torch.randn(n, model.z_dim, generator=rng, device=rng.device)[part].to(device)
        b = Batch(data[idx], z)
        if labels is not None:
            b.real_y = labels[idx]
        if model.conditional:
            b.fake_y = b.real_y
        if cfg.loss == "wgan-gp":
            b.eps = torch.rand(n, 1, 1, 1, generator=rng, device=rng.device)[part].to(device)
        batches.append(b)
    return batches


def scores(
    d: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, supervised: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits (N,), and a supervised D's digit logits (N, 10) (None for a plain D)."""
    return d(x, y, with_classes=True) if supervised else (d(x, y), None)


def gan_step(
    g,
    d,
    opt_g,
    opt_d,
    batches: list[Batch],
    loss: str,
    gp_weight: float,
    cast=contextlib.nullcontext,
    balance: float = 0.0,
    prior: torch.Tensor | None = None,
    digit_loss: float = 0.0,
) -> torch.Tensor:
    """One D update per batch, then one G update on the last batch's fakes. Returns means of
    (d_loss, g_loss, D(x), D(G(z))) on device, where D(.) is sigmoid(logit): a probability for
    bce, only a squashed critic score otherwise. `cast` makes the forward passes' autocast
    context (backward runs outside it). Under DDP the penalty and G's update call D's module
    itself: they need no sync of D's gradients (DDP expects one backward per forward).
    `balance` weighs G's class-balance term against `prior`, the training digit frequencies,
    and `digit_loss` G's cross-entropy between the digit D reads in a fake and the digit it
    was drawn as (a supervised D only; the second for a conditional G)."""
    # D without batch norm scores each image on its own: one pass over real and fake together
    # is the same maths with bigger, faster matrix products (batch norm needs separate batches)
    batch_norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    critic = getattr(d, "module", d)
    one_pass = not any(isinstance(m, batch_norms) for m in d.modules())
    supervised = getattr(critic, "supervised", False)
    d_stats = []
    for b in batches:
        with cast():
            fake = g(b.z, b.fake_y)
            real_y = b.real_y if b.fake_y is not None else None  # a conditional D's labels
            if one_pass:
                y = None if real_y is None else torch.cat([real_y, b.fake_y])
                logits, classes = scores(d, torch.cat([b.real, fake.detach()]), y, supervised)
                real_logit, fake_logit = logits.chunk(2)
            else:
                real_logit, classes = scores(d, b.real, real_y, supervised)
                fake_logit = d(fake.detach(), b.fake_y)
            d_loss = objectives.d_loss(loss, real_logit, fake_logit)
            if supervised:  # the digit of each real image: the first len(real) rows
                d_loss = d_loss + F.cross_entropy(classes[: len(b.real)], b.real_y)
            if loss == "wgan-gp":
                gp = objectives.gradient_penalty(critic, b.real, fake, real_y, b.eps)
                d_loss = d_loss + gp_weight * gp
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d_stats.append(
            torch.stack(
                [d_loss, torch.sigmoid(real_logit).mean(), torch.sigmoid(fake_logit).mean()]
            ).detach()
        )

    d.requires_grad_(False)  # G's update needs grads through D, not D's weight grads
    with cast():
        logit, classes = scores(critic, fake, b.fake_y, supervised)
        g_loss = objectives.g_loss(loss, logit)
        if supervised and balance > 0:
            g_loss = g_loss + balance * objectives.class_balance(classes, prior)
        if supervised and digit_loss > 0 and b.fake_y is not None:
            g_loss = g_loss + digit_loss * F.cross_entropy(classes.float(), b.fake_y)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    d.requires_grad_(True)
    d_mean = torch.stack(d_stats).mean(0)
    return torch.cat([d_mean[:1], g_loss.detach().view(1), d_mean[1:]])


class RunningMean:
    """Sums step stats on the device; `take()` is the one host sync per logging interval (and,
    under torchrun, the one all-reduce: the means over every rank's slice of the batches)."""

    def __init__(self, device: torch.device):
        dtype = torch.float32 if device.type == "mps" else torch.float64  # mps has no float64
        self.sum, self.n = torch.zeros(4, device=device, dtype=dtype), 0

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


def time_left(seconds: float, epochs_done: int, epochs_left: int) -> str:
    """The pace so far and how long the rest takes at it: a run that will overrun its budget
    (a CPU without bf16 instructions can be several times slower) says so after one epoch."""
    per_epoch = seconds / epochs_done
    return f" ({per_epoch:.0f} s/epoch, about {per_epoch * epochs_left / 60:.0f} min to go)"


def ignore(*args) -> None:
    pass


def train(
    images: torch.Tensor,
    model_cfg: ModelParams,
    cfg: TrainParams,
    checkpoint: Path,
    labels: torch.Tensor | None = None,
    on_row: OnRow = ignore,
    on_epoch: OnEpoch = ignore,
    world: World = distributed.ALONE,
) -> Result:
    """Train on uint8 `images` (N, 1, 28, 28) (and their int64 `labels` (N,), needed when the
    model is conditional), resuming from `checkpoint` when it matches. `on_row` and `on_epoch`
    see every logged row and finished epoch once, in order, resumed or not (live progress).
    Under torchrun (`world`, see mnistgan.distributed) each process trains on its slice of
    every batch; rank 0 alone reads and writes the checkpoint."""
    for key in ("conditional", "supervised_d"):
        if getattr(model_cfg, key) and labels is None:
            raise UserError(f"model.{key}: true needs the labels of the training images")
    labels = labels if model_cfg.conditional or model_cfg.supervised_d else None
    steps = steps_per_epoch(len(images), cfg)
    part = distributed.rows(cfg.batch_size, world)
    device = distributed.local_device(resolve(cfg.device, "train.device"), world)
    autocast(cfg.amp, device)  # refuse a bad train.amp before any work
    nets = build_nets(model_cfg, cfg, device)
    fp = fingerprint(model_cfg, cfg, images, labels, (nets.g, nets.d))
    start, logged = load_resume(checkpoint, fp, nets, cfg.epochs) if world.main else (0, {})
    history = History(**logged)
    if world.size > 1:  # rank 0 alone reads the checkpoint; every rank starts from its state
        state, history, start = distributed.from_main((nets.state_dict(), history, start), world)
        nets.load_state_dict(state)
    for row in history.rows:  # replay what a resumed run logged before
        on_row(row)
    for epoch, (means, grid) in enumerate(zip(history.epoch_means, history.grids, strict=True)):
        on_epoch(epoch + 1, means, grid)

    g, d, g_ema = nets.g, nets.d, nets.g_ema
    data = to_unit(images).to(device)  # the whole set lives on the device, normalised once
    targets = labels.to(device) if labels is not None else None
    prior = None if labels is None else digit_frequencies(targets)
    fixed_z, fixed_y = fixed_latents(model_cfg, cfg.seed + 1)
    # DDP and compiled wrappers share parameters with g and d, whose state dicts keep plain keys
    g_step, d_step = distributed.wrap(g, world, device), distributed.wrap(d, world, device)
    if cfg.compile:
        g_step, d_step = torch.compile(g_step), torch.compile(d_step)
    cast = lambda: autocast(cfg.amp, device)  # noqa: E731
    began, step, total = time.perf_counter(), start * steps, cfg.epochs * steps
    for epoch in range(start + 1, cfg.epochs + 1):
        g.train()
        d.train()
        order = torch.randperm(len(data), generator=nets.rng, device=nets.rng.device).to(device)
        epoch_mean, log_mean = RunningMean(device), RunningMean(device)
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{cfg.epochs}", disable=None, leave=False)
        for i in bar:
            schedule_lrs(nets, cfg, step, total)
            batches = draw_batches(data, targets, order, i, cfg, model_cfg, nets.rng, part)
            stats = gan_step(
                g_step,
                d_step,
                nets.opt_g,
                nets.opt_d,
                batches,
                cfg.loss,
                cfg.gp_weight,
                cast,
                cfg.balance,
                prior,
                cfg.digit_loss,
            )
            if g_ema is not None:
                update_ema(g_ema, g, warmed_decay(cfg.ema, step))
            epoch_mean.add(stats)
            log_mean.add(stats)
            step += 1
            if step % cfg.log_every == 0 or i == steps - 1:
                means = log_mean.take(world)
                if not all(map(math.isfinite, means)):
                    raise diverged(f"non-finite loss at epoch {epoch}, step {step}", checkpoint)
                history.rows.append([step, epoch, *means])
                on_row(history.rows[-1])
                bar.set_postfix(d_loss=f"{means[0]:.3f}", g_loss=f"{means[1]:.3f}")
        history.epoch_means.append(dict(zip(COLUMNS[2:], epoch_mean.take(world), strict=True)))
        # finite losses can hide a broken net: inf batch-norm statistics make G draw NaN
        for name, net in (("generator", g), ("generator's EMA", g_ema), ("discriminator", d)):
            if (bad := non_finite(net)) is not None:
                raise diverged(f"non-finite {bad} in the {name} at epoch {epoch}", checkpoint)
        history.grids.append(generate(g_ema if g_ema is not None else g, fixed_z, fixed_y))
        if world.main:
            save_resume(checkpoint, fp, epoch, nets, vars(history))
            pace = time_left(time.perf_counter() - began, epoch - start, cfg.epochs - epoch)
            say(f"epoch {epoch}/{cfg.epochs}: " + json.dumps(history.epoch_means[-1]) + pace)
        on_epoch(epoch, history.epoch_means[-1], history.grids[-1])
    seconds = time.perf_counter() - began
    images_seen = (cfg.epochs - start) * steps * cfg.batch_size * cfg.d_steps
    g, d, g_ema = (
        m.cpu().to(memory_format=torch.contiguous_format).eval() if m is not None else None
        for m in (g, d, g_ema)
    )
    return Result(g, g_ema, d, history, seconds, images_seen)
