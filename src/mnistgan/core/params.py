"""params.yaml as typed, validated config objects: a typo or a bad value is an error that
names the key, never a silent default. Every key is required, so params.yaml is the one
place where values live.

Names across the code: `p` is a whole Params (`p.train.lr_g` reads as the key does); a
section handed on its own is named after it (`model_params`, `train_params`, ...); networks
are `g`, `d`, `g_ema`, `classifier`, or `net` for any one, never `model` or `cfg`."""

import math
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import ruamel.yaml
from ruamel.yaml.composer import ComposerError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode
from ruamel.yaml.reader import ReaderError

from mnistgan.core import files
from mnistgan.core.errors import UserError

# Upper bounds on sizes: far above real use, low enough that a typo (1e9) is refused naming
# its key instead of meeting the allocator or the OOM killer. A model file's stored config is
# checked by the same ModelParams rules, so it cannot ask for more either.
MAX_Z_DIM = 1024  # G's first layer maps z to 2f*7*7: 1024 x 100352 weights at f = 1024
MAX_WIDTH = 1024  # model.features, d_features: 32x the default; G's 14x14 conv has 2f*f*16
MAX_REFINE = 16  # model.g_refine: 3x3 convs at 28x28
MAX_IMAGES = 1_000_000  # image counts: sample and generate hold them all, 784 bytes each
MAX_GRID = 1024  # images in one PNG grid
MAX_BATCH = 8192  # activations grow with the batch; large-batch GANs train at 2048
MAX_EPOCHS = 100_000
MAX_D_STEPS = 100
MAX_LOG_EVERY = 1_000_000  # past the steps of any epoch: one row per epoch
MAX_CORES = 1024  # train.threads, train.processes; the train stage also holds both to the cores
MAX_TEMPERATURE = 4.0  # sample.temperature, generate --temperature: past it, z is mostly tails
MAX_SEED = 2**63  # seeds are in [0, 2^63): torch takes < 2^64, and stages add small offsets
# Lower bounds that code sets: every generator has batch norm, which needs 2 images a batch
# in training (training drops a last, partial batch); evaluate's k-NN metrics need more
# images than their neighbours (mnistgan.evaluation.quality.K = 5).
MIN_BATCH = 2
MIN_SCORED = 6
MAX_DEPTH = 32  # nested values in a params file or search spec: they use three levels


def rule(expect: str, ok: typing.Callable[[Any], bool]) -> Any:
    """A field whose value must satisfy `ok`; `expect` says what that means in the error."""
    return field(metadata={"expect": expect, "ok": ok})


def between(lo: int, hi: int) -> Any:
    return rule(f"an integer in [{lo}, {hi}]", lambda v: lo <= v <= hi)


def seed_int() -> Any:
    return rule("an integer in [0, 2^63)", lambda v: 0 <= v < MAX_SEED)


def positive_float() -> Any:
    return rule("a number > 0", lambda v: v > 0)


def threads_rule() -> Any:
    """null (every core) or a thread count: capped by the cores this process may use
    (cpu.set_threads)."""
    return rule(
        f"null (all cores) or an integer in [1, {MAX_CORES}]",
        lambda v: v is None or 1 <= v <= MAX_CORES,
    )


def beta() -> Any:
    return rule("a number in [0, 1)", lambda v: 0 <= v < 1)


@dataclass(frozen=True)
class DataParams:
    dataset: Literal["mnist", "fashion-mnist", "kmnist"]
    source: str | None  # a folder with the four IDX files, copied instead of downloaded
    val_size: int = rule(  # the real floor scores evaluate.n_samples of them
        f"an integer in [{MIN_SCORED}, {MAX_IMAGES}] (the real floor of evaluate draws from them)",
        lambda v: MIN_SCORED <= v <= MAX_IMAGES,
    )
    limit: int | None = rule(  # a training batch holds at least MIN_BATCH images
        f"null or an integer in [{MIN_BATCH}, {MAX_IMAGES}]",
        lambda v: v is None or MIN_BATCH <= v <= MAX_IMAGES,
    )
    seed: int = seed_int()


