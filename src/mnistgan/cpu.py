"""CPU runtime settings for training: how many threads, and an allocator that keeps memory."""

import ctypes
import os

import torch


def set_threads(threads: int | None, processes: int = 1) -> int:
    """Pin torch's CPU thread count: null means every core this process may run on (not
    os.cpu_count(), which counts cores a container or taskset withholds), shared out among
    the `processes` training on this machine."""
    n = threads or max(1, len(os.sched_getaffinity(0)) // processes)
    torch.set_num_threads(n)
    return n


def keep_freed_memory() -> None:
    """Make glibc keep freed blocks of up to 32 MB in the heap. By default it hands big ones
    back to the OS, so every step page-faults its activations in afresh; kept, they are
    reused (docs/performance.md has the measurements). Process-wide and for good, so only
    entry points (the stages, the benchmark) call it; a no-op where libc is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: malloc, not mmap, up to 32 MB
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: return heap tops only past 1 GB
