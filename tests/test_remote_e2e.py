"""A team's two machines share one DVC remote (a local folder here) and one git remote: clone B
reuses what clone A ran, through the committed dvc.lock, DVC's run cache and `dvc exp pull`,
and trains nothing."""

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import run, write_params
from test_pipeline_e2e import DETERMINISTIC, ran

pytestmark = pytest.mark.e2e
MODELS = ["models/generator.pt", "models/discriminator.pt", "models/classifier.pt"]


def digests(repo: Path, paths: list[str]) -> dict[str, str]:
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in paths}


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
    run(["dvc", "exp", "run", "-n", "fast-g", "-S", "train.lr_g=0.001"], a)
    experiment = digests(a, MODELS)
    run(["dvc", "exp", "push", "--run-cache", "origin", "fast-g"], a)

    # B: a fresh clone with the raw digits (as on any machine that has downloaded them) and
    # no outputs. `dvc repro --pull` fetches what dvc.lock names and runs no stage.
    run(["git", "clone", "-q", "-b", "main", str(origin), str(b)], tmp_path)
    for f in (a / "data/raw/mnist").iterdir():
        shutil.copy2(f, b / "data/raw/mnist" / f.name)
    assert not (b / "models/generator.pt").exists()
    out = run(["dvc", "repro", "--pull"], b).stdout
    assert ran(out) == set(), out
    assert digests(b, DETERMINISTIC) == baseline

    # The experiment's params, not in B's dvc.lock: the run cache restores A's results.
    write_params(b, {"train": {"lr_g": 0.001}})
    out = run(["dvc", "repro", "--pull"], b).stdout
    assert ran(out) == set() and "Stage 'train' is cached" in out, out
    assert digests(b, MODELS) == experiment
    run(["git", "checkout", "params.yaml", "dvc.lock"], b)
    run(["dvc", "checkout"], b)

    # The experiment itself: pulled, listed, applied.
    run(["dvc", "exp", "pull", "origin", "fast-g"], b)
    assert "fast-g" in run(["dvc", "exp", "show", "--no-pager", "--csv"], b).stdout
    run(["dvc", "exp", "apply", "fast-g"], b)
    assert digests(b, MODELS) == experiment
    assert run(["dvc", "status"], b).stdout.strip() == "Data and pipelines are up to date."
