"""DVCLive as the train stage uses it: the files it writes, byte for byte the same every run."""

import json
import subprocess
from pathlib import Path

import pytest
import torch

from mnistgan.core.pixels import grid_png
from mnistgan.core.tracking import TrainingLog, open_live
from mnistgan.gan.training import COLUMNS

ROWS = [[2, 1, 0.5, 1.5, 0.75, 0.25], [3, 1, 0.25, 2.0, 0.5, 0.125], [6, 2, 0.125, 3.0, 0.625, 0.5]]
MEANS = [
    dict(zip(COLUMNS[2:], [0.375, 1.75, 0.625, 0.1875], strict=True)),
    dict(zip(COLUMNS[2:], [0.125, 3.0, 0.625, 0.5], strict=True)),
]
GRID = torch.arange(64 * 28 * 28).remainder(256).to(torch.uint8).reshape(64, 1, 28, 28)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)  # DVCLive wants a repo
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def log_run(folder: str) -> None:
    with open_live(folder) as live:
        log = TrainingLog(live, COLUMNS, nrow=8)
        log.row(ROWS[0])
        log.row(ROWS[1])
        log.epoch(1, MEANS[0], GRID)
        log.row(ROWS[2])
        assert json.loads(Path(folder, "metrics.json").read_text())["d_loss"] == 0.125  # live
        log.epoch(2, MEANS[1], GRID)


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_training_log_files(repo):
    log_run("a")
    tsv = (repo / "a/plots/metrics/g_loss.tsv").read_text()
    assert tsv.splitlines() == ["step\tg_loss", "2\t1.5", "3\t2.0", "6\t3.0"]  # no timestamp
    summary = json.loads((repo / "a/metrics.json").read_text())
    assert summary == MEANS[1] | {"epoch": 2, "step": 6}
    # one image per epoch under one name, indexed by the epoch's last step: a slider
    assert (repo / "a/plots/images/samples/6.png").read_bytes() == grid_png(GRID, nrow=8)
    assert set(files(repo / "a")) == {
        *(f"plots/metrics/{name}.tsv" for name in COLUMNS[2:]),
        "plots/images/samples/3.png",
        "plots/images/samples/6.png",
        "metrics.json",
    }


def test_training_log_is_byte_identical_across_runs(repo):
    log_run("a")
    log_run("b")
    assert files(repo / "a") == files(repo / "b")
