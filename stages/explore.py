"""Stage explore: models/generator.pt -> explorer/index.html, one self-contained page that
draws digits with the generator in the browser, offline (mnistgan.explorer.export). Its
temperature slider starts at sample.temperature; its model card reads the model file, the
params, metrics/data.json and metrics/eval/metrics.json, judged by mnistgan.evaluation.targets."""

import json
from dataclasses import asdict
from pathlib import Path

from mnistgan.core import atomic, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.errors import exit_on_user_error
from mnistgan.evaluation import targets
from mnistgan.explorer import card, export
from mnistgan.gan.models import GeneratorConfig, build_generator


def read_json(path: str) -> dict | None:
    """A metrics file's mapping, or None where it is missing or unreadable (the card says so)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def judged(metrics: dict, conditional: bool, n_scored: int) -> list[card.Judged]:
    """Each target's metric, bound and verdict, as the evaluate stage's table judges them."""
    rows = []
    for t in targets.targets(conditional):
        value = metrics.get(t.key)
        if not isinstance(value, (int, float)) or (
            t.times_floor and f"real_{t.key}" not in metrics
        ):
            continue
        met = targets.verdict(t, value, metrics, n_scored)
        rows.append(card.Judged(t.name, float(value), t.higher, targets.limit(t, metrics), met))
    return rows


def main() -> None:
    p = params.load()
    g, config = load_model("models/generator.pt", "generator", build_generator, GeneratorConfig)
    metrics = read_json("metrics/eval/metrics.json")
    counts = (read_json("metrics/data.json") or {}).get("counts")
    quality = None if metrics is None else judged(metrics, config.conditional, p.evaluate.n_samples)
    about = card.card(
        asdict(config), asdict(p.data), asdict(p.train), counts, quality, card.commit()
    )
    template = export.read_template("explorer/page.in.html")
    page = export.page(g, template, p.sample.temperature, about)
    atomic.write_bytes("explorer/index.html", page.encode("utf-8"))


if __name__ == "__main__":
    exit_on_user_error(main)