@dataclass(frozen=True)
class ModelParams:
    arch: Literal["mlp", "dcgan"]
    z_dim: int = between(1, MAX_Z_DIM)
    features: int = between(1, MAX_WIDTH)  # dcgan G: channels of its widest conv layer / 2
    d_features: int = between(1, MAX_WIDTH)  # dcgan D: channels of its first conv layer
    conditional: bool  # class-conditional G and (projection) D
    spectral_norm: bool  # spectral normalisation of every D layer
    d_norm: Literal["batch", "layer", "none"]  # dcgan D's normalisation; wgan-gp needs no batch
    supervised_d: bool  # D also learns the digit of real images (G stays label-free)
    g_refine: int = between(0, MAX_REFINE)  # dcgan G: 3x3 convs at 28x28
    g_taper: bool  # dcgan G: f/2 channels at 28x28, not f (a quarter of those layers' cost)
    mixture: int = rule(  # a discrete latent; below z_dim
        f"0 or an integer in [2, {MAX_Z_DIM - 1}]", lambda v: v == 0 or 2 <= v < MAX_Z_DIM
    )


@dataclass(frozen=True)
class TrainParams:
    epochs: int = between(1, MAX_EPOCHS)
    batch_size: int = rule(
        f"an integer in [{MIN_BATCH}, {MAX_BATCH}] (the generator's batch norm needs 2 images)",
        lambda v: MIN_BATCH <= v <= MAX_BATCH,
    )
    lr_g: float = positive_float()
    lr_d: float = positive_float()
    lr_decay: float = rule("a number in [0, 1]", lambda v: 0 <= v <= 1)  # share of training
    beta1: float = beta()
    beta2: float = beta()
    seed: int = seed_int()
    device: Literal["auto", "cpu", "cuda", "mps"]  # auto: cuda, else mps, else cpu
    threads: int | None = threads_rule()
    amp: Literal["bf16", "auto"] | None  # bf16 autocast (device.autocast says where)
    compile: bool  # torch.compile the two models
    log_every: int = between(1, MAX_LOG_EVERY)
    loss: Literal["bce", "hinge", "wgan-gp"]
    gp_weight: float = rule("a number >= 0", lambda v: v >= 0)  # wgan-gp only
    d_steps: int = between(1, MAX_D_STEPS)  # D updates per G update
    ema: float | None = rule("null or a number in [0, 1)", lambda v: v is None or 0 <= v < 1)
    balance: float = rule("a number >= 0", lambda v: v >= 0)  # supervised D only
    digit_loss: float = rule("a number >= 0", lambda v: v >= 0)  # conditional only
    processes: int = between(1, MAX_CORES)  # data-parallel processes (torchrun) on this machine


@dataclass(frozen=True)
class SampleParams:
    n: int = between(MIN_SCORED, MAX_IMAGES)  # evaluate scores n_samples of them
    seed: int = seed_int()
    grid: int = between(1, MAX_GRID)
    keep: float = rule("a number in (0, 1]", lambda v: 0 < v <= 1)  # share of drafts kept
    temperature: float = rule(  # scale of z
        f"a number in (0, {MAX_TEMPERATURE:g}]", lambda v: 0 < v <= MAX_TEMPERATURE
    )
    device: Literal["auto", "cpu", "cuda", "mps"]  # where G draws (D's rejection: the CPU)


@dataclass(frozen=True)
class EvaluatorParams:
    epochs: int = between(1, MAX_EPOCHS)
    batch_size: int = between(1, MAX_BATCH)
    lr: float = positive_float()
    seed: int = seed_int()
    device: Literal["auto", "cpu", "cuda", "mps"]  # where it trains (it is scored on the CPU)
    threads: int | None = threads_rule()


@dataclass(frozen=True)
class EvaluateParams:
    n_samples: int = rule(
        f"an integer in [{MIN_SCORED}, {MAX_IMAGES}] (the k-NN metrics need more than 5)",
        lambda v: MIN_SCORED <= v <= MAX_IMAGES,
    )
    seed: int = seed_int()


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelParams
    train: TrainParams
    sample: SampleParams
    evaluator: EvaluatorParams
    evaluate: EvaluateParams


def preview(value: Any, width: int = 80) -> str:
    """repr(value) cut to `width` characters, without first building the whole of it: a
    value may nest billions of items (a model file's shared references, say)."""
    try:
        text = _PREVIEW.repr(value)
    except ValueError:  # an int of more digits than Python prints
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[: width - 3] + "..."


