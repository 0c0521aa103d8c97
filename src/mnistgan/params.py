"""params.yaml as typed, validated config objects: a typo or a bad value is an error that
names the key, never a silent default. Every key is required, so params.yaml is the one
place where values live."""

import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import UserError


def rule(expect: str, ok: typing.Callable[[Any], bool]) -> Any:
    """A field whose value must satisfy `ok`; `expect` says what that means in the error."""
    return field(metadata={"expect": expect, "ok": ok})


def positive_int() -> Any:
    return rule("an integer >= 1", lambda v: v >= 1)


def positive_float() -> Any:
    return rule("a number > 0", lambda v: v > 0)


def beta() -> Any:
    return rule("a number in [0, 1)", lambda v: 0 <= v < 1)


@dataclass(frozen=True)
class DataParams:
    dataset: Literal["mnist", "fashion-mnist", "kmnist"]
    source: str | None  # a folder with the four IDX files, copied instead of downloaded
    val_size: int = rule("an integer >= 0", lambda v: v >= 0)
    limit: int | None = rule("null or an integer >= 1", lambda v: v is None or v >= 1)
    seed: int


@dataclass(frozen=True)
class ModelParams:
    arch: Literal["mlp", "dcgan"]
    z_dim: int = positive_int()
    features: int = positive_int()  # dcgan G: channels of its widest conv layer / 2
    d_features: int = positive_int()  # dcgan D: channels of its first conv layer
    conditional: bool  # class-conditional G and (projection) D
    spectral_norm: bool  # spectral normalisation of every D layer
    d_norm: Literal["batch", "layer", "none"]  # dcgan D's normalisation; wgan-gp needs no batch
    supervised_d: bool  # D also learns the digit of real images (G stays label-free)
    g_refine: int = rule("an integer >= 0", lambda v: v >= 0)  # dcgan G: 3x3 convs at 28x28
    g_taper: bool  # dcgan G: f/2 channels at 28x28, not f (a quarter of those layers' cost)
    mixture: int = rule("0 or an integer >= 2", lambda v: v == 0 or v >= 2)  # discrete latent


@dataclass(frozen=True)
class TrainParams:
    epochs: int = positive_int()
    batch_size: int = positive_int()
    lr_g: float = positive_float()
    lr_d: float = positive_float()
    lr_decay: float = rule("a number in [0, 1]", lambda v: 0 <= v <= 1)  # share of training
    beta1: float = beta()
    beta2: float = beta()
    seed: int
    device: Literal["auto", "cpu", "cuda", "mps"]  # auto: cuda, else mps, else cpu
    threads: int | None = rule("null (all cores) or an integer >= 1", lambda v: v is None or v >= 1)
    amp: Literal["bf16", "auto"] | None  # bf16 autocast (device.autocast says where)
    compile: bool  # torch.compile the two models
    log_every: int = positive_int()
    loss: Literal["bce", "hinge", "wgan-gp"]
    gp_weight: float = rule("a number >= 0", lambda v: v >= 0)  # wgan-gp only
    d_steps: int = positive_int()  # D updates per G update
    ema: float | None = rule("null or a number in [0, 1)", lambda v: v is None or 0 <= v < 1)
    balance: float = rule("a number >= 0", lambda v: v >= 0)  # supervised D only
    digit_loss: float = rule("a number >= 0", lambda v: v >= 0)  # conditional only
    processes: int = positive_int()  # data-parallel processes (torchrun) on this machine


@dataclass(frozen=True)
class SampleParams:
    n: int = positive_int()
    seed: int
    grid: int = positive_int()
    keep: float = rule("a number in (0, 1]", lambda v: 0 < v <= 1)  # share of drafts kept
    device: Literal["auto", "cpu", "cuda", "mps"]  # where G draws (D's rejection: the CPU)


@dataclass(frozen=True)
class EvaluatorParams:
    epochs: int = positive_int()
    batch_size: int = positive_int()
    lr: float = positive_float()
    seed: int
    device: Literal["auto", "cpu", "cuda", "mps"]  # where it trains (it is scored on the CPU)


@dataclass(frozen=True)
class EvaluateParams:
    n_samples: int = positive_int()
    seed: int


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelParams
    train: TrainParams
    sample: SampleParams
    evaluator: EvaluatorParams
    evaluate: EvaluateParams


def _fits(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) is Literal:
        return value in typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return value is None if hint is type(None) else isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    return "null" if hint is type(None) else f"a value of type {hint.__name__}"


def parse_section(cls: type, raw: Any, where: str) -> Any:
    """A validated `cls` built from the mapping `raw`; `where` prefixes keys in errors."""
    if not isinstance(raw, dict):
        raise UserError(f"{where}: got {raw!r}, expected a mapping")
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            key = f"{where}.{key}".lstrip(".")
            raise UserError(f"{key}: unknown key (expected one of: {', '.join(names)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        key, hint = f"{where}.{f.name}".lstrip("."), hints[f.name]
        if f.name not in raw:
            raise UserError(f"{key}: missing")
        value = raw[f.name]
        if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            values[f.name] = parse_section(hint, value, key)
            continue
        expect = f.metadata.get("expect")
        if not _fits(value, hint) or not f.metadata.get("ok", lambda v: True)(value):
            raise UserError(f"{key}: got {value!r}, expected {expect or _describe(hint)}")
        values[f.name] = float(value) if hint is float else value
    return cls(**values)


def parse(raw: Any) -> Params:
    p = parse_section(Params, raw, "")
    if p.train.loss == "wgan-gp" and p.model.arch == "dcgan" and p.model.d_norm == "batch":
        # The gradient penalty is a per-image constraint; BatchNorm mixes the images of a batch.
        raise UserError(
            "train.loss: wgan-gp needs a discriminator without BatchNorm: "
            "set model.d_norm to layer or none"
        )
    if p.model.mixture >= p.model.z_dim:
        raise UserError(
            f"model.mixture: got {p.model.mixture}, but it picks a component from that many of "
            f"z's {p.model.z_dim} dims: it must be below model.z_dim"
        )
    if p.train.balance > 0 and not p.model.supervised_d:
        raise UserError(
            f"train.balance: got {p.train.balance}, but it weighs a supervised discriminator's "
            "class term: set model.supervised_d: true, or train.balance: 0"
        )
    if p.train.digit_loss > 0 and not p.model.supervised_d:
        raise UserError(
            f"train.digit_loss: got {p.train.digit_loss}, but it scores the digit a supervised "
            "discriminator reads in the fakes: set model.supervised_d: true, or "
            "train.digit_loss: 0"
        )
    return p


def load(path: str | Path = "params.yaml") -> Params:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{path}: cannot read params ({e})") from None
    return parse(raw)
