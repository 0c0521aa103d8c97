"""What a search found: the best trials (one objective) or the Pareto front (several) as a
table, each with its experiment and the `dvc exp apply` line that adopts it; and a PNG of
every trial, which `dvc plots show search/plots/NAME.png` shows."""

import io
import statistics

import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.trial import FrozenTrial, TrialState

from mnistgan.search.space import Objective

TOP = 5  # rows of the table for one objective


def best(study: optuna.Study, objectives: list[Objective]) -> list[FrozenTrial]:
    """The TOP best trials for one objective; the Pareto front for several, by the first."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    sign = 1 if objectives[0].direction == "minimize" else -1
    front = done if len(objectives) == 1 else study.best_trials
    return sorted(front, key=lambda t: (sign * t.values[0], t.number))[
        : TOP if len(objectives) == 1 else None
    ]


def cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(study: optuna.Study, objectives: list[Objective]) -> str:
    """An aligned text table of the best trials, then a count of every trial's state."""
    rows = best(study, objectives)
    keys = list(rows[0].params) if rows else []
    header = ["trial", "experiment", *(o.metric for o in objectives), *keys, "adopt it with"]
    lines = [header]
    for t in rows:
        name = t.user_attrs.get("experiment", "")
        values = [cell(v) for v in t.values] + [cell(t.params.get(k, "")) for k in keys]
        lines.append([str(t.number), name, *values, f"dvc exp apply {name}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )
    states = [t.state for t in study.get_trials(deepcopy=False)]
    what = "Pareto front" if len(objectives) > 1 else f"best {min(TOP, len(rows))}"
    goals = ", ".join(map(str, objectives))
    counts = (
        f"{states.count(TrialState.COMPLETE)} done, {states.count(TrialState.FAIL)} failed, "
        f"{states.count(TrialState.RUNNING)} in flight"
    )
    title = f"study {study.study_name}: {what} of {len(states)} trials ({counts}); {goals}"
    return title + "\n" + (text if rows else "no trial has finished yet")


def limits(values: list[float]) -> tuple[float, float] | None:
    """Axis limits that keep the trials readable when a few lie far off (a collapsed
    training's FID of 250 among 4s): the values within 3 interquartile ranges of the middle
    half, padded; None when every value is."""
    if len(values) < 4:
        return None
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    inside = [v for v in values if q1 - 3 * (q3 - q1) <= v <= q3 + 3 * (q3 - q1)]
    if len(inside) == len(values):
        return None
    pad = 0.1 * (max(inside) - min(inside)) or 0.1 * abs(inside[0]) or 1.0
    return min(inside) - pad, max(inside) + pad


def figure(study: optuna.Study, objectives: list[Objective]) -> Figure:
    """One objective: its value against the trial number, with the best so far. Several:
    the first two against each other, the Pareto front joined. Points name their trial."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    fig = Figure(figsize=(7, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    if len(objectives) == 1:
        x, y = [t.number for t in done], [t.values[0] for t in done]
        pick = min if objectives[0].direction == "minimize" else max
        ax.plot(x, y, "o", label="trial")
        ax.step(x, [pick(y[: i + 1]) for i in range(len(y))], where="post", label="best so far")
        ax.set(xlabel="trial", ylabel=objectives[0].metric)
    else:
        x, y = [t.values[0] for t in done], [t.values[1] for t in done]
        front = sorted(best(study, objectives), key=lambda t: t.values[0])
        ax.plot(x, y, "o", alpha=0.5, label="trial")
        ax.plot(
            [t.values[0] for t in front], [t.values[1] for t in front], "o-", label="Pareto front"
        )
        ax.set(xlabel=objectives[0].metric, ylabel=objectives[1].metric)
    for t, xi, yi in zip(done, x, y, strict=True):
        ax.annotate(str(t.number), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    far = {}  # trial number -> its values, for those off the scale
    axes = [(ax.set_ylim, y)] if len(objectives) == 1 else [(ax.set_xlim, x), (ax.set_ylim, y)]
    for set_limits, values in axes:
        if lim := limits(values):
            set_limits(*lim)
            off = [t for t, v in zip(done, values, strict=True) if not lim[0] <= v <= lim[1]]
            far |= {t.number: t.values for t in off}
    if far:
        text = ", ".join(f"{n} ({' / '.join(f'{v:.4g}' for v in vs)})" for n, vs in far.items())
        ax.text(0.01, 0.99, f"off the scale: {text}", transform=ax.transAxes, fontsize=8, va="top")
    if len(objectives) == 1:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    note = f"; failed: {', '.join(map(str, failed))}" if failed else ""
    ax.set_title(f"study {study.study_name}: {len(done)} trials done{note}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return fig


def plot_png(study: optuna.Study, objectives: list[Objective]) -> bytes:
    buf = io.BytesIO()
    figure(study, objectives).savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
