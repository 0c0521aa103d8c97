"""Data-parallel training on CPU: 2 gloo processes train the model one process trains (same
global batches, up to float rounding); the train stage under torchrun finishes, and resumes
after the whole job is killed."""

import os
import signal
import socket
import subprocess
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import torch
import torch.multiprocessing as mp
from conftest import run, tool_env, write_params
from test_training import MODEL, TRAIN, images

from mnistgan import distributed, training

# Logged losses and D outputs, 2 processes vs 1, over 8 steps (2 epochs of 4): measured max
# abs difference 1.2e-7, one float32 rounding step (sums taken in another order).
TOLERANCE = 1e-5
NO_BN_IN_D = replace(MODEL, d_norm="none")  # G keeps batch norm: synchronised


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, port: int, out: Path) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    world = distributed.join("cpu")
    result = training.train(images(), NO_BN_IN_D, TRAIN, out / "ckpt.pt", world=world)
    distributed.leave()
    if world.main:
        torch.save(result.history.rows, out / f"rows{rank}.pt")


def test_two_processes_match_one(tmp_path):
    mp.spawn(worker, args=(free_port(), tmp_path), nprocs=2)
    two = torch.tensor(torch.load(tmp_path / "rows0.pt", weights_only=True))
    one = torch.tensor(training.train(images(), NO_BN_IN_D, TRAIN, tmp_path / "x.pt").history.rows)
    assert two.shape == one.shape == (8, 6)
    assert torch.equal(two[:, :2], one[:, :2])  # step, epoch
    assert (two - one).abs().max() < TOLERANCE, (two - one).abs().max()


@pytest.mark.e2e
def test_torchrun_stage_finishes_and_resumes_after_kill(pipeline: Path):
    repo = pipeline
    write_params(repo, {"train": {"epochs": 3, "batch_size": 32, "processes": 2}})
    out = run(["dvc", "repro", "train"], repo)
    assert (out.stdout + out.stderr).count("epoch 3/3:") == 1  # rank 0 alone reports
    outputs = ["models/generator.pt", "models/discriminator.pt", "metrics/train/losses.csv"]
    uninterrupted = {p: (repo / p).read_bytes() for p in outputs}
    for name in [*outputs, "models/checkpoint.pt"]:  # as `dvc repro` leaves them when it starts
        (repo / name).unlink()

    job = subprocess.Popen(
        ["python", "stages/train.py"],
        cwd=repo,
        env=tool_env(repo),
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in job.stderr:  # rank 0 has written epoch 1's checkpoint once this is printed
        if line.startswith("epoch 1/3:"):
            break
    for proc in [psutil.Process(job.pid), *psutil.Process(job.pid).children(recursive=True)]:
        proc.send_signal(signal.SIGKILL)  # torchrun and both workers, as a crash would
    job.wait()

    # --no-run-cache: the first run left a run-cache entry, a killed one would leave none
    out = run(["dvc", "repro", "--no-run-cache", "train"], repo)
    assert "resuming from models/checkpoint.pt after epoch 1" in out.stderr + out.stdout
    assert {p: (repo / p).read_bytes() for p in outputs} == uninterrupted
