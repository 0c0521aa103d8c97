"""Kill the train stage with SIGKILL after an epoch, run dvc repro again: it resumes from the
last epoch's checkpoint, and every output of the pipeline (models, sample grids, TSVs,
metrics, pages) is byte-identical to an uninterrupted run's."""

import hashlib
from pathlib import Path

import pytest
import yaml
from conftest import kill_train_stage_after, run, write_params

pytestmark = pytest.mark.e2e
TIMING = "metrics/timing.json"  # wall-clock seconds: the one output a rerun may change


def declared(repo: Path) -> list[str]:
    """Every outs and metrics path of dvc.yaml."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    paths = []
    for stage in stages.values():
        for entry in stage.get("outs", []) + stage.get("metrics", []):
            paths.append(entry if isinstance(entry, str) else next(iter(entry)))
    return paths


def output_hashes(repo: Path) -> dict[str, str]:
    """SHA-256 of every file under every declared output, timing aside."""
    files = []
    for path in declared(repo):
        top = repo / path
        files += sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
    return {
        str(f.relative_to(repo)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in files
        if str(f.relative_to(repo)) != TIMING
    }


def test_sigkill_after_an_epoch_then_repro_ends_as_an_uninterrupted_run(pipeline: Path):
    repo = pipeline
    write_params(
        repo, {"data": {"limit": 3000}, "train": {"epochs": 3, "batch_size": 32, "log_every": 20}}
    )
    run(["dvc", "repro", "prepare"], repo)
    kill_train_stage_after(repo, "epoch 1/3:")  # its checkpoint is on disk once this is printed
    out = run(["dvc", "repro"], repo)
    assert "resuming from models/checkpoint.pt after epoch 1" in out.stderr + out.stdout
    resumed = output_hashes(repo)

    (repo / "models/checkpoint.pt").unlink()
    run(["dvc", "repro", "--force"], repo)
    straight = output_hashes(repo)

    grids = sorted(p for p in straight if "plots/images/samples/" in p)
    assert grids == [f"metrics/train/plots/images/samples/{s}.png" for s in (186, 279, 93)]
    assert len(straight) > 25  # every stage's outputs, not a few
    assert resumed == straight
