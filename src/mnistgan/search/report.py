"""What a search found: the best trials (one objective) or the Pareto front (several) as a
table, each with its experiment and the `dvc exp apply` line that adopts it; and a PNG of
every trial, which `dvc plots show search/plots/NAME.png` shows: the objective by trial with
the best so far (or the Pareto front), each param's importance, and each param's slice."""

import io
import statistics
import warnings

import optuna
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.distributions import CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from mnistgan.search.seeds import spread
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
    repeated = any("seed_values" in t.user_attrs for t in rows)  # --repeats: a mean of seeds
    spreads = [f"{o.metric} sd" for o in objectives] if repeated else []
    header = ["trial", "experiment", *(o.metric for o in objectives), *spreads, *keys]
    lines = [header + ["adopt it with"]]
    for t in rows:
        name = t.user_attrs.get("experiment", "")
        values = [cell(v) for v in t.values]
        if repeated:
            per_seed = t.user_attrs.get("seed_values", {})
            values += [cell(spread(per_seed[o.metric])[1]) if o.metric in per_seed else ""
                       for o in objectives]  # fmt: skip
        values += [cell(t.params.get(k, "")) for k in keys]
        lines.append([str(t.number), name, *values, f"dvc exp apply {name}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
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


def limits(
    values: list[float], direction: str, keep: list[float] = ()
) -> tuple[float, float] | None:
    """Axis limits that keep the trials readable when a few lie far off on the bad side (a
    collapsed training's FID of 250 among 4s): the values within 3 interquartile ranges of
    the middle half on that side, padded, with every value on the good side and every value
    in `keep` (the best trials), so that the answer is never off the scale; None when nothing
    is cut."""
    if len(values) < 4:
        return None
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    reach = 3 * (q3 - q1)
    bad = (lambda v: v > q3 + reach) if direction == "minimize" else (lambda v: v < q1 - reach)
    inside = [v for v in values if not bad(v)] + list(keep)
    if len(inside) == len(values) + len(keep):
        return None
    pad = 0.1 * (max(inside) - min(inside)) or 0.1 * abs(inside[0]) or 1.0
    return min(inside) - pad, max(inside) + pad


def history(ax, study: optuna.Study, objectives: list[Objective], done: list[FrozenTrial]):
    """One objective: its value against the trial number, the best so far and the best trial.
    Several: the first two against each other, the Pareto front joined. Points name their
    trial; values far off on the bad side are cut, and listed. Returns the first objective's
    limits (None: not cut), for the slices to share."""
    front = best(study, objectives) if done else []
    if len(objectives) == 1:
        x, y = [t.number for t in done], [t.values[0] for t in done]
        pick = min if objectives[0].direction == "minimize" else max
        ax.plot(x, y, "o", label="trial")
        ax.step(x, [pick(y[: i + 1]) for i in range(len(y))], where="post", label="best so far")
        if front:
            top = front[0]
            ax.plot(
                [top.number], [top.values[0]], "*", ms=14, color="C3",
                label=f"best: trial {top.number}, {top.values[0]:.4g}",
            )  # fmt: skip
        ax.set(xlabel="trial", ylabel=objectives[0].metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes = [(ax.set_ylim, y, 0)]
    else:
        x, y = [t.values[0] for t in done], [t.values[1] for t in done]
        line = sorted(front, key=lambda t: t.values[0])
        ax.plot(x, y, "o", alpha=0.5, label="trial")
        ax.plot(
            [t.values[0] for t in line], [t.values[1] for t in line], "*-", ms=10, color="C3",
            label="Pareto front",
        )  # fmt: skip
        ax.set(xlabel=objectives[0].metric, ylabel=objectives[1].metric)
        axes = [(ax.set_xlim, x, 0), (ax.set_ylim, y, 1)]
    for t, xi, yi in zip(done, x, y, strict=True):
        ax.annotate(str(t.number), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    far, first = {}, None  # far: trial number -> its values, for those off the scale
    for set_limits, values, i in axes:
        lim = limits(values, objectives[i].direction, [t.values[i] for t in front])
        if lim:
            set_limits(*lim)
            off = [t for t, v in zip(done, values, strict=True) if not lim[0] <= v <= lim[1]]
            far |= {t.number: t.values for t in off}
        first = lim if i == 0 else first
    if far:
        text = ", ".join(f"{n} ({' / '.join(f'{v:.4g}' for v in vs)})" for n, vs in far.items())
        ax.text(0.01, 0.99, f"off the scale: {text}", transform=ax.transAxes, fontsize=8, va="top")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return first


def importance(ax, study: optuna.Study, objectives: list[Objective]) -> None:
    """Optuna's importance of each searched param (its default evaluator), one bar per
    objective: which knobs moved the result, and which the search could have fixed."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    seen: dict[str, set] = {}
    for t in done:
        for k, v in t.params.items():
            seen.setdefault(k, set()).add(repr(v))
    varied = [k for k, vs in seen.items() if len(vs) > 1]
    if not varied:
        ax.text(0.5, 0.5, "importance: no param has varied yet", ha="center", fontsize=8)
        return ax.set_axis_off()
    scores = []
    for i, o in enumerate(objectives):
        sign = 1 if o.direction == "minimize" else -1  # the evaluator asks what makes it low
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its note that it wants low values: given
                found = optuna.importance.get_param_importances(
                    study, params=varied, target=lambda t, i=i, sign=sign: sign * t.values[i]
                )
        except (RuntimeError, ValueError) as e:  # too few trials, or nothing varied
            ax.text(0.5, 0.5, f"importance: {e}", wrap=True, ha="center", fontsize=8)
            return ax.set_axis_off()
        scores.append((o.metric, found))
    keys = list(scores[0][1])[::-1]  # most important on top
    height = 0.8 / len(scores)
    for j, (metric, found) in enumerate(scores):
        rows = [k + j * height for k in range(len(keys))]
        ax.barh(rows, [found.get(k, 0.0) for k in keys], height=height, label=metric)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(keys))], keys, fontsize=8)
    ax.set(xlabel="importance (Optuna)", xlim=(0, 1))
    if len(scores) > 1:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, axis="x")


def slices(
    axes, study: optuna.Study, objectives: list[Objective], done: list[FrozenTrial], ylim
) -> None:
    """Each searched param against the first objective, coloured by trial number, the best
    trials starred: where in its range each param did well."""
    front = {t.number for t in best(study, objectives)[: 1 if len(objectives) == 1 else None]}
    dists = {k: d for t in done for k, d in t.distributions.items()}
    keys = sorted({k for t in done for k in t.params}, key=list(dists).index)
    for ax, key in zip(axes, keys, strict=False):
        has = [t for t in done if key in t.params]
        dist = dists.get(key)
        if isinstance(dist, CategoricalDistribution):
            labels = [str(c) for c in dist.choices]
            x = [labels.index(str(t.params[key])) for t in has]
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
        else:
            x = [t.params[key] for t in has]
            if getattr(dist, "log", False):
                ax.set_xscale("log")
        y = [t.values[0] for t in has]
        ax.scatter(x, y, c=[t.number for t in has], cmap="viridis", s=16)
        tops = [(xi, yi) for t, xi, yi in zip(has, x, y, strict=True) if t.number in front]
        ax.plot([p[0] for p in tops], [p[1] for p in tops], "*", ms=11, color="C3")
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel(key, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys) :]:
        ax.set_axis_off()
    if keys:
        axes[0].set_ylabel(objectives[0].metric, fontsize=8)


SLICES_PER_ROW = 4


def figure(study: optuna.Study, objectives: list[Objective]) -> Figure:
    """The search at a glance: the objective by trial (or the Pareto front), the importance
    of each param, and each param's slice. With fewer than 2 finished trials, the first only:
    importance and slices need two to compare."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    keys = {k for t in done for k in t.params}
    full = len(done) >= 2 and keys
    rows = -(-len(keys) // SLICES_PER_ROW) if full else 0
    fig = Figure(figsize=(12 if full else 7, 5 + 2.6 * rows), dpi=100, layout="constrained")
    grid = fig.add_gridspec(1 + rows, SLICES_PER_ROW, height_ratios=[5] + [2.6] * rows)
    ax = fig.add_subplot(grid[0, :3] if full else grid[0, :])
    ylim = history(ax, study, objectives, done)
    if full:
        importance(fig.add_subplot(grid[0, 3]), study, objectives)
        cells = [grid[1 + i // SLICES_PER_ROW, i % SLICES_PER_ROW] for i in range(len(keys))]
        slices([fig.add_subplot(c) for c in cells], study, objectives, done, ylim)
    elif len(done) < 2:
        ax.set_xlim(-0.5, max([t.number for t in trials], default=0) + 0.5)
        ax.text(0.5, 0.02, "importance and slices: once 2 trials are done", fontsize=8,
                ha="center", transform=ax.transAxes)  # fmt: skip
    note = f"; failed: {', '.join(map(str, failed))}" if failed else ""
    fig.suptitle(f"study {study.study_name}: {len(done)} trials done{note}", fontsize=10)
    return fig


def plot_png(study: optuna.Study, objectives: list[Objective]) -> bytes:
    buf = io.BytesIO()
    figure(study, objectives).savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
