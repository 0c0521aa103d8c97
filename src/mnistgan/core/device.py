"""Where a stage computes and in what precision: the device (`auto` takes a CUDA GPU, then an
Apple GPU, then the CPU), whether it computes bf16 natively, the autocast that follows, and
the settings that make reruns on one GPU as repeatable as PyTorch allows. On a CPU every
stage is deterministic anyway; the evaluate stage always runs there (see stages/evaluate.py)."""

import contextlib
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import torch

from mnistgan.core.errors import UserError

NAMES = {"cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}

# CPU capability flags (torch.cpu.get_capabilities) of instructions that oneDNN's bf16 kernels
# use: avx512_bf16 and AMX on x86; on ARM the bf16 extension (BFDOT, BFMMLA), plain or SVE.
CPU_BF16 = ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16")


def available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return torch.backends.mps.is_available()
    return name == "cpu"


def resolve(name: str, key: str) -> torch.device:
    """`auto`: cuda, else mps, else cpu. A named device this machine lacks is refused, with
    `key`, the param that named it."""
    if name == "auto":
        name = next(n for n in ("cuda", "mps", "cpu") if available(n))
    if not available(name):
        raise UserError(f"{key}: got {name!r}, but this machine has no {NAMES[name]}; use auto")
    return torch.device(name)


def generator_device(device: torch.device) -> torch.device:
    """Where training's seeded generator draws for `device`: on it, except on an Apple GPU,
    whose randperm is not uniform over permutations (pytorch/pytorch#104315): there the CPU
    draws the same numbers a CPU run draws, and they are moved."""
    return torch.device("cpu") if device.type == "mps" else device


def cpu_capabilities() -> Mapping[str, Any]:
    """torch.cpu.get_capabilities(), or nothing (so no bf16) where torch lacks it or fails."""
    try:
        return torch.cpu.get_capabilities()
    except Exception:
        return {}


def cpu_bf16(capabilities: Mapping[str, Any]) -> bool:
    return any(capabilities.get(flag) is True for flag in CPU_BF16)


def cuda_bf16() -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3, which counts no emulation
        return torch.cuda.is_bf16_supported()


@functools.cache  # asked before every forward pass
def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes in bf16 natively: a CUDA GPU from Ampere on, or a CPU with
    bf16 instructions (CPU_BF16). Elsewhere bf16 is emulated, far slower than fp32 on a CPU
    (docs/performance.md). Apple GPUs count as without: bf16 needs macOS 14 there, and no
    speed or repeatability of it was measured for this project, so `auto` trains in fp32."""
    if device.type == "cuda":
        return cuda_bf16()
    if device.type == "cpu":
        return cpu_bf16(cpu_capabilities())
    return False


def autocast(amp: str | None, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast of the forward passes: `bf16` where the device computes bf16 natively
    (refused elsewhere), `auto` there and fp32 elsewhere, null always fp32. On a CPU with
    bf16 instructions a dcgan step runs faster (docs/performance.md); a run stays
    byte-identical on the same machine, but not across machines with and without bf16."""
    if amp is None or (amp == "auto" and not native_bf16(device)):
        return contextlib.nullcontext()
    if not native_bf16(device):
        raise UserError(
            f"train.amp: got {amp!r}, but this {device.type} has no native bf16 "
            "(emulated, it is far slower than fp32); use auto or null"
        )
    return torch.autocast(device.type, dtype=torch.bfloat16)


def computes_in(amp: str | None, device: torch.device) -> str:
    """What the forward passes compute in under `amp` on `device`: "bf16" or "fp32"."""
    return "fp32" if isinstance(autocast(amp, device), contextlib.nullcontext) else "bf16"


def sum_dtype(device: torch.device) -> torch.dtype:
    """The dtype of running sums kept on `device`: float64, but float32 on an Apple GPU,
    which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def on_cpu(obj: Any) -> Any:
    """`obj` with every tensor in its dicts, lists and tuples moved to the CPU (CPU tensors
    are kept, not copied): what a file or a broadcast between processes holds, so it loads on
    a machine without the GPU it came from and no process unpickles onto another's GPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(on_cpu(v) for v in obj)
    return obj


def precision(
    amp: str | None, device: torch.device
) -> Callable[[], contextlib.AbstractContextManager]:
    """The maker of a fresh autocast context (autocast) for each forward pass, checked at once:
    a bad `amp` is refused before any work, not at the first step."""
    autocast(amp, device)
    return functools.partial(autocast, amp, device)


def place_net(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`net` moved to `device`; conv nets go channels_last (faster convs on CPU with oneDNN,
    and the layout tensor cores want on GPU), in one move."""
    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    if any(isinstance(m, convs) for m in net.modules()):
        return net.to(device, memory_format=torch.channels_last)
    return net.to(device)


@torch.no_grad()
def forward_in_batches(
    net: torch.nn.Module, forward: Callable[..., Any], *inputs: torch.Tensor | None, batch: int
) -> Any:
    """`forward(*chunk)` on `batch` rows of `inputs` at a time (None passes as None), moved to
    `net`'s device, `net` in eval mode: every inference here is this loop. The outputs are
    concatenated on that device (a tuple's element by element)."""
    net.eval()
    device = next(net.parameters()).device
    outputs = []
    for start in range(0, len(inputs[0]), batch):
        chunk = (None if t is None else t[start : start + batch].to(device) for t in inputs)
        outputs.append(forward(*chunk))
    if isinstance(outputs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outputs, strict=True))
    return torch.cat(outputs)


def make_deterministic(device: torch.device) -> None:
    """On a CUDA GPU: deterministic kernels (a warning, not an error, for an op that has none),
    no cuDNN autotuning (it may pick other kernels on a rerun), and the fixed cuBLAS workspace
    deterministic cuBLAS needs (read when cuBLAS starts: call before any GPU work). So reruns
    on one GPU repeat as far as PyTorch allows; across GPUs or drivers they need not. CPU runs
    are deterministic as they are, and are left alone. Process-wide: for entry points."""
    if device.type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
