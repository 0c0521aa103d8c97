"""Data-parallel training on CPU: 2 gloo processes train the model one process trains (same
global batches, up to float rounding); the train stage under torchrun finishes, and resumes
after the whole job is killed."""

import os
import socket
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
from conftest import SMALL, images, kill_train_stage_after, run, write_params

from mnistgan.gan import distributed, training

# Logged losses and D outputs, 2 processes vs 1, over 2 epochs: measured max abs difference
# 1.2e-7 in every run below, one float32 rounding step (sums taken in another order).
TOLERANCE = 1e-5
MODEL = SMALL.model
TRAIN = replace(SMALL.train, epochs=2, lr_decay=0.0, amp=None)  # fp32: bf16 rounds far coarser
RUNS = [  # (model, train); G has batch norm, synchronised, and so does D in the last run
    (replace(MODEL, d_norm="none"), TRAIN),
    (replace(MODEL, d_norm="layer", conditional=True), replace(TRAIN, loss="wgan-gp", d_steps=2)),
    (replace(MODEL, d_norm="batch"), TRAIN),
]


def labels() -> torch.Tensor:
    return torch.arange(64) % 10


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
    for i, (model, cfg) in enumerate(RUNS):
        result = training.train(images(), model, cfg, out / f"{i}.pt", labels(), world=world)
        if world.main:
            torch.save(result.history.rows, out / f"rows{i}.pt")
    distributed.leave()


@pytest.mark.slow  # 2 processes, 3 runs each
def test_two_processes_match_one(tmp_path):
    """bce without batch norm in D; wgan-gp (the penalty's double backward) with labels and 2
    D steps a G step; bce with batch norm in D (real and fake in two passes)."""
    mp.spawn(worker, args=(free_port(), tmp_path), nprocs=2)
    for i, (model, cfg) in enumerate(RUNS):
        two = torch.tensor(torch.load(tmp_path / f"rows{i}.pt", weights_only=True))
        one = training.train(images(), model, cfg, tmp_path / f"one{i}.pt", labels())
        one = torch.tensor(one.history.rows)
        assert two.shape == one.shape and len(one) == 8 // cfg.d_steps
        assert torch.equal(two[:, :2], one[:, :2])  # step, epoch
        assert (two - one).abs().max() < TOLERANCE, (i, (two - one).abs().max())


@pytest.mark.parametrize(
    ("spec", "program"),
    [(SimpleNamespace(name="stages.train"), ["-m", "stages.train"]), (None, ["stages/train.py"])],
    ids=["python -m stages.train", "python stages/train.py"],
)
def test_launch_reruns_the_same_module_or_script_under_torchrun(monkeypatch, spec, program):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(sys, "argv", ["stages/train.py", "--flag"])  # -m: argv[0] is the file
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", spec)
    calls = []
    monkeypatch.setattr(os, "execv", lambda exe, args: calls.append((exe, args)))
    distributed.launch(1)
    assert calls == []
    distributed.launch(2)
    run = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert calls == [(sys.executable, [sys.executable, *run, *program, "--flag"])]

    # Windows: exec would end this process at once, so it waits for torchrun instead
    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setattr(distributed.subprocess, "call", lambda cmd: 3)
    with pytest.raises(SystemExit) as exited:
        distributed.launch(2)
    assert exited.value.code == 3 and len(calls) == 1


@pytest.mark.e2e
def test_torchrun_stage_finishes_and_resumes_after_kill(pipeline: Path):
    repo = pipeline
    write_params(repo, {"train": {"epochs": 3, "batch_size": 32, "processes": 2}})
    out = run(["dvc", "repro", "train"], repo)
    assert (out.stdout + out.stderr).count("epoch 3/3:") == 1  # rank 0 alone reports
    outputs = [
        "models/generator.pt",
        "models/discriminator.pt",
        "metrics/train/plots/metrics/d_loss.tsv",
    ]
    uninterrupted = {p: (repo / p).read_bytes() for p in outputs}
    (repo / "models/checkpoint.pt").unlink()

    # rank 0 has written epoch 1's checkpoint once this is printed; kill torchrun and workers
    kill_train_stage_after(repo, "epoch 1/3:")

    # --force: DVC would otherwise restore the first run's outputs from its cache
    out = run(["dvc", "repro", "--force", "--single-item", "train"], repo)
    assert "resuming from models/checkpoint.pt after epoch 1" in out.stderr + out.stdout
    assert {p: (repo / p).read_bytes() for p in outputs} == uninterrupted
