"""The targets a model is held to, in one place (README's Results table lists them), and
the table the evaluate stage ends with: each metric of the samples, its real-data floor,
its target and whether it is met."""

from dataclasses import dataclass

# The targets were set on 10,000 scored images each side (README's Results table), and every
# metric's finite-sample bias depends on that count: FID's grows as 1/n, the k-NN radii behind
# precision and recall change with n, the class KL's plug-in estimate is biased up by about
# (10 - 1) / (2 n) nats. With far fewer images (a smoke run's 2,000) the real floor itself
# misses the bounds, and a "NO" would blame the model for the sample size: below half the
# count the targets were set on, the table says n/a instead of yes or NO.
MIN_SCORED_FOR_TARGETS = 5000


@dataclass(frozen=True)
class Target:
    key: str  # in metrics/eval/metrics.json; its floor is real_<key>
    name: str
    higher: bool  # higher is better: the target is a minimum, else a maximum
    bound: float
    times_floor: bool = False  # the bound is a multiple of the metric's real floor


def targets(conditional: bool) -> list[Target]:
    """FID within 3x the floor, 1.5x for a conditional model (it is told the digit)."""
    rows = [
        Target("fid", "FID", False, 1.5 if conditional else 3.0, times_floor=True),
        Target("precision", "precision", True, 0.85),
        Target("recall", "recall", True, 0.85),
        Target("classifier_score", "classifier score", True, 9.5),
        Target("modes_covered", "modes covered", True, 10),
        Target("class_kl", "class KL", False, 0.01),
    ]
    if conditional:
        rows.append(Target("conditional_accuracy", "conditional accuracy", True, 0.99))
    return rows


def limit(target: Target, floor: dict[str, float]) -> float:
    return target.bound * floor[f"real_{target.key}"] if target.times_floor else target.bound


def met(target: Target, value: float, floor: dict[str, float]) -> bool:
    bound = limit(target, floor)
    return value >= bound if target.higher else value <= bound


def verdict(target: Target, value: float, floor: dict[str, float], n_scored: int) -> bool | None:
    """Met or not; None (n/a) when fewer than MIN_SCORED_FOR_TARGETS images were scored."""
    return met(target, value, floor) if n_scored >= MIN_SCORED_FOR_TARGETS else None


def table(
    metrics: dict[str, float], floor: dict[str, float], conditional: bool, n_scored: int
) -> str:
    """One line per target: the samples' value, the real floor (blank where there is none),
    the target, met or not; n/a for all of them, and a last line saying why, when fewer than
    MIN_SCORED_FOR_TARGETS images were scored (`n_scored`, evaluate.n_samples)."""
    judged = n_scored >= MIN_SCORED_FOR_TARGETS
    lines = [f"{'metric':<21}{'samples':>9}{'real floor':>12}  {'target':<23}met"]
    for t in targets(conditional):
        value, real = metrics[t.key], floor.get(f"real_{t.key}")
        sign = ">=" if t.higher else "<="
        goal = f"{sign} {limit(t, floor):.4g}" + (f" ({t.bound:g}x floor)" if t.times_floor else "")
        real_text = "" if real is None else f"{real:.4g}"
        said = {True: "yes", False: "NO", None: "n/a"}[verdict(t, value, floor, n_scored)]
        lines.append(f"{t.name:<21}{value:>9.4g}{real_text:>12}  {goal:<23}{said}")
    if not judged:
        lines.append(
            f"n/a: the targets hold for at least {MIN_SCORED_FOR_TARGETS} scored images; "
            f"evaluate.n_samples is {n_scored}"
        )
    return "\n".join(lines)
