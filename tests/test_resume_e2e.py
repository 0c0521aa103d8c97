"""Kill the train stage with SIGKILL mid-epoch, run dvc repro again: it resumes from the last
epoch's checkpoint and the final outputs are byte-identical to an uninterrupted run."""

from pathlib import Path

import pytest
from conftest import kill_train_stage_after, run, write_params

pytestmark = pytest.mark.e2e
OUTPUTS = [
    "models/generator.pt",
    "models/discriminator.pt",
    "metrics/train/metrics.json",
    "metrics/train/plots/metrics/g_loss.tsv",
    "metrics/train/losses.png",
    "metrics/train/plots/images/samples/279.png",  # 93 steps an epoch: epoch 3 ends at 279
]


def snapshot(repo: Path) -> dict[str, bytes]:
    return {p: (repo / p).read_bytes() for p in OUTPUTS}


def test_sigkill_mid_epoch_then_repro_resumes_identically(pipeline: Path):
    repo = pipeline
    write_params(
        repo, {"data": {"limit": 3000}, "train": {"epochs": 3, "batch_size": 32, "log_every": 20}}
    )
    run(["dvc", "repro", "train"], repo)
    uninterrupted = snapshot(repo)
    (repo / "models/checkpoint.pt").unlink()

    # the checkpoint of epoch 1 is on disk once this is printed
    kill_train_stage_after(repo, "epoch 1/3:")

    # --force: DVC would otherwise restore the first run's outputs from its cache
    out = run(["dvc", "repro", "--force", "--single-item", "train"], repo)
    assert "resuming from models/checkpoint.pt after epoch 1" in out.stderr + out.stdout
    assert snapshot(repo) == uninterrupted
