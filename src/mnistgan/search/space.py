"""What a search explores and what it wants: the space of params.yaml keys, the fixed values
every trial sets, and the objectives read from the pipeline's metrics. Written as flags or in a
small YAML file; checked against the params schema before anything runs, so a typo stops the
search in one line naming the key instead of failing every trial."""

import copy
import difflib
import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from mnistgan.core import params
from mnistgan.core.errors import UserError
from mnistgan.evaluation import metric_names

FORMS = "log:LO..HI, float:LO..HI, int:LO..HI or choice:A,B,..."
SPEC_KEYS = ("objectives", "space", "set")
DEFAULT_OBJECTIVE = {"val_fid": "min"}
SEED = "train.seed"  # the key --repeats sets, one experiment per value


@dataclass(frozen=True)
class Objective:
    metric: str  # a key of the pipeline's metrics files, as `dvc exp show` names it: val_fid
    direction: Literal["minimize", "maximize"]

    def __str__(self) -> str:
        return f"{self.metric} ({'lower' if self.direction == 'minimize' else 'higher'} is better)"


@dataclass(frozen=True)
class Spec:
    space: dict[str, BaseDistribution]  # params key (train.lr_g) -> where its values come from
    objectives: list[Objective]
    fixed: dict[str, Any] = field(default_factory=dict)  # params key -> value in every trial
    repeats: int = 1  # experiments per trial, on train.seed 0..repeats-1; the objective their mean


def scalar(text: str) -> Any:
    """A value as params.yaml reads it: 1e-4 is a float, null is None, bce a string."""
    return params.read_yaml_12(text) if text.strip() else text


def dimension(key: str, spec: Any) -> BaseDistribution:
    """One key's distribution from `log:1e-4..1e-2`, `int:32..256`, `choice:bce,hinge` or a
    YAML list of choices."""
    if isinstance(spec, list):
        return choices(key, spec)
    kind, colon, rest = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if kind == "choice" and colon:
        return choices(key, [scalar(v) for v in rest.split(",")])
    if kind not in ("log", "float", "int") or not colon or ".." not in rest:
        raise UserError(f"{key}: got {params.preview(spec)}, expected {FORMS}")
    lo, hi = (scalar(v) for v in rest.split("..", 1))
    number = int if kind == "int" else (int, float)
    if not all(isinstance(v, number) and not isinstance(v, bool) for v in (lo, hi)):
        expect = "integers" if kind == "int" else "numbers"
        raise UserError(f"{key}: got {spec!r}, expected {kind}:LO..HI with {expect} LO < HI")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UserError(f"{key}: got {spec!r}, expected LO < HI, both finite")
    if kind == "log" and lo <= 0:
        raise UserError(f"{key}: got {spec!r}, a log range needs LO > 0")
    if kind == "int":
        return IntDistribution(lo, hi)
    return FloatDistribution(float(lo), float(hi), log=kind == "log")


def choices(key: str, values: list) -> BaseDistribution:
    ok = (type(None), bool, int, float, str)
    if not values or not all(isinstance(v, ok) for v in values):
        raise UserError(f"{key}: got {params.preview(values)}, expected a list of plain values")
    if len(set(map(repr, values))) < len(values):
        raise UserError(f"{key}: got {params.preview(values)}, each choice once")
    return CategoricalDistribution(values)


def objective(metric: str, direction: Any) -> Objective:
    names = {"min": "minimize", "minimize": "minimize", "max": "maximize", "maximize": "maximize"}
    if not isinstance(metric, str) or not metric or direction not in names:
        raise UserError(f"objective {metric}: got {params.preview(direction)}, expected min or max")
    choosable(metric)
    return Objective(metric, names[direction])


def validation_twin(metric: str) -> str | None:
    """The choosable metric that scores what the test-split `metric` scores, if any."""
    twin = f"val_{metric}"
    return twin if twin in metric_names.CHOOSABLE else None


