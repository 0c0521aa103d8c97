"""A sweep through DVC's queue: two experiments with different params run in parallel
(`dvc queue start -j 2`), each in its own temp copy of the repo, with its own code. Neither
resumes from the workspace's checkpoint, nor from the other's: each ends byte-identical to a
plain `dvc repro` with its params. Neither fetches the raw data again: both check out the
download stage's cached output."""

import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import (
    OFFLINE,
    REPO,
    committed_tree,
    dvc_md5,
    lock_mismatches,
    run,
    stop_workers,
    tool_env,
    write_params,
)

from mnistgan.data import raw

pytestmark = pytest.mark.e2e
RAW_FROM = {path: raw.FILES[role] for role, path in raw.OUTPUTS.items()}  # output <- file
EXPS = {"exp-a": ["-S", "train.lr_d=0.002"], "exp-b": ["-S", "train.seed=7"]}
COMPARED = ["models/generator.pt", "models/discriminator.pt", "metrics/train/metrics.json"]


def start_workers(repo: Path) -> None:
    """`dvc queue start -j 2`, offline. Its workers are daemons that inherit the std streams:
    given pipes, as `run` captures, the call would return only when the last worker exits
    (never, if one hangs)."""
    subprocess.run(
        ["dvc", "queue", "start", "-j", "2"],
        cwd=repo,
        env=tool_env(repo) | OFFLINE,
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


def run_queue(repo: Path, names) -> str:
    """Run the queued experiments `names`, which must all succeed; their logs."""
    try:
        start_workers(repo)
        status = wait_for_queue(repo)
    finally:
        stop_workers(repo)
    logs = "".join(run(["dvc", "queue", "logs", n], repo, check=False).stdout for n in names)
    assert status.count("Success") == len(names) and "Failed" not in status, status + logs
    return logs


def test_queued_experiments_are_isolated_and_reproducible(pipeline: Path):
    repo = pipeline
    # One thread a run: two runs share 2 cores (two threads each would spin-wait).
    write_params(repo, {"train": {"threads": 1}})
    run(["git", "commit", "-qam", "sweep settings"], repo)

    # A checkpoint in the workspace that exp-a would resume from if it could see it: exp-a's
    # params after one epoch, with the generator's weights then tampered with.
    write_params(repo, {"train": {"lr_d": 0.002, "epochs": 1}})
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
    trainer = repo / "src/mnistgan/gan/training.py"
    trainer.write_text('raise SystemExit("imported the workspace, not the snapshot")\n')
    run_queue(repo, EXPS)
    run(["git", "checkout", "src/mnistgan/gan/training.py"], repo)
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


def test_queued_experiments_check_out_the_raw_data(pipeline: Path, idx_folder: Path, tmp_path):
    """The default data settings and no data flags: queued and temp runs get the raw files
    from the download stage's cache, offline, with the folder they were first copied from
    gone."""
    repo, source = pipeline, tmp_path / "mnist"
    shutil.copytree(idx_folder, source)
    write_params(repo, {"data": {"source": str(source)}, "train": {"threads": 1}})
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline run"], repo)
    # test_lock's checks pass on the lock dvc repro wrote, with its metrics committed beside it
    raw = {path.as_posix(): dvc_md5(source / name) for path, name in RAW_FROM.items()}
    assert lock_mismatches(committed_tree(repo, tmp_path / "clone"), raw) == []
    shutil.rmtree(source)  # a second fetch, from here or the network, would fail

    seeds = {"seed-1": 1, "seed-2": 2}
    for name, seed in seeds.items():
        run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"train.seed={seed}"], repo)
    logs = run_queue(repo, seeds)
    assert "Running stage 'train'" in logs and "Running stage 'download'" not in logs, logs
    before = {p: (repo / p).read_bytes() for p in ("params.yaml", "models/generator.pt")}
    temp = run(["dvc", "exp", "run", "--temp", "-S", "train.seed=3"], repo, env=OFFLINE).stdout
    assert "Running stage 'train'" in temp and "Running stage 'download'" not in temp, temp
    assert {p: (repo / p).read_bytes() for p in before} == before  # the workspace as it was

    # dvc exp show: what experiments compare, not where the data came from, nor the floor.
    table = run(["dvc", "exp", "show", "--no-pager", "--csv"], repo).stdout
    header = table.splitlines()[0].split(",")
    assert all(name in table for name in seeds), table
    assert "fid" in header and "real_fid" in header and "counts.train" in header, header
    assert not [c for c in header if "md5" in c or "official" in c or "class_counts" in c]
    assert [c for c in header if c.startswith("real_")] == ["real_fid"], header
    # The README's line: only what differs (the floor, the same for all, drops out).
    cmd = ["dvc", "exp", "show", "--no-pager", "--csv", "--only-changed", "--sort-by", "fid"]
    header = run(cmd, repo).stdout.splitlines()[0].split(",")
    assert "fid" in header and "train.seed" in header and "real_fid" not in header, header
    # The README's comparison: the params that differ, val_fid and fid, on one screen.
    readme = (REPO / "README.md").read_text().splitlines()
    cmd = shlex.split(next(c for c in readme if c.startswith("dvc exp show --only-changed")))
    header = run([*cmd, "--no-pager", "--csv"], repo).stdout.splitlines()[0].split(",")
    assert header == ["Experiment", "fid", "val_fid", "train.seed"], header
    table = run([*cmd, "--no-pager"], repo, env={"COLUMNS": "1000"}).stdout
    assert max(map(len, table.splitlines())) <= 100, table
