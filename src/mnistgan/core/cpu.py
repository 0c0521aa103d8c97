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
    contend, and a count in the thousands crashes torch: they are capped at the cores.

    The count never follows the machine's load: torch's CPU results change with the thread
    count (a default step's weights differ at 1 and 2 threads, bf16 and fp32 alike), so a
    count chosen by load would make reruns differ. A busy machine is reported instead
    (`contention`), with the count to set."""
    cores = usable_cores()
    n = min(threads, cores) if threads else max(1, cores // processes)
    torch.set_num_threads(n)
    return n


BUSY_SHARE = 0.6  # below this share of its threads' CPU time, training is crowded out


def load_average() -> float | None:
    """Runnable threads over the last minute, this process's among them, where the OS counts
    them (Linux, macOS); None elsewhere (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def contention(
    cpu_seconds: float,
    wall_seconds: float,
    threads: int,
    who: str = "training",
    setting: str = "train.threads",
) -> str:
    """Why a CPU run is slow when other programs take its cores, and what to set; empty when
    it is not. torch's threads wait for each other at every op, so one that loses its core
    stalls the rest (docs/performance.md: a busy machine). Crowded out: this process (`who`)
    got under BUSY_SHARE of its threads' CPU time (`cpu_seconds`, from time.process_time),
    or the load average counts more runnable threads than cores. The slowdown said is the
    time it lost, 1 / its share: a floor, as spinning threads count as time got."""
    cores, share = usable_cores(), cpu_seconds / max(wall_seconds * threads, 1e-9)
    load = load_average()
    if share >= BUSY_SHARE and (load is None or load < cores + 0.5):
        return ""
    loaded = "" if load is None else f", load {load:.1f} on {cores} cores"
    whose = f"{threads} threads'" if threads > 1 else "its thread's"
    slower = (
        f", at least {1 / max(share, 0.01):.1f}x slower than alone" if share < BUSY_SHARE else ""
    )
    why = (
        f"other programs are using this CPU ({who} got {share:.0%} of {whose} time{loaded}{slower})"
    )
    if threads == 1:
        return f"; {why}"
    return f"; {why}: {setting}: 1 runs faster beside them (and changes results' last digits)"


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