_PREVIEW = reprlib.Repr()
_PREVIEW.maxlevel = 2  # with maxlist, maxdict (6, 4): a few dozen items at most


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past the largest float
        return False


def _fits(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) is Literal:
        return value in typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return value is None if hint is type(None) else isinstance(value, hint)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if hint is bool:  # as YAML writes them: `yes` and `on` are strings to DVC
        return "true or false"
    return "null" if hint is type(None) else f"a value of type {hint.__name__}"


def parse_section(cls: type, raw: Any, prefix: str) -> Any:
    """A validated `cls` built from the mapping `raw`; `prefix` prefixes keys in errors."""
    if not isinstance(raw, dict):
        raise UserError(f"{prefix or 'params'}: got {preview(raw)}, expected a mapping")
    names = [f.name for f in fields(cls)]
    for key in raw:
        if key not in names:
            key = f"{prefix}.{key[:80] if isinstance(key, str) else preview(key)}".lstrip(".")
            raise UserError(f"{key}: unknown key (expected one of: {', '.join(names)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields(cls):
        key, hint = f"{prefix}.{f.name}".lstrip("."), hints[f.name]
        if f.name not in raw:
            raise UserError(f"{key}: missing")
        value = raw[f.name]
        if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
            values[f.name] = parse_section(hint, value, key)
            continue
        expect = f.metadata.get("expect")
        if not _fits(value, hint) or not f.metadata.get("ok", lambda v: True)(value):
            raise UserError(f"{key}: got {preview(value)}, expected {expect or _describe(hint)}")
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
    if p.sample.n / p.sample.keep > MAX_IMAGES:  # G draws them all before D keeps n
        raise UserError(
            f"sample.keep: got {p.sample.keep}, so G would draw sample.n / keep = "
            f"{p.sample.n / p.sample.keep:.3g} drafts, expected at most {MAX_IMAGES}"
        )
    if p.train.batch_size % p.train.processes:
        raise UserError(
            f"train.processes: got {p.train.processes}, expected a divisor of train.batch_size "
            f"({p.train.batch_size}): each process trains on an equal slice of every batch"
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
    cross_check_sizes(p)
    return p


def cross_check_sizes(p: Params) -> None:
    """The rules between sizes of different sections, which each stage checks on load: a
    value that would stop a later stage stops the first one instead."""
    n = p.evaluate.n_samples
    for key, have, why in (
        ("data.val_size", p.data.val_size, "the real floor scores as many held-out images"),
        ("sample.n", p.sample.n, "it scores that many samples"),
    ):
        if n > have:
            raise UserError(f"evaluate.n_samples: got {n}, expected at most {key} ({have}): {why}")
    if p.data.limit is None:  # else the training set's size is known only to prepare
        return
    per_step = p.train.batch_size * p.train.d_steps
    if per_step > p.data.limit:
        raise UserError(
            f"train.batch_size: got {p.train.batch_size} (x train.d_steps {p.train.d_steps} "
            f"a step), expected at most data.limit ({p.data.limit}), the training images"
        )
    if p.evaluator.batch_size > p.data.limit:
        raise UserError(
            f"evaluator.batch_size: got {p.evaluator.batch_size}, expected at most data.limit "
            f"({p.data.limit}), the training images"
        )


class Composer(ruamel.yaml.composer.Composer):
    """DVC's composer, refusing what its reading leaves open: aliases, which nest into
    billions of values in a few lines; values nested too deep; a key written twice, named
    section.key (ruamel's own check names the last part alone); a %YAML directive other
    than 1.2 (DVC would read the key `n` as false); and `010`, 10 to DVC, 8 to YAML 1.1."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.key_path: list[str] = []  # the keys down to the node being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        event, version = self.parser.peek_event(), self.loader.version
        if parent is None and version not in (None, (1, 2)):
            v = f"1.{version[1]}"
            fail(f"%YAML {v} makes DVC read the file as YAML {v}: delete the directive", None)
        if isinstance(event, AliasEvent):
            fail(f"*{event.anchor}: params take no aliases", event.start_mark)
        if len(self.key_path) > MAX_DEPTH:
            fail("values nested too deeply", event.start_mark)
        label = index.value if isinstance(index, ScalarNode) else "?" if parent else ""
        self.key_path.append(f"[{index}]" if isinstance(index, int) else label)
        node = super().compose_node(parent, index)
        key = ".".join(self.key_path[1:]).replace(".[", "[")  # [0] is the root's: ""
        self.key_path.pop()
        if parent is not None and octal(node):  # a value alone (a flag's) is no file
            number = node.value.replace("_", "")
            fail(
                f"{key}: DVC reads {node.value} as {int(number)} (YAML 1.2), YAML 1.1 as "
                f"{int(number, 8)}: write it without the leading 0",
                node.start_mark,
            )
        seen = set()
        for k, _ in node.value if isinstance(node, MappingNode) else ():
            if isinstance(k, ScalarNode) and (str(k.tag), k.value) in seen:
                fail(f"{f'{key}.' if key else ''}{k.value}: written twice", k.start_mark)
            seen.add((str(k.tag), k.value) if isinstance(k, ScalarNode) else id(k))
        return node


def octal(node: Any) -> bool:
    """Whether YAML 1.1 reads `node`, a plain integer, as octal: another number than DVC's."""
    if not isinstance(node, ScalarNode) or node.style or not str(node.tag).endswith(":int"):
        return False
    digits = node.value.lstrip("+-").replace("_", "")
    return bool(re.fullmatch("0[0-7]+", digits)) and int(digits, 8) != int(digits)


def fail(problem: str, mark: Any) -> typing.NoReturn:
    raise ComposerError(None, None, problem, mark)


def read_yaml_12(text: str) -> Any:
    """`text` as DVC reads params files (dvc.utils.serialize.parse_yaml: ruamel.yaml's safe
    loader, YAML 1.2), so as dvc.lock, `dvc params diff` and `dvc exp show` record it, or
    refused by Composer. Values are plain dict, list, str, int, float, bool or None."""
    reader = ruamel.yaml.YAML(typ="safe", pure=True)  # pure: the C parser composes in C
    reader.Composer = Composer
    return reader.load(text)


def place(text: str, position: int) -> tuple[int, int]:
    """The line and column (from 1) of character `position` of `text`."""
    return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)


def stray_bom(path: str | Path, text: str) -> None:
    """Refuse a byte order mark past the file's first character: invisible in an editor, it
    makes the key after it another key (DVC reads "\ufeffmodel", not model)."""
    at = text.find("\ufeff", 1)  # the first character may be one: every reader skips it
    if at < 0:
        return
    line, column = place(text, at)
    key = re.match(r"[^\s:#]*", text[at + 1 :])[0]
    raise UserError(
        f"{path}: line {line}, column {column}: an invisible byte order mark (U+FEFF) before "
        f"{key or 'a value'!r}: delete it"
    )


def read(path: str | Path) -> Any:
    """The params file at `path` as DVC reads it (read_yaml_12), or one line naming the
    problem and, where there is one, the key."""
    text = files.read_text(path, "params")  # a regular file, bounded: not /dev/zero, no FIFO
    stray_bom(path, text)
    try:
        return read_yaml_12(text)
    except ReaderError as e:  # a character YAML refuses: where, and which
        line, column = place(text, e.position)
        raise UserError(
            f"{path}: cannot read params (line {line}, column {column}: character "
            f"U+{e.character:04X}{' (NUL)' if e.character == 0 else ''}, which YAML does "
            "not allow: delete it)"
        ) from None
    except MarkedYAMLError as e:  # one line, not several
        line = f"line {e.problem_mark.line + 1}: " if e.problem_mark else ""
        problem = str(e.problem).strip().splitlines()[0]
        raise UserError(f"{path}: cannot read params ({line}{problem})") from None
    except (ValueError, ruamel.yaml.YAMLError) as e:  # ValueError: an int of 4300+ digits
        raise UserError(f"{path}: cannot read params ({str(e).strip().splitlines()[0]})") from None


def load(path: str | Path = "params.yaml") -> Params:
    raw = read(path)
    if not isinstance(raw, dict):  # an empty file is None
        sections = ", ".join(f.name for f in fields(Params))
        raise UserError(f"{path}: got {preview(raw)}, expected a mapping of {sections}")
    return parse(raw)
