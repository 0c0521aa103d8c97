"""The explorer page's model card: what the generator is, what it was trained on, how good
its samples are against their targets, and the commit that built the page. Plain strings,
which the page shows as text; computed from its inputs only, so the same inputs give the
same page."""

import subprocess
from dataclasses import dataclass
from typing import Any

UNKNOWN = "unknown: not built in a git checkout"
FAR = 2.0  # a metric worse than its target by this factor or more: the page warns


@dataclass(frozen=True)
class Judged:
    """One quality metric of the samples against its target (mnistgan.evaluation.targets):
    `met` None where too few images were scored to judge it."""

    name: str
    value: float
    higher: bool  # higher is better: `bound` is a minimum, else a maximum
    bound: float
    met: bool | None


def far(j: Judged) -> bool:
    if j.higher:
        return j.value * FAR <= j.bound
    return j.value >= j.bound * FAR


def commit(cwd: str = ".") -> tuple[str, str]:
    """HEAD's short hash and its commit date (YYYY-MM-DD), or ("unknown", "unknown") outside
    a git checkout: the page's date is the commit's, never the clock's."""
    try:
        result = subprocess.run(
            ["git", "show", "-s", "--format=%h %cs", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    parts = result.stdout.split()
    return (parts[0], parts[1]) if result.returncode == 0 and len(parts) == 2 else ("unknown",) * 2


def card(
    config: dict[str, Any],
    data: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    counts: dict[str, int] | None = None,
    quality: list[Judged] | None = None,
    built: tuple[str, str] = ("unknown", "unknown"),
) -> dict[str, Any]:
    """The card the page shows: `rows` of (label, text), `quality` rows of (metric, value,
    target, met), a `warning` or None, and the `commit`. `config`: the generator's own (from
    its model file); `data`, `train`: those params sections; `counts`: images per split
    (metrics/data.json), None if unknown; `quality`: None where no metrics were found."""
    train_images = counts.get("train") if isinstance(counts, dict) else None
    size = f"; {train_images:,} training images" if isinstance(train_images, int) else ""
    if data is None:
        data_text = "unknown"
    else:
        # data.source null: the official files, downloaded or from $MNISTGAN_DATA_SOURCE
        source = data.get("source") or "the official files"
        limit = f" (capped at {data['limit']:,})" if data.get("limit") else ""
        data_text = f"{data['dataset']}, {source}{size}{limit}"
    train_text = "unknown"
    if train is not None:
        epochs = f"{train['epochs']} epoch{'s' * (train['epochs'] != 1)}"
        train_text = f"{epochs}, batch {train['batch_size']}, loss {train['loss']}"
    shown = lambda v: "yes" if v is True else "no" if v is False else v  # noqa: E731
    options = ", ".join(
        f"{k} {shown(config[k])}"
        for k in ("z_dim", "features", "g_refine", "g_taper", "mixture")
        if k in config
    )
    rows = [
        [
            "generator",
            f"{config['arch']}, {'conditional' if config['conditional'] else 'unconditional'}",
        ],
        ["its options", options],
        ["data", data_text],
        ["training", train_text],
        ["built from", f"commit {built[0]} of {built[1]}" if built[0] != "unknown" else UNKNOWN],
    ]
    warning = None
    if quality is None:
        rows.append(["quality", "not measured: no metrics/eval/metrics.json (dvc repro evaluate)"])
        quality = []
    verdict = {True: "yes", False: "NO", None: "n/a"}
    table = [
        [j.name, f"{j.value:.4g}", f"{'>=' if j.higher else '<='} {j.bound:.4g}", verdict[j.met]]
        for j in quality
    ]
    if off := [j.name for j in quality if far(j)]:
        warning = (
            f"This generator is far from its targets ({', '.join(off)} off by {FAR:g}x or more): "
            "expect blurred, grey or repeated digits. The page works; the model needs more "
            "training (dvc repro)."
        )
    return {"rows": rows, "quality": table, "warning": warning, "commit": built[0]}
