"""A team's two machines share one DVC remote (a local folder here) and one git remote: clone B
reuses what clone A ran, through the committed dvc.lock and `dvc exp pull`, and trains
nothing. (DVC's run cache restores stages on the machine that ran them; across machines only
stages without uncached outputs, as DVC pushes no objects of `cache: false` files.)"""

from pathlib import Path

import pytest
from conftest import DETERMINISTIC, digests, ran, run

pytestmark = pytest.mark.e2e
MODELS = ["models/generator.pt", "models/discriminator.pt", "models/classifier.pt"]


def test_second_clone_reuses_runs_made_elsewhere(pipeline: Path, tmp_path: Path):
    a, b, origin = pipeline, tmp_path / "b", tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], a)
    run(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "dvc-storage")], a)

    # A: run, commit dvc.lock (and the uncached metrics), push code and data.
    run(["dvc", "repro"], a)
    run(["git", "add", "-A"], a)
    run(["git", "commit", "-qm", "baseline run"], a)
    run(["git", "push", "-q", "origin", "HEAD:main"], a)
    run(["dvc", "push", "--run-cache"], a)
    baseline = digests(a, DETERMINISTIC)
    # ... and an experiment, pushed with its outputs and run cache.
    run(["dvc", "exp", "run", "-n", "fast-g", "-S", "train.lr_g=0.002"], a)
    experiment = digests(a, MODELS)
    run(["dvc", "exp", "push", "--run-cache", "origin", "fast-g"], a)
    # Back to the baseline's params: the run cache restores its outputs, nothing retrains.
    run(["git", "checkout", "params.yaml"], a)
    out = run(["dvc", "repro"], a).stdout
    assert ran(out) == set() and "Stage 'train' is cached" in out, out
    assert digests(a, DETERMINISTIC) == baseline

    # B: a fresh clone, with no outputs and no raw digits. `dvc repro --pull` fetches what
    # dvc.lock names, the raw files too, and runs no stage (not even the download).
    run(["git", "clone", "-q", "-b", "main", str(origin), str(b)], tmp_path)
    assert not (b / "models/generator.pt").exists() and not (b / "data/raw/train-images").exists()
    out = run(["dvc", "repro", "--pull"], b).stdout
    assert ran(out) == set(), out
    assert digests(b, DETERMINISTIC) == baseline

    # A's experiment: pulled with its outputs, listed, applied; nothing to rerun.
    run(["dvc", "exp", "pull", "origin", "fast-g"], b)
    assert "fast-g" in run(["dvc", "exp", "show", "--no-pager", "--csv"], b).stdout
    run(["dvc", "exp", "apply", "fast-g"], b)
    assert digests(b, MODELS) == experiment
    assert ran(run(["dvc", "repro"], b).stdout) == set()
