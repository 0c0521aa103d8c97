"""A sweep through DVC's queue: two experiments with different params run in parallel
(`dvc queue start -j 2`), each in its own temp copy of the repo, with its own code. Neither
resumes from the workspace's checkpoint, nor from the other's: each ends byte-identical to a
plain `dvc repro` with its params."""

import subprocess
import time
from pathlib import Path

import psutil
import pytest
import torch
from conftest import run, tool_env, write_params

pytestmark = pytest.mark.e2e
EXPS = {"exp-a": ["-S", "train.lr_d=0.001"], "exp-b": ["-S", "train.seed=7"]}
COMPARED = ["models/generator.pt", "models/discriminator.pt", "metrics/train/metrics.json"]


def start_workers(repo: Path) -> None:
    """`dvc queue start -j 2`. Its workers are daemons that inherit the std streams: given
    pipes, as `run` captures, the call would return only when the last worker exits (never,
    if one hangs)."""
    subprocess.run(
        ["dvc", "queue", "start", "-j", "2"],
        cwd=repo,
        env=tool_env(repo),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )


def wait_for_queue(repo: Path, timeout: float = 900, stall: float = 30) -> str:
    """Poll until no task is queued or running. DVC's workers sometimes stop with tasks still
    queued (treeverse/dvc#10562): after `stall` s of that, start them again, as a user would."""
    deadline = time.monotonic() + timeout
    stalled_since = None
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo, timeout=120).stdout
        if "Queued" not in status and "Running" not in status:
            return status
        if "Running" in status:
            stalled_since = None
        elif stalled_since is None:
            stalled_since = time.monotonic()
        elif time.monotonic() - stalled_since > stall:
            start_workers(repo)
            stalled_since = None
        time.sleep(3)
    raise AssertionError(f"queue still busy after {timeout} s:\n{status}")


def stop_workers(repo: Path) -> None:
    """`dvc queue stop`, then kill whatever still runs inside the repo: no worker outlives
    its test."""
    try:
        run(["dvc", "queue", "stop", "--kill"], repo, check=False, timeout=120)
    except subprocess.TimeoutExpired:
        pass
    for proc in psutil.process_iter():
        try:
            if Path(proc.cwd()).is_relative_to(repo):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def test_queued_experiments_are_isolated_and_reproducible(pipeline: Path):
    repo = pipeline
    # Queued runs start from a clean clone, without the git-ignored raw files: point at them.
    # One thread a run: two runs share 2 cores (two threads each would spin-wait).
    write_params(repo, {"data": {"raw_dir": str(repo / "data/raw/mnist")}, "train": {"threads": 1}})
    run(["git", "commit", "-qam", "sweep settings"], repo)

    # A checkpoint in the workspace that exp-a would resume from if it could see it: exp-a's
    # params after one epoch, with the generator's weights then tampered with.
    write_params(repo, {"train": {"lr_d": 0.001, "epochs": 1}})
    run(["dvc", "repro", "train"], repo)
    run(["git", "checkout", "params.yaml"], repo)
    ckpt = torch.load(repo / "models/checkpoint.pt", weights_only=True)
    ckpt["g"] = {k: v + 1 if v.is_floating_point() else v for k, v in ckpt["g"].items()}
    torch.save(ckpt, repo / "models/checkpoint.pt")
    write_params(repo, {"train": {"epochs": 2}})
    run(["git", "commit", "-qam", "two epochs"], repo)

    for name, args in EXPS.items():
        run(["dvc", "exp", "run", "--queue", "-n", name, *args], repo)
    # Queued runs must import their snapshot's code, not the workspace's (where the tests'
    # PYTHONPATH, like an editable install, points): break the workspace's copy meanwhile.
    trainer = repo / "src/mnistgan/training.py"
    trainer.write_text('raise SystemExit("imported the workspace, not the snapshot")\n')
    try:
        start_workers(repo)
        status = wait_for_queue(repo)
    finally:
        stop_workers(repo)
    logs = "".join(run(["dvc", "queue", "logs", n], repo, check=False).stdout for n in EXPS)
    assert status.count("Success") == 2 and "Failed" not in status, status + logs
    run(["git", "checkout", "src/mnistgan/training.py"], repo)
    table = run(["dvc", "exp", "show", "--no-pager", "--csv"], repo).stdout
    assert all(name in table for name in EXPS), table

    (repo / "models/checkpoint.pt").unlink()  # plain runs start from scratch
    results = {}
    for name in EXPS:
        run(["dvc", "exp", "apply", name], repo)  # its params, outputs and metrics
        queued = {p: (repo / p).read_bytes() for p in COMPARED}
        out = run(["dvc", "repro", "--no-run-cache", "--force", "--single-item", "train"], repo)
        assert "resuming" not in out.stdout + out.stderr
        (repo / "models/checkpoint.pt").unlink()
        assert {p: (repo / p).read_bytes() for p in COMPARED} == queued, name
        results[name] = queued
    assert results["exp-a"][COMPARED[2]] != results["exp-b"][COMPARED[2]]
