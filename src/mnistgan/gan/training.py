"""The GAN training loop, read top to bottom: draw a generator step's batches, (1) update D on
each, (2) update G once, average G's weights, log; at each epoch's end a sample grid and a
checkpoint (mnistgan.gan.resume), so a killed run resumes and ends byte-identical to an
uninterrupted one."""

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from mnistgan.core import cpu, digits, progress
from mnistgan.core import device as devices
from mnistgan.core.errors import UserError
from mnistgan.core.params import ModelParams, TrainParams
from mnistgan.core.pixels import to_unit
from mnistgan.core.progress import log_line
from mnistgan.gan import distributed, objectives, resume
from mnistgan.gan.distributed import World
from mnistgan.gan.ema import update_ema, warmed_decay
from mnistgan.gan.models import BATCH_NORMS, build
from mnistgan.gan.resume import History, Nets
from mnistgan.gan.sampling import digit_frequencies, generate, grid_latents

COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]

OnRow = Callable[[list[float]], None]  # a logged row of COLUMNS
OnEpoch = Callable[[int, dict[str, float], torch.Tensor], None]  # epoch, its means, its grid


def no_callback(*args) -> None:
    pass


@dataclass
class Batch:
    """What one D update consumes: real images, and the noise for as many fakes. Labels are
    None for an unconditional model; eps (the gradient penalty's mixing weights) is None
    unless the loss is wgan-gp."""

    real: torch.Tensor
    z: torch.Tensor
    real_y: torch.Tensor | None = None
    fake_y: torch.Tensor | None = None
    eps: torch.Tensor | None = None


@dataclass(frozen=True)
class StepConfig:
    """How a step updates D and G beyond the nets and batches: the objective, the gradient
    penalty's weight (wgan-gp), G's class-balance term against `prior` (the training digits'
    frequencies), G's digit cross-entropy (a supervised D and a conditional G), and
    `autocast`, the maker of the forward passes' precision context (backward runs outside
    it). The defaults are a plain bce step in fp32."""

    loss: str = "bce"
    gp_weight: float = 10.0
    balance: float = 0.0
    digit_loss: float = 0.0
    prior: torch.Tensor | None = None
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext


def step_config(
    train_params: TrainParams,
    prior: torch.Tensor | None,
    autocast: Callable = contextlib.nullcontext,
) -> StepConfig:
    keys = ("loss", "gp_weight", "balance", "digit_loss")
    return StepConfig(**{k: getattr(train_params, k) for k in keys}, prior=prior, autocast=autocast)


def draw_batches(
    images: torch.Tensor,
    labels: torch.Tensor | None,
    order: torch.Tensor,
    i: int,
    train_params: TrainParams,
    model_params: ModelParams,
    rng: torch.Generator,
    my_rows: slice = slice(None),
) -> list[Batch]:
    """The d_steps batches of step `i` of an epoch whose images come in `order`, with their
    noise (and eps) drawn from `rng` in a fixed order. A conditional G draws its fakes as the
    batch's real digits: the same digit counts on both sides, so D cannot tell by label
    frequencies. `my_rows`: the rows of each batch this process trains on (every draw is
    made, so every process's `rng` stays in step)."""
    batches, n, device = [], train_params.batch_size, images.device
    for k in range(i * train_params.d_steps, (i + 1) * train_params.d_steps):
        idx = order[k * n : (k + 1) * n][my_rows]
        z = torch.randn(n, model_params.z_dim, generator=rng, device=rng.device)[my_rows]
        b = Batch(images[idx], z.to(device))
        if labels is not None:
            b.real_y = labels[idx]
        if model_params.conditional:
            b.fake_y = b.real_y
        if train_params.loss == "wgan-gp":
            eps = torch.rand(n, 1, 1, 1, generator=rng, device=rng.device)[my_rows]
            b.eps = eps.to(device)
        batches.append(b)
    return batches


