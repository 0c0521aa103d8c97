"""`python -m mnistgan seeds`: one recipe (or a few) trained on several seeds, each metric
reported as its mean and spread across them.

A GAN's metrics move with its training seed about as much as a good change of params moves
them, so a target judged on one seed is judged on a draw. Each (recipe, seed) is a DVC
experiment on the queue, found again by its params: a second call queues only what is
missing, and DVC's run cache, `dvc exp show` and `dvc exp apply` work on each run."""

import hashlib
import itertools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from mnistgan.core import params
from mnistgan.core.errors import UserError
from mnistgan.evaluation import targets
from mnistgan.search import experiments
from mnistgan.search.experiments import Experiment, flat
from mnistgan.search.space import key_values, scalar

# what the table lists, in this order, when the runs have it; the first chooses, the rest report
SHOWN = (
    "val_fid",
    "fid",
    "kid",
    "precision",
    "recall",
    "classifier_score",
    "modes_covered",
    "class_kl",
    "conditional_accuracy",
    "train_seconds",
)
LOOK_EVERY = 30  # s between looks at the queue while runs train (each look costs a dvc call)


def recipes(sets: list[str]) -> list[dict[str, Any]]:
    """Every combination of the -S KEY=A,B,... choices, as params overrides."""
    choices = [
        [(key, scalar(v)) for v in value.split(",")]
        for key, value in (key_values(t, "-S") for t in sets)
    ]
    return [dict(combo) for combo in itertools.product(*choices)]


def expected(base: dict[str, Any], recipe: dict[str, Any], seed: int) -> dict[str, Any]:
    """The full, flat params of a recipe's run on `seed`: params.yaml, the recipe, the seed."""
    return base | recipe | {"train.seed": seed}


def run_name(recipe: dict[str, Any], seed: int) -> str:
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:6]
    return f"seeds-{digest}-s{seed}"


def match(found: dict[str, Experiment], want: dict[str, Any]) -> Experiment | None:
    """The experiment whose params are `want` on every key: done ones first, then in flight."""
    rank = {"success": 0, "running": 1, "queued": 1}
    same = [e for e in found.values() if all(e.params.get(k) == v for k, v in want.items())]
    same = [e for e in same if e.state in rank]
    return min(same, key=lambda e: rank[e.state]) if same else None


def spread(values: list[float]) -> tuple[float, float, float, float]:
    """Mean, sample standard deviation (n - 1; 0 for one value), min and max."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), sd, min(values), max(values)


def cell(values: list[float]) -> str:
    if not values:
        return ""
    mean, sd, lo, hi = spread(values)
    return f"{mean:.4g} ± {sd:.2g} [{lo:.4g}, {hi:.4g}]"


def verdicts(runs: list[Experiment], conditional: bool) -> list[str]:
    """Each target judged on the mean over the seeds, the spread beside it."""
    lines = []
    floor = {"real_fid": statistics.fmean(r.metrics["real_fid"] for r in runs)}
    for t in targets.targets(conditional):
        values = [r.metrics[t.key] for r in runs if t.key in r.metrics]
        if not values:
            continue
        mean, sd, lo, hi = spread(values)
        sign = ">=" if t.higher else "<="
        ok = "yes" if targets.met(t, mean, floor) else "NO"
        on_every = all(targets.met(t, v, floor) for v in values)
        lines.append(
            f"  {t.name}: mean {mean:.4g} ± {sd:.2g} {sign} {targets.limit(t, floor):.4g}: {ok}"
            + ("" if on_every else " (not on every seed)")
        )
    return lines


def table(groups: list[tuple[dict[str, Any], list[Experiment]]]) -> str:
    """Metrics down, recipes across: mean ± sd [min, max] over each recipe's seeds."""
    heads = [", ".join(f"{k}={v}" for k, v in r.items()) or "params.yaml" for r, _ in groups]
    present = [m for m in SHOWN if any(m in e.metrics for _, runs in groups for e in runs)]
    rows = [["metric", *heads], ["seeds", *[str(len(runs)) for _, runs in groups]]]
    for m in present:
        values = [[e.metrics[m] for e in runs if m in e.metrics] for _, runs in groups]
        rows.append([m, *map(cell, values)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    for (_, runs), head in zip(groups, heads, strict=True):
        if runs and all("real_fid" in r.metrics for r in runs):
            conditional = runs[0].params.get("model.conditional") is True
            lines += [f"{head}, targets on the mean:", *verdicts(runs, conditional)]
    return "\n".join(lines)


def run(
    sets: list[str], seeds: list[int], jobs: int, queue: bool, log_line: Callable[[str], None]
) -> str:
    """Queue what is missing (when `queue`), wait for it, and return the table."""
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UserError(f"--seeds: got {seeds}, expected distinct integers >= 0")
    if jobs < 1:
        raise UserError(f"--jobs: got {jobs}, expected at least 1")
    raw = params.read("params.yaml")
    params.load("params.yaml")  # refuses a bad params.yaml before anything is queued
    base = {k.rstrip("."): v for k, v in flat(raw).items()}
    wanted = [(r, s, expected(base, r, s)) for r in recipes(sets) for s in seeds]
    for key in {k for r, _, _ in wanted for k in r}:
        if key not in base:
            raise UserError(f"-S {key}: not a params.yaml key")
    head = experiments.head()
    found = experiments.show([head])
    missing = [(r, s) for r, s, want in wanted if match(found, want) is None]
    if missing and queue:
        for r, s in missing:
            name, attempt = run_name(r, s), 0
            while (name if not attempt else f"{name}-r{attempt}") in found:
                attempt += 1
            name = name if not attempt else f"{name}-r{attempt}"
            experiments.queue(name, r | {"train.seed": s})
            log_line(f"queued {name}: {r | {'train.seed': s}}")
    elif missing:
        log_line(f"{len(missing)} of {len(wanted)} runs are missing (--queue runs them)")
    while True:
        found = experiments.show([head])
        runs = {(json.dumps(r, sort_keys=True), s): match(found, want) for r, s, want in wanted}
        waiting = [e for e in runs.values() if e is not None and e.state != "success"]
        if not waiting:
            break
        experiments.start_workers(min(jobs, len(waiting)))
        done = sum(e is not None and e.state == "success" for e in runs.values())
        log_line(f"{done}/{len(wanted)} runs done, {len(waiting)} queued or running")
        time.sleep(LOOK_EVERY)
    groups = []
    for r in recipes(sets):
        key = json.dumps(r, sort_keys=True)
        groups.append((r, [e for (k, _), e in runs.items() if k == key and e is not None]))
    for r, runs_of in groups:
        absent = len(seeds) - len(runs_of)
        if absent:
            log_line(f"{r or 'params.yaml'}: {absent} of {len(seeds)} seeds have no finished run")
    if not any(runs_of for _, runs_of in groups):
        raise UserError("no finished run to report: queue them with --queue")
    return table(groups)
