"""The targets a model is held to, in one place (README's Results table lists them), and
the table the evaluate stage ends with: each metric of the samples, its real-data floor,
its target and whether it is met."""

from dataclasses import dataclass


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


def table(metrics: dict[str, float], floor: dict[str, float], conditional: bool) -> str:
    """One line per target: the samples' value, the real floor (blank where there is none),
    the target, met or not."""
    lines = [f"{'metric':<21}{'samples':>9}{'real floor':>12}  {'target':<23}met"]
    for t in targets(conditional):
        value, real = metrics[t.key], floor.get(f"real_{t.key}")
        sign = ">=" if t.higher else "<="
        goal = f"{sign} {limit(t, floor):.4g}" + (f" ({t.bound:g}x floor)" if t.times_floor else "")
        real_text = "" if real is None else f"{real:.4g}"
        verdict = "yes" if met(t, value, floor) else "NO"
        lines.append(f"{t.name:<21}{value:>9.4g}{real_text:>12}  {goal:<23}{verdict}")
    return "\n".join(lines)