def scores(
    d: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, supervised: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """D's logits (N,), and a supervised D's digit logits (N, 10) (None for a plain D)."""
    return d(x, y, with_classes=True) if supervised else (d(x, y), None)


def d_update(
    g: torch.nn.Module, d: torch.nn.Module, opt_d: torch.optim.Optimizer, b: Batch, c: StepConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """(1) Update D on batch `b` against fakes G draws for it. D minimises, on its logits
    (objectives.d_loss): bce -log s(D(x)) - log(1 - s(D(G(z)))); hinge relu(1 - D(x)) +
    relu(1 + D(G(z))); wgan-gp D(G(z)) - D(x) + gp_weight * the gradient penalty; plus, for a
    supervised D, the cross-entropy of each real image's digit. Returns (d_loss, D(x),
    D(G(z))) on the device, D(.) being s(logit), the sigmoid: a probability for bce, a
    squashed critic score otherwise; and the fakes, whose graph through G the G update
    reuses."""
    # D without batch norm scores each image on its own: one pass over real and fake together
    # is the same maths with bigger, faster matrix products (batch norm needs separate batches)
    one_pass = not any(isinstance(m, BATCH_NORMS) for m in d.modules())
    critic = distributed.unwrapped(d)
    supervised = getattr(critic, "supervised", False)
    with c.autocast():
        fake = g(b.z, b.fake_y)
        real_y = b.real_y if b.fake_y is not None else None  # a conditional D's labels
        if one_pass:
            y = None if real_y is None else torch.cat([real_y, b.fake_y])
            logits, classes = scores(d, torch.cat([b.real, fake.detach()]), y, supervised)
            real_logit, fake_logit = logits.chunk(2)
        else:
            real_logit, classes = scores(d, b.real, real_y, supervised)
            fake_logit = d(fake.detach(), b.fake_y)
        d_loss = objectives.d_loss(c.loss, real_logit, fake_logit)
        if supervised:  # the digit of each real image: the first len(real) rows
            d_loss = d_loss + F.cross_entropy(classes[: len(b.real)], b.real_y)
        if c.loss == "wgan-gp":
            d_loss = d_loss + c.gp_weight * objectives.gradient_penalty(
                critic, b.real, fake, real_y, b.eps
            )
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    stats = [d_loss, torch.sigmoid(real_logit).mean(), torch.sigmoid(fake_logit).mean()]
    return torch.stack(stats).detach(), fake


def g_update(
    d: torch.nn.Module, opt_g: torch.optim.Optimizer, fake: torch.Tensor, b: Batch, c: StepConfig
) -> torch.Tensor:
    """(2) Update G on `fake`, drawn for batch `b`. G minimises (objectives.g_loss): bce
    -log s(D(G(z))); hinge and wgan-gp -D(G(z)); plus, with a supervised D, `balance` times
    its class-balance term and, for a conditional G, `digit_loss` times the cross-entropy
    between the digit D reads in a fake and the digit it was drawn as. Returns G's loss, on
    the device."""
    critic = distributed.unwrapped(d)  # no DDP sync of D's gradients: D is not updated here
    supervised = getattr(critic, "supervised", False)
    d.requires_grad_(False)  # G's update needs grads through D, not D's weight grads
    with c.autocast():
        logit, classes = scores(critic, fake, b.fake_y, supervised)
        g_loss = objectives.g_loss(c.loss, logit)
        if supervised and c.balance > 0:
            g_loss = g_loss + c.balance * objectives.class_balance(classes, c.prior)
        if supervised and c.digit_loss > 0 and b.fake_y is not None:
            g_loss = g_loss + c.digit_loss * F.cross_entropy(classes.float(), b.fake_y)
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
    c: StepConfig,
) -> torch.Tensor:
    """(1) one D update per batch, then (2) one G update on the last batch's fakes. Returns
    the means of (d_loss, g_loss, D(x), D(G(z))) on the device."""
    d_stats = []
    for b in batches:
        stats, fake = d_update(g, d, opt_d, b, c)
        d_stats.append(stats)
    g_loss = g_update(d, opt_g, fake, b, c)
    d_mean = torch.stack(d_stats).mean(0)
    return torch.cat([d_mean[:1], g_loss.view(1), d_mean[1:]])


def lr_scale(step: int, total: int, decay: float) -> float:
    """The learning rates' factor at `step` of `total`: 1, then over the last `decay` share of
    training a linear fall to 0 at the end. Stateless, so a resumed run follows it too."""
    start = total * (1 - decay)
    return 1.0 if step < start else (total - step) / (total - start)


def schedule_lrs(nets: Nets, train_params: TrainParams, step: int, total: int) -> None:
    scale = lr_scale(step, total, train_params.lr_decay)
    for opt, lr in ((nets.opt_g, train_params.lr_g), (nets.opt_d, train_params.lr_d)):
        for group in opt.param_groups:
            group["lr"] = lr * scale


def build_nets(model_params: ModelParams, train_params: TrainParams, device: torch.device) -> Nets:
    g, d = (devices.place_net(net, device) for net in build(model_params, train_params.seed))
    g_ema = copy.deepcopy(g) if train_params.ema is not None else None
    betas = (train_params.beta1, train_params.beta2)
    # fused: one kernel per step for all params, on CPU and Apple GPUs too (torch >= 2.4)
    opt_g = torch.optim.Adam(g.parameters(), lr=train_params.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=train_params.lr_d, betas=betas, fused=True)
    rng = torch.Generator(devices.generator_device(device)).manual_seed(train_params.seed)
    return Nets(g, d, g_ema, opt_g, opt_d, rng)


@dataclass(frozen=True)
class Run:
    """A training run once set up: what every epoch reads."""

    model_params: ModelParams
    train_params: TrainParams
    checkpoint: Path
    world: World
    device: torch.device
    my_rows: slice  # this process's rows of every batch
    steps: int  # generator steps per epoch
    nets: Nets
    g: torch.nn.Module  # nets.g and nets.d as the step calls them: in DDP, maybe compiled
    d: torch.nn.Module
    images: torch.Tensor  # the training set on the device, in [-1, 1]
    labels: torch.Tensor | None  # None when the model does not use them
    config: StepConfig


def train_step(run: Run, order: torch.Tensor, step: int, i: int) -> torch.Tensor:
    """Step `i` of an epoch whose images come in `order`, step `step` of the run: learning
    rates, batches, the GAN step, the EMA. Returns its stats on the device: no host sync."""
    nets, train_params = run.nets, run.train_params
    schedule_lrs(nets, train_params, step, train_params.epochs * run.steps)
    batches = draw_batches(
        run.images, run.labels, order, i, train_params, run.model_params, nets.rng, run.my_rows
    )
    stats = gan_step(run.g, run.d, nets.opt_g, nets.opt_d, batches, run.config)
    if nets.g_ema is not None:
        update_ema(nets.g_ema, nets.g, warmed_decay(train_params.ema, step))
    return stats


def mean_of(total: torch.Tensor, n: int, world: World) -> list[float]:
    """The mean of `n` summed step stats over every rank, and `total` zeroed: the one host
    sync (and, under torchrun, the one all-reduce) per logging interval."""
    means = (distributed.mean_(total, world) / n).tolist()
    total.zero_()
    return means


def train_epoch(
    run: Run, epoch: int, history: History, on_row: OnRow, pace: progress.Pace | None = None
) -> dict[str, float]:
    """Epoch `epoch`'s steps in a fresh order of the images, a logged row every
    train.log_every steps, the run's `pace` told once, early. Returns the epoch's means."""
    nets, train_params, steps = run.nets, run.train_params, run.steps
    nets.g.train()
    nets.d.train()
    order = torch.randperm(len(run.images), generator=nets.rng, device=nets.rng.device)
    order = order.to(run.device)
    epoch_sum = torch.zeros(4, device=run.device, dtype=devices.sum_dtype(run.device))
    log_sum, logged = torch.zeros_like(epoch_sum), 0
    desc = f"epoch {epoch}/{train_params.epochs}"
    bar = tqdm(range(steps), desc=desc, disable=None, leave=False)
    beat = progress.Heartbeat()  # without a terminal (no bar), a line every minute
    for i in bar:
        step = (epoch - 1) * steps + i
        stats = train_step(run, order, step, i)
        epoch_sum += stats
        log_sum += stats
        logged += 1
        if (step + 1) % train_params.log_every == 0 or i == steps - 1:
            means = mean_of(log_sum, logged, run.world)
            logged = 0
            if not all(map(math.isfinite, means)):
                raise resume.diverged(
                    f"non-finite loss at epoch {epoch}, step {step + 1}", run.checkpoint
                )
            history.rows.append([step + 1, epoch, *means])
            on_row(history.rows[-1])
            bar.set_postfix(d_loss=f"{means[0]:.3f}", g_loss=f"{means[1]:.3f}")
        if pace and (line := pace.step()) and run.world.main:
            log_line(line)
        elif beat.due() and run.world.main:
            log_line(f"{desc}, step {i + 1}/{steps}")  # not "epoch k/n:", the epoch's end
    return dict(zip(COLUMNS[2:], mean_of(epoch_sum, steps, run.world), strict=True))


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


@dataclass
class Result:
    generator: torch.nn.Module  # the raw generator, the last iterate of training
    generator_ema: torch.nn.Module | None  # its moving average, when train.ema is set
    discriminator: torch.nn.Module
    history: History
    seconds: float
    images_seen: int


def for_callers(net: torch.nn.Module | None) -> torch.nn.Module | None:
    """A trained net as callers get it: on the CPU, contiguous, in eval mode."""
    return None if net is None else net.cpu().to(memory_format=torch.contiguous_format).eval()


def train(
    images: torch.Tensor,
    model_params: ModelParams,
    train_params: TrainParams,
    checkpoint: Path,
    labels: torch.Tensor | None = None,
    on_row: OnRow = no_callback,
    on_epoch: OnEpoch = no_callback,
    world: World = distributed.ALONE,
) -> Result:
    """Train on uint8 `images` (N, 1, 28, 28) (and their int64 `labels` (N,), needed when the
    model is conditional), resuming from `checkpoint` when it matches. `on_row` and `on_epoch`
    see every logged row and finished epoch once, in order, resumed or not (live progress).
    Under torchrun (`world`, see mnistgan.gan.distributed) each process trains on its slice of
    every batch; rank 0 alone reads and writes the checkpoint."""
    epochs, batch_size = train_params.epochs, train_params.batch_size
    labels = digits.used_labels(model_params, labels)
    steps = steps_per_epoch(len(images), train_params)
    digits.check_balance(train_params, labels if model_params.supervised_d else None)
    device = distributed.local_device(devices.resolve(train_params.device, "train.device"), world)
    # a bad train.amp is refused here, before any work
    autocast = devices.precision(train_params.amp, device)
    trained_on = f"{device.type} in {devices.computes_in(train_params.amp, device)}"

    # Set up: the nets, resumed from the checkpoint when it is this run's
    nets = build_nets(model_params, train_params, device)
    identity = resume.fingerprint(
        model_params, train_params, images, labels, (nets.g, nets.d), trained_on
    )
    now = resume.settings(model_params, train_params, trained_on)
    start, logged = 0, {}
    if world.main:
        start, logged = resume.load_resume(checkpoint, identity, trained_on, nets, epochs, now)
    if world.size > 1:  # rank 0 alone reads the checkpoint; every rank starts from its state
        state, logged, start = distributed.from_main((nets.state_dict(), logged, start), world)
        nets.load_state_dict(state)
    history = History(**logged)
    resume.replay(history, on_row, on_epoch)

    images = to_unit(images).to(device)  # the whole set lives on the device
    labels = labels.to(device) if labels is not None else None
    prior = None if labels is None else digit_frequencies(labels)
    g, d = distributed.wrap(nets.g, world, device), distributed.wrap(nets.d, world, device)
    if train_params.compile:
        g, d = torch.compile(g), torch.compile(d)
    config = step_config(train_params, prior, autocast)
    my_rows = distributed.rows(batch_size, world)
    run = Run(
        model_params, train_params, checkpoint, world, device, my_rows, steps, nets, g, d,
        images, labels, config,
    )  # fmt: skip
    grid_z, grid_y = grid_latents(model_params, train_params.seed + 1)

    # The epochs: train, check, draw the grid, checkpoint, tell
    began, threads = time.perf_counter(), torch.get_num_threads()

    def why_slow(cpu_seconds: float, wall_seconds: float) -> str:
        on_cpu = device.type == "cpu"
        return cpu.contention(cpu_seconds, wall_seconds, threads) if on_cpu else ""

    pace = progress.Pace(f"training on {trained_on}", (epochs - start) * steps, why_slow)
    for epoch in range(start + 1, epochs + 1):
        epoch_began, cpu_began = time.perf_counter(), time.process_time()
        history.epoch_means.append(train_epoch(run, epoch, history, on_row, pace))
        resume.check_nets(nets, epoch, checkpoint)
        sampled = nets.g_ema if nets.g_ema is not None else nets.g
        history.grids.append(generate(sampled, grid_z, grid_y))
        if world.main:
            resume.save_resume(checkpoint, identity, trained_on, epoch, nets, vars(history), now)
            seconds = time.perf_counter() - epoch_began
            left = progress.epoch_pace(seconds, epochs - epoch)
            left += why_slow(time.process_time() - cpu_began, seconds)
            log_line(f"epoch {epoch}/{epochs}: {progress.numbers(history.epoch_means[-1])}{left}")
        on_epoch(epoch, history.epoch_means[-1], history.grids[-1])

    seconds = time.perf_counter() - began
    images_seen = (epochs - start) * steps * batch_size * train_params.d_steps
    nets_out = for_callers(nets.g), for_callers(nets.g_ema), for_callers(nets.d)
    return Result(*nets_out, history, seconds, images_seen)
