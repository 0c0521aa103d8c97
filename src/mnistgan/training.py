"""The GAN training loop: a choice of objective (mnistgan.objectives), train.d_steps D updates
per G update, an optional EMA of the generator, batches sliced from one in-memory tensor, and a
checkpoint at the end of every epoch so a killed run resumes where it was and finishes
byte-identical to an uninterrupted one."""

import contextlib
import copy
import hashlib
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from . import atomic, objectives
from .checkpoint import load_safely
from .cpu import keep_freed_memory, set_threads
from .ema import update_ema
from .errors import UserError
from .models import N_CLASSES, build
from .params import ModelParams, TrainParams
from .sampling import class_latents, generate, latents, to_unit

COLUMNS = ["step", "epoch", "d_loss", "g_loss", "d_real", "d_fake"]
GRID_SIZE = 64


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device: got 'cuda', but no CUDA device is available")
    return torch.device(name)


def autocast(amp: str | None, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA. Refused on CPU: without avx512_bf16/AMX (this project's 2-core
    EPYC has neither) it measured ~10x slower than fp32, and fp32 keeps runs byte-identical."""
    if amp is None:
        return contextlib.nullcontext()
    if device.type != "cuda":
        raise UserError(f"train.amp: got {amp!r}, but bf16 autocast is CUDA-only; use null on CPU")
    return torch.autocast("cuda", dtype=torch.bfloat16)


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move to `device`; conv models go channels_last (~25% faster dcgan steps on CPU, and
    the layout tensor cores want on GPU)."""
    model = model.to(device)
    if any(isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)
    return model


def fingerprint(
    model: ModelParams,
    train: TrainParams,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    nets: tuple[torch.nn.Module, ...],
) -> str:
    """Identifies what a checkpoint was trained on: params, data and the nets' weight shapes
    (a checkpoint from code whose layers have changed since is ignored, not half-loaded);
    not the epoch count."""
    shapes = [(k, list(v.shape)) for net in nets for k, v in net.state_dict().items()]
    config = [asdict(model), asdict(train) | {"epochs": None}, shapes]
    h = hashlib.sha256(json.dumps(config).encode())
    h.update(images.numpy().tobytes())
    if labels is not None:
        h.update(labels.numpy().tobytes())
    return h.hexdigest()


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


def gan_step(
    g, d, opt_g, opt_d, batches, loss, gp_weight, cast=contextlib.nullcontext
) -> torch.Tensor:
    """One D update per batch, then one G update on the last batch's fakes. `batches` holds
    (real, real_y, z, fake_y, eps) tuples (labels None when unconditional, eps only for the
    gradient penalty). Returns means of (d_loss, g_loss, D(x), D(G(z))) on device, where D(.)
    is sigmoid(logit): a probability for bce, only a squashed critic score otherwise.
    `cast` makes the forward passes' autocast context (backward runs outside it)."""
    # D without batch norm scores each image on its own: one pass over real and fake together
    # is the same maths with bigger, faster matrix products (batch norm needs separate batches)
    batch_norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    one_pass = not any(isinstance(m, batch_norms) for m in d.modules())
    d_stats = []
    for real, real_y, z, fake_y, eps in batches:
        with cast():
            fake = g(z, fake_y)
            if one_pass:
                y = None if real_y is None else torch.cat([real_y, fake_y])
                real_logit, fake_logit = d(torch.cat([real, fake.detach()]), y).chunk(2)
            else:
                real_logit, fake_logit = d(real, real_y), d(fake.detach(), fake_y)
            d_loss = objectives.d_loss(loss, real_logit, fake_logit)
            if loss == "wgan-gp":
                gp = objectives.gradient_penalty(d, real, fake, real_y, eps)
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
        g_loss = objectives.g_loss(loss, d(fake, fake_y))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    d.requires_grad_(True)
    d_mean = torch.stack(d_stats).mean(0)
    return torch.cat([d_mean[:1], g_loss.detach().view(1), d_mean[1:]])


def train(
    images: torch.Tensor,
    model_cfg: ModelParams,
    cfg: TrainParams,
    checkpoint: Path,
    labels: torch.Tensor | None = None,
) -> Result:
    """Train on uint8 `images` (N, 1, 28, 28) (and their int64 `labels` (N,), needed when the
    model is conditional), resuming from `checkpoint` when it matches."""
    device = resolve_device(cfg.device)
    batch, conditional = cfg.batch_size, model_cfg.conditional
    steps = len(images) // (batch * cfg.d_steps)
    if steps == 0:
        if len(images) < batch:
            raise UserError(
                f"train.batch_size: got {batch}, expected at most {len(images)} "
                "(the number of training images)"
            )
        raise UserError(
            f"train.d_steps: got {cfg.d_steps}, expected at most {len(images) // batch} "
            "(the number of batches of training images)"
        )
    if conditional and labels is None:
        raise UserError("model.conditional: true needs the labels of the training images")
    labels = labels if conditional else None
    set_threads(cfg.threads)
    keep_freed_memory()
    autocast(cfg.amp, device)  # refuse a bad train.amp before any work
    g, d = build(model_cfg, cfg.seed)
    g, d = prepare_model(g, device), prepare_model(d, device)
    g_ema = copy.deepcopy(g) if cfg.ema is not None else None
    # fused: one kernel per step for all params, on CPU too (torch >= 2.4)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2), fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2), fused=True)
    rng = torch.Generator(device).manual_seed(cfg.seed)
    fixed_z, fixed_y = fixed_latents(model_cfg, cfg.seed + 1)
    history, start = History(), 0

    print_ = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    fp = fingerprint(model_cfg, cfg, images, labels, (g, d))
    if checkpoint.exists():
        state = load_safely(checkpoint)
        if state.get("fingerprint") != fp:
            print_(f"ignoring {checkpoint}: it was trained with other params, data or code")
        elif state["epoch"] > cfg.epochs:
            print_(f"ignoring {checkpoint}: it is past train.epochs={cfg.epochs}")
        else:
            g.load_state_dict(state["g"])
            d.load_state_dict(state["d"])
            if g_ema is not None:
                g_ema.load_state_dict(state["g_ema"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            rng.set_state(state["rng"])
            history = History(state["rows"], state["epoch_means"], state["grids"])
            start = state["epoch"]
            print_(f"resuming from {checkpoint} after epoch {start}")

    data = to_unit(images).to(device)  # the whole set lives on the device, normalised once
    # compiled wrappers share parameters with g and d, whose state dicts keep plain keys
    g_step, d_step = (torch.compile(g), torch.compile(d)) if cfg.compile else (g, d)
    cast = lambda: autocast(cfg.amp, device)  # noqa: E731
    targets = labels.to(device) if labels is not None else None
    began, step = time.perf_counter(), start * steps
    for epoch in range(start, cfg.epochs):
        g.train()
        d.train()
        perm = torch.randperm(len(data), generator=rng, device=device)
        epoch_sum = torch.zeros(4, device=device, dtype=torch.float64)
        log_sum, log_n = torch.zeros_like(epoch_sum), 0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=None, leave=False)
        for i in bar:
            batches = []
            for k in range(i * cfg.d_steps, (i + 1) * cfg.d_steps):
                idx = perm[k * batch : (k + 1) * batch]
                z = torch.randn(batch, model_cfg.z_dim, generator=rng, device=device)
                real_y = fake_y = eps = None
                if conditional:
                    real_y = targets[idx]
                    fake_y = torch.randint(0, N_CLASSES, (batch,), generator=rng, device=device)
                if cfg.loss == "wgan-gp":
                    eps = torch.rand(batch, 1, 1, 1, generator=rng, device=device)
                batches.append((data[idx], real_y, z, fake_y, eps))
            stats = gan_step(g_step, d_step, opt_g, opt_d, batches, cfg.loss, cfg.gp_weight, cast)
            if g_ema is not None:
                update_ema(g_ema, g, cfg.ema)
            epoch_sum += stats
            log_sum += stats
            log_n += 1
            step += 1
            if step % cfg.log_every == 0 or i == steps - 1:
                means = (log_sum / log_n).tolist()  # the one host sync per logging interval
                if not all(map(math.isfinite, means)):
                    raise UserError(
                        f"training diverged: non-finite loss at epoch {epoch + 1}, step {step}; "
                        f"kept the last good checkpoint {checkpoint} and wrote no models"
                    )
                history.rows.append([step, epoch + 1, *means])
                bar.set_postfix(d_loss=f"{means[0]:.3f}", g_loss=f"{means[1]:.3f}")
                log_sum.zero_()
                log_n = 0
        means = (epoch_sum / steps).tolist()
        history.epoch_means.append(dict(zip(COLUMNS[2:], means, strict=True)))
        history.grids.append(generate(g_ema if g_ema is not None else g, fixed_z, fixed_y))
        atomic.write_torch(
            checkpoint,
            {
                "fingerprint": fp,
                "epoch": epoch + 1,
                "g": g.state_dict(),
                "d": d.state_dict(),
                "g_ema": g_ema.state_dict() if g_ema is not None else None,
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "rng": rng.get_state(),
                "rows": history.rows,
                "epoch_means": history.epoch_means,
                "grids": history.grids,
            },
        )
        print_(f"epoch {epoch + 1}/{cfg.epochs}: " + json.dumps(history.epoch_means[-1]))
    seconds = time.perf_counter() - began
    images_seen = (cfg.epochs - start) * steps * batch * cfg.d_steps
    g, d, ema = (
        m.cpu().to(memory_format=torch.contiguous_format).eval() if m is not None else None
        for m in (g, d, g_ema)
    )
    return Result(g, ema, d, history, seconds, images_seen)
