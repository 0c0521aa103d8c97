"""CPU runtime settings for training: how many threads, and an allocator that keeps memory."""

import ctypes
import os

import torch


def usable_cores() -> int:
    """Cores this process may run on: not os.cpu_count(), which also counts cores a container
    or taskset withholds, where the platform can tell (os.process_cpu_count from Python 3.13,
    os.sched_getaffinity on Linux); elsewhere (macOS, Windows before 3.13) every core."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def set_threads(threads: int | None, processes: int = 1) -> int:
    """Pin torch's CPU thread count: null means every core this process may run on, shared
    out among the `processes` training on this machine. More threads than cores only
    contend, and a count in the thousands crashes torch: they are capped at the cores."""
    cores = usable_cores()
    n = min(threads, cores) if threads else max(1, cores // processes)
    torch.set_num_threads(n)
    return n


def keep_freed_memory() -> None:
    """Make glibc keep freed blocks of up to 32 MB in the heap. By default it hands big ones
    back to the OS, so every step page-faults its activations in afresh; kept, they are
    reused (docs/performance.md has the measurements). Process-wide and for good, so only
    entry points (the stages, the benchmark) call it; a no-op where libc is not glibc
    (macOS, Windows, musl)."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: malloc, not mmap, up to 32 MB
    mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: return heap tops only past 1 GB
