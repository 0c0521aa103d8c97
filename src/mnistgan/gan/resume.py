"""The resume checkpoint (models/checkpoint.pt): all that training has changed by the end of
an epoch (nets, optimizers, noise generator, what it logged) under a fingerprint of what it
trains on, so a killed run resumes where it was and ends byte-identical to an uninterrupted
one. Unlike a model file (mnistgan.core.checkpoint) it lives only as long as one run.

Its tensors are saved on the CPU, so it loads on any machine; it resumes only on the device
type and precision it was trained in (a GPU's noise generator is no CPU's, and its numbers
differ), and elsewhere says so in one line and trains afresh."""

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnistgan.core import atomic
from mnistgan.core.checkpoint import RESUME_FILE_BYTES, load_safely
from mnistgan.core.device import on_cpu
from mnistgan.core.errors import UserError
from mnistgan.core.params import ModelParams, TrainParams
from mnistgan.core.progress import log_line

LOGGED = ("rows", "epoch_means", "grids")  # what training logged so far (History)
NETS = ("g", "g_ema", "d")  # the networks among the nets' state (Nets)


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


@dataclass
class History:
    """What training logged so far; saved in checkpoints so resumed runs log the same."""

    rows: list[list[float]] = field(default_factory=list)  # training.COLUMNS, per logging step
    epoch_means: list[dict[str, float]] = field(default_factory=list)
    grids: list[torch.Tensor] = field(default_factory=list)  # fixed-noise samples per epoch


def replay(
    history: History,
    on_row: Callable[[list[float]], None],
    on_epoch: Callable[[int, dict[str, float], torch.Tensor], None],
) -> None:
    """Show the callbacks what a resumed run logged before, in the order a fresh run did:
    each epoch's rows (a row's column 1 is its epoch), then that epoch's end."""
    rows = iter(history.rows)
    row = next(rows, None)
    for epoch, (means, grid) in enumerate(zip(history.epoch_means, history.grids, strict=True)):
        while row is not None and row[1] <= epoch + 1:
            on_row(row)
            row = next(rows, None)
        on_epoch(epoch + 1, means, grid)


def settings(model: ModelParams, train: TrainParams, trained_on: str) -> dict[str, Any]:
    """What a checkpoint's fingerprint holds of the params, flat ("train.threads": 2): the
    model and training params, and `trained_on`, the device type and precision chosen (e.g. "cuda
    in bf16"), not the settings train.device and train.amp (`auto` is a CPU on one machine, a
    GPU on another); not the number of processes (they train the same model), nor the epoch
    count unless the learning rates decay towards the last epoch. Kept in the checkpoint, so
    a run that cannot resume it can say which of them changed."""
    epochs = train.epochs if train.lr_decay else None
    chosen = {"epochs": epochs, "processes": None, "device": trained_on, "amp": None}
    sections = {"model": asdict(model), "train": asdict(train) | chosen}
    return {f"{name}.{k}": v for name, values in sections.items() for k, v in values.items()}


def fingerprint(
    model: ModelParams,
    train: TrainParams,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    nets: tuple[torch.nn.Module, ...],
    trained_on: str,
) -> str:
    """Identifies what a checkpoint was trained on: its `settings`, the data, and the nets'
    weight shapes (a checkpoint from code whose layers have changed since is ignored, not
    half-loaded)."""
    shapes = [(k, list(v.shape)) for net in nets for k, v in net.state_dict().items()]
    h = hashlib.sha256(json.dumps([settings(model, train, trained_on), shapes]).encode())
    h.update(images.numpy().tobytes())
    if labels is not None:
        h.update(labels.numpy().tobytes())
    return h.hexdigest()


WHY_NOT = {  # why a change of these params makes a resumed run differ from a straight one
    "train.threads": "torch's CPU results change with the thread count",
}


def unlike(saved: Any, now: dict[str, Any]) -> str:
    """Why a checkpoint with another fingerprint is not resumed: which of its `saved`
    settings differ from this run's (`now`), else other data or code."""
    saved = json.loads(saved) if isinstance(saved, str) else {}
    keys = [k for k in now if k in saved and saved[k] != now[k]]
    if not keys:
        return "it was trained on other data or with other code"
    told = [
        f"{k} {saved[k]!r}, now {now[k]!r}" + (f": {WHY_NOT[k]}" if k in WHY_NOT else "")
        for k in keys
    ]
    return f"it was trained with {'; '.join(told)}"