def choosable(metric: str) -> None:
    """Refuse an objective no trial would report (a typo would cost a whole trial to find),
    and one scored on the test split: what chooses on it has seen it, so it only reports."""
    if metric in metric_names.CHOOSABLE:
        return
    if metric in metric_names.TEST:
        twin = validation_twin(metric)
        use = f"use {twin}" if twin else "choose a val_* metric or one of the samples' own"
        raise UserError(
            f"objective {metric}: scored on the test split, which reports and never chooses; {use}"
        )
    close = difflib.get_close_matches(metric, metric_names.ALL, n=6, cutoff=0.5)
    named = [m if m in metric_names.CHOOSABLE else validation_twin(m) for m in close]
    near = list(dict.fromkeys(m for m in named if m))[:3]
    hint = f"did you mean {' or '.join(near)}?" if near else "see docs/metrics.md"
    raise UserError(f"objective {metric}: not a metric of the pipeline; {hint}")


def key_values(text: str, flag: str) -> tuple[str, str]:
    """`key=value` from a flag, split at the first `=`."""
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise UserError(f"{flag} {text}: expected KEY=VALUE")
    return key.strip(), value.strip()


def load(
    path: str | Path | None,
    space: list[str],
    objectives: list[str],
    fixed: list[str],
    repeats: int = 1,
) -> Spec:
    """The spec in the YAML file `path` (if any), with the flags' entries added or replacing
    its own: `-p key=log:1e-4..1e-2`, `-o val_fid=min`, `-S train.threads=1`; and the
    number of seeds each proposal trains on."""
    raw: dict = {}
    if path is not None:
        try:
            raw = params.read(path) or {}
        except (OSError, yaml.YAMLError) as e:
            raise UserError(f"{path}: cannot read the search spec ({e})") from None
        if not isinstance(raw, dict):
            raise UserError(f"{path}: expected a mapping of {', '.join(SPEC_KEYS)}")
        for key in raw:
            if key not in SPEC_KEYS:
                raise UserError(f"{path}: {key}: unknown key (expected one of: {SPEC_KEYS})")
        for key in SPEC_KEYS:
            if not isinstance(raw.get(key) or {}, dict):
                raise UserError(f"{path}: {key}: expected a mapping")
    space_raw = dict(raw.get("space") or {}) | dict(key_values(t, "-p") for t in space)
    goals = dict(raw.get("objectives") or {}) | dict(key_values(t, "-o") for t in objectives)
    fixed_raw = dict(raw.get("set") or {})
    fixed_raw |= {k: scalar(v) for k, v in (key_values(t, "-S") for t in fixed)}
    if not space_raw:
        raise UserError("search space: empty; give keys with -p KEY=SPEC or a spec file")
    both = sorted(set(space_raw) & set(fixed_raw))
    if both:
        raise UserError(f"{both[0]}: both searched and set; drop one")
    if repeats < 1:
        raise UserError(f"--repeats {repeats}: expected at least 1")
    if repeats > 1 and SEED in set(space_raw) | set(fixed_raw):
        where = "searched" if SEED in space_raw else "set"
        raise UserError(f"{SEED}: {where}, and --repeats {repeats} sets it: 0..{repeats - 1}")
    return Spec(
        {k: dimension(k, v) for k, v in space_raw.items()},
        [objective(k, v) for k, v in (goals or DEFAULT_OBJECTIVE).items()],
        fixed_raw,
        repeats,
    )


def merged(raw: dict, values: dict[str, Any]) -> dict:
    """A copy of the params mapping `raw` with dotted keys set: {"train.lr_g": 1e-3}."""
    out = copy.deepcopy(raw)
    for key, value in values.items():
        *sections, last = key.split(".")
        node = out
        for i, name in enumerate(sections):
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                raise UserError(f"{key}: {'.'.join(sections[: i + 1])} is a value, not a section")
        node[last] = value
    return out


