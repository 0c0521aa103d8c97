"""Off Linux: CPU counting and the glibc allocator setting fall back to what the platform has,
and every stage (and `python -m mnistgan`) runs without the APIs macOS and Windows lack."""

import importlib
import os
import sys
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO

from mnistgan import __main__ as cli
from mnistgan.core import cpu, device

STAGES = [
    "download",
    "prepare",
    "train",
    "sample",
    "train_classifier",
    "evaluate",
    "plots_page",
    "explore",
]


def no_libc(name):
    raise OSError(f"{name}: cannot open shared object file")


def without_linux(monkeypatch) -> None:
    """What macOS and Windows lack: sched_getaffinity (and process_cpu_count before Python
    3.13), glibc; and what an older torch lacks: torch.cpu.get_capabilities."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(cpu, "ctypes", SimpleNamespace(CDLL=no_libc))
    monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)
    device.native_bf16.cache_clear()


def test_usable_cores_falls_back_to_what_the_platform_has(monkeypatch):
    if hasattr(os, "sched_getaffinity"):
        assert cpu.usable_cores() == len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "process_cpu_count", lambda: 3, raising=False)  # Python 3.13+
    assert cpu.usable_cores() == 3
    monkeypatch.delattr(os, "process_cpu_count")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4}, raising=False)
    assert cpu.usable_cores() == 5
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert cpu.usable_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # "undetermined"
    assert cpu.usable_cores() == 1


@pytest.mark.parametrize(
    "libc", [no_libc, lambda name: SimpleNamespace()], ids=["no glibc", "no mallopt"]
)
def test_keep_freed_memory_is_a_no_op_without_glibc_mallopt(monkeypatch, libc):
    opened = []
    monkeypatch.setattr(
        cpu, "ctypes", SimpleNamespace(CDLL=lambda name: opened.append(name) or libc(name))
    )
    assert cpu.keep_freed_memory() is None and opened == ["libc.so.6"]


def test_keep_freed_memory_sets_glibc_mmap_and_trim_thresholds(monkeypatch):
    calls = []
    glibc = SimpleNamespace(mallopt=lambda option, value: calls.append((option, value)))
    monkeypatch.setattr(cpu, "ctypes", SimpleNamespace(CDLL=lambda name: glibc))
    cpu.keep_freed_memory()
    assert calls == [(-3, 32 << 20), (-1, 1 << 30)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


@pytest.mark.slow  # every stage, trainings included
def test_every_stage_runs_without_linux_apis(pipeline, monkeypatch, tmp_path):
    """The whole pipeline on tiny params, in this process (~3 s)."""
    monkeypatch.chdir(pipeline)
    monkeypatch.syspath_prepend(str(REPO))  # this tree's stages package (and its src/)
    without_linux(monkeypatch)
    threads = torch.get_num_threads()
    try:
        for name in STAGES:
            importlib.import_module(f"stages.{name}").main()
        out = tmp_path / "grid.png"
        monkeypatch.setattr(sys, "argv", ["mnistgan", "generate", "-n", "4", "--out", str(out)])
        cli.main()
    finally:
        torch.set_num_threads(threads)
        device.native_bf16.cache_clear()
    assert torch.load("data/samples/samples.pt", weights_only=True)["images"].shape[0] == 256
    assert (pipeline / "metrics/eval/metrics.json").is_file() and out.is_file()