def save_resume(
    path: Path,
    identity: str,
    trained_on: str,
    epoch: int,
    nets: Nets,
    logged: dict,
    trained_with: dict[str, Any] | None = None,
) -> None:
    """`nets` and `logged` (LOGGED's lists) after `epoch`, under their fingerprint
    `identity`, on the CPU, with `trained_on` and the `settings` they were trained with."""
    # "where": the key that holds trained_on in every checkpoint written so far
    state = {"fingerprint": identity, "where": trained_on, "epoch": epoch}
    state |= nets.state_dict() | logged
    atomic.write_torch(path, on_cpu(state | {"settings": json.dumps(trained_with or {})}))


def load_resume(
    path: Path,
    identity: str,
    trained_on: str,
    nets: Nets,
    epochs: int,
    now: dict[str, Any] | None = None,
) -> tuple[int, dict]:
    """(epochs done, LOGGED's lists) from the checkpoint at `path`, loaded into `nets`, when
    this very run made it (fingerprint `identity`, trained on the device type and precision
    this run trains on) and stopped before `epochs`; else (0, {}), a fresh start: a finished
    run's checkpoint is one a forced rerun must not copy.
    A checkpoint that cannot be loaded is moved aside, not a reason to fail: it is no DVC
    output, so nothing else would ever remove it, and every later run would stop on it."""
    if not path.exists():
        return 0, {}
    fresh = copy.deepcopy(nets.state_dict())  # a load that fails half-way is undone
    try:
        state = load_safely(path, RESUME_FILE_BYTES, "training checkpoint")
        if not isinstance(state, dict) or "fingerprint" not in state:
            raise UserError("not a training checkpoint")
        if state.get("where", trained_on) != trained_on:
            on = state["where"]
            log_line(f"ignoring {path}: it was trained on {on}, this run trains on {trained_on}")
            return 0, {}
        if state["fingerprint"] != identity:
            why = unlike(state.get("settings"), now or {})
            log_line(f"ignoring {path}: {why}; training from epoch 1")
            return 0, {}
        if state["epoch"] > epochs:
            log_line(f"ignoring {path}: it is past train.epochs={epochs}")
            return 0, {}
        if state["epoch"] == epochs:  # `dvc repro -f train` asks for training, not a copy
            log_line(f"ignoring {path}: its run finished all {epochs} epochs; training afresh")
            return 0, {}
        nets.load_state_dict(state)
        loaded = nets.state_dict()
        if any(non_finite(loaded[net]) is not None for net in NETS):
            raise UserError("it holds non-finite weights")
        logged = {k: state[k] for k in LOGGED}
    except Exception as e:  # anything in the file may be wrong: its content is not ours
        nets.load_state_dict(fresh)
        aside = path.with_name(path.name + ".bad")
        why = str(e).removeprefix(f"{path}: ")
        why = why if isinstance(e, UserError) else f"{type(e).__name__}: {why}"
        why = why.strip().splitlines()[0][:200]
        try:
            path.replace(aside)
            moved = f"moved it to {aside}"
        except OSError as err:  # the first epoch's checkpoint replaces it, or says why not
            moved = f"could not move it to {aside} ({err.strerror or err})"
        log_line(f"warning: ignoring {path} ({why}): {moved}, training from scratch")
        return 0, {}
    log_line(f"resuming from {path} after epoch {state['epoch']}")
    return state["epoch"], logged


def sampled_generator(path: Path) -> dict[str, torch.Tensor]:
    """The weights of the generator a run would ship if it stopped at the checkpoint at
    `path`: its EMA when training keeps one (for scoring a run as it goes)."""
    state = load_safely(path, RESUME_FILE_BYTES, "training checkpoint")
    return state["g_ema"] if state["g_ema"] is not None else state["g"]


def non_finite(state: dict[str, torch.Tensor] | None) -> str | None:
    """The name of the first floating-point entry of `state` holding NaN or inf, if any."""
    bad = (k for k, v in (state or {}).items() if v.is_floating_point() and not v.isfinite().all())
    return next(bad, None)


def diverged(what: str, checkpoint: Path) -> UserError:
    return UserError(
        f"training diverged: {what}; kept the last good checkpoint {checkpoint} and wrote no models"
    )


def check_nets(nets: Nets, epoch: int, checkpoint: Path) -> None:
    """Finite losses can hide a broken net: inf batch-norm statistics make G draw NaN."""
    for name, net in (
        ("generator", nets.g),
        ("generator's EMA", nets.g_ema),
        ("discriminator", nets.d),
    ):
        if (bad := non_finite(net.state_dict() if net is not None else None)) is not None:
            raise diverged(f"non-finite {bad} in the {name} at epoch {epoch}", checkpoint)