FULL_RANGE = 512  # an int range of at most this many values is checked value by value
SPREAD = 64  # ... a larger one at this many values spread over it, with their neighbours
FLOAT_POINTS = 17  # a float range's ends and the points between, evenly (log: geometrically)


def probes(dist: BaseDistribution) -> list[Any]:
    """The values of `dist` the schema check tries: every choice; every integer of a small
    range, else its ends and a spread between, each with its next integer (odd and even:
    divisibility rules); a float range's ends and points between. A rule that refuses an
    interior value (model.mixture 1 of 0..5) then stops the search, not every such trial."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        values = range(dist.low, dist.high + 1, dist.step)
        if len(values) <= FULL_RANGE:
            return list(values)
        picks = {round(i * (len(values) - 1) / (SPREAD - 1)) for i in range(SPREAD)}
        picks |= {i + 1 for i in picks} | {len(values) - 2}
        return [values[i] for i in sorted(picks) if i < len(values)]
    lo, hi = dist.low, dist.high
    n = FLOAT_POINTS - 1
    if dist.log:
        between = [
            math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / n) for i in range(1, n)
        ]
    else:
        between = [lo + (hi - lo) * i / n for i in range(1, n)]
    return [lo, *between, hi]


def corners(dist: BaseDistribution) -> list[Any]:
    """The few values of `dist` tried with each other key's: rules across two searched keys
    (train.batch_size a multiple of train.processes) meet at the ends, the middle, and an
    integer's odd and even neighbours."""
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        lo, hi, step = dist.low, dist.high, dist.step
        middle = lo + (hi - lo) // step // 2 * step
        return sorted({v for v in (lo, lo + step, middle, hi - step, hi) if lo <= v <= hi})
    return [dist.low, (dist.low + dist.high) / 2, dist.high]


def check(spec: Spec, params_path: str | Path = "params.yaml") -> None:
    """Every fixed value, and every searched key's values (probes) with them, then every two
    keys' corners together, must pass the params schema: a bad key or value fails here, in
    one line, before anything is queued."""
    raw = params.read(params_path)
    base = merged(raw, spec.fixed)
    try:
        params.parse(base)
    except UserError as e:
        raise UserError(f"search set: {e}") from None
    for key, dist in spec.space.items():
        for value in probes(dist):
            passes(base, {key: value})
    for (key_a, dist_a), (key_b, dist_b) in itertools.combinations(spec.space.items(), 2):
        for a, b in itertools.product(corners(dist_a), corners(dist_b)):
            passes(base, {key_a: a, key_b: b})


def passes(base: dict, values: dict[str, Any]) -> None:
    """Refuse, naming them, the searched `values` the schema refuses with the set ones."""
    try:
        params.parse(merged(base, values))
    except UserError as e:
        trial = " with ".join(f"{k}={v!r}" for k, v in values.items())
        raise UserError(f"search space {trial}: {e}") from None


def cli_value(value: Any) -> str:
    """A value as `dvc exp run -S key=value` reads it back as that one value. DVC hands -S to
    Hydra's override grammar, where `a,b` is a sweep (two experiments), `[a]` a list and
    `${x}` an interpolation: so a string goes in single quotes, its quotes and interpolations
    escaped; null, true, 0.00123 and 64 stay as they are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quoted(value)
    raise UserError(f"got {params.preview(value)}, expected null, a boolean, a number or a string")


def quoted(text: str) -> str:
    """`text` as a quoted value of Hydra's grammar: a run of n backslashes before `${` or a
    quote becomes 2n + 1 (the `${` or quote escaped, each backslash too), and before the
    closing quote 2n; other backslashes stand for themselves."""
    text = re.sub(r"(\\*)(\$\{)", lambda m: 2 * m[1] + "\\" + m[2], text)  # OmegaConf's
    text = re.sub(r"(\\*)'", lambda m: 2 * m[1] + "\\'", text)
    text = re.sub(r"(\\+)$", lambda m: 2 * m[1], text)
    return f"'{text}'"
