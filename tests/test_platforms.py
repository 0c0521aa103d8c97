"""Off Linux: CPU counting and the glibc allocator setting fall back to what the platform has."""

import os
from types import SimpleNamespace

import pytest

from mnistgan import cpu


def no_libc(name):
    raise OSError(f"{name}: cannot open shared object file")


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
    monkeypatch.setattr(cpu, "ctypes", SimpleNamespace(CDLL=libc))
    cpu.keep_freed_memory()
