"""Sizes, seeds, threads and processes beyond what the machine or torch can take are refused
in one line naming the key or flag, before anything is allocated or launched."""

import sys

import pytest
import torch
from conftest import REPO, run, write_small_params

from mnistgan import __main__ as cli
from mnistgan.core import cpu
from mnistgan.core.errors import UserError
from mnistgan.gan import distributed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "1000000000"], r"-n: got 1000000000, expected an integer in \[1, 1000000\]"),
        (["-n", "0"], r"-n: got 0, expected an integer in \[1, 1000000\]"),
        (["--seed", str(2**64)], rf"--seed: got {2**64}, expected an integer in \[0, 2\^63\)"),
        (["--seed", "-1"], r"--seed: got -1, expected an integer in \[0, 2\^63\)"),
    ],
)
def test_generate_refuses_counts_and_seeds_before_loading(monkeypatch, tmp_path, args, message):
    where = ["--checkpoint", str(tmp_path / "generator.pt"), "--out", str(tmp_path / "x.png")]
    monkeypatch.setattr(sys, "argv", ["mnistgan", "generate", *where, *args])
    with pytest.raises(UserError, match=rf"^{message}$"):
        cli.main()


def test_threads_are_capped_at_the_cores(monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    calls = []
    monkeypatch.setattr(cpu.torch, "set_num_threads", calls.append)  # 100000 would crash torch
    assert cpu.set_threads(100_000) == 2 and calls == [2]
    assert cpu.set_threads(1) == 1 and cpu.set_threads(None, processes=2) == 1


@pytest.mark.parametrize(
    ("kind", "have", "what"),
    [("cpu", 2, "CPU core"), ("cuda", 1, "CUDA GPU"), ("mps", 1, "Apple GPU")],
)
def test_processes_beyond_the_cores_or_gpus_are_refused(monkeypatch, kind, have, what):
    monkeypatch.setattr(distributed, "usable_cores", lambda: 2)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    distributed.check_processes(have, torch.device(kind))
    message = (
        rf"^train\.processes: got {have + 1}, expected at most {have}: one process per {what} "
        rf"of train\.device {kind} here$"
    )
    with pytest.raises(UserError, match=message):
        distributed.check_processes(have + 1, torch.device(kind))


@pytest.mark.slow
def test_train_refuses_more_processes_than_cores_before_torchrun(tmp_path):
    n = cpu.usable_cores() + 1
    write_small_params(tmp_path, {"train": {"processes": n, "batch_size": 8 * n}})
    done = run(["python", str(REPO / "stages/train.py")], tmp_path, check=False, timeout=120)
    expected = f"error: train.processes: got {n}, expected at most {n - 1}: one process per "
    assert done.returncode == 1 and done.stderr.startswith(expected), done.stderr[-3000:]
    assert done.stderr.count("\n") == 1
