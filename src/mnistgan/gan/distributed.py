"""Data-parallel training with torch.distributed, launched by torchrun: every rank draws the
same global batches from the same seeded generator and trains on its own slice of each, DDP
averages the gradients, batch norm uses the statistics of the whole global batch, and rank 0
alone reads and writes files. So N processes train the same model as one, up to float
rounding, and a checkpoint resumes under any number of processes."""

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn

from mnistgan.core.cpu import usable_cores
from mnistgan.core.device import on_cpu
from mnistgan.core.errors import UserError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1  # processes on this machine

    @property
    def main(self) -> bool:
        return self.rank == 0


ALONE = World()  # one process, no process group


def launch(processes: int) -> None:
    """Replace this process with `torchrun --standalone --nproc-per-node processes` running
    the same module (`python -m stages.train`, torchrun's -m) or script, with the same
    arguments (train.processes > 1 under `dvc repro`); a no-op under torchrun."""
    if processes < 2 or "LOCAL_RANK" in os.environ:
        return
    spec = sys.modules["__main__"].__spec__  # None for a script
    program = ["-m", spec.name] if spec else sys.argv[:1]
    run = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    cmd = [sys.executable, *run, *program, *sys.argv[1:]]
    if os.name == "nt":  # exec on Windows ends this process at once: dvc would stop waiting
        sys.exit(subprocess.call(cmd))
    os.execv(sys.executable, cmd)


def check_processes(processes: int, device: torch.device) -> None:
    """Refuse, before torchrun starts any, more processes than this machine has CPU cores or
    CUDA GPUs for one each on `device` (an Apple GPU trains in one process)."""
    if device.type == "cuda":
        have, what = torch.cuda.device_count(), "CUDA GPU"
    elif device.type == "mps":
        have, what = 1, "Apple GPU"
    else:
        have, what = usable_cores(), "CPU core"
    if processes > have:
        raise UserError(
            f"train.processes: got {processes}, expected at most {have}: one process per "
            f"{what} of train.device {device.type} here"
        )


def join(device_type: str) -> World:
    """This process's place in torchrun's job (its environment variables), joined to the
    process group: NCCL for CUDA, gloo for CPU. One process alone joins nothing."""
    env = lambda name, default: int(os.environ.get(name, default))  # noqa: E731
    world = World(env("RANK", 0), env("WORLD_SIZE", 1), env("LOCAL_RANK", 0))
    world = World(world.rank, world.size, world.local_rank, env("LOCAL_WORLD_SIZE", world.size))
    if world.size > 1 and not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return world


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device, world: World) -> torch.device:
    """One GPU per process on a machine; CPU processes share the CPU. An Apple GPU trains in
    one process (a Mac has one, and gloo does not carry its tensors)."""
    if device.type == "mps" and world.size > 1:
        raise UserError(
            f"train.processes: got {world.size}, but training on mps runs in one process"
        )
    return torch.device("cuda", world.local_rank) if device.type == "cuda" else device


def rows(batch_size: int, world: World) -> slice:
    """This rank's rows of every global batch."""
    if batch_size % world.size:
        raise UserError(
            f"train.batch_size: got {batch_size}, expected a multiple of the {world.size} "
            "processes (each trains on an equal slice of every batch)"
        )
    n = batch_size // world.size
    return slice(world.rank * n, (world.rank + 1) * n)


def batch_sum(t: torch.Tensor) -> torch.Tensor:
    """`t`, a sum over this process's slice of the batch, summed over every slice (one
    autograd-aware all-reduce under torchrun; `t` itself in a single process). Batch-level
    statistics (batch norm, the class-balance term) need it to match a single process."""
    return dist_nn.all_reduce(t) if dist.is_initialized() else t


def batch_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of `x` over dim 0 of the global batch (`x.mean(0)` in a single process)."""
    if not dist.is_initialized():
        return x.mean(0)
    total = batch_sum(torch.cat([x.sum(0), x.new_tensor([len(x)])]))
    return total[:-1] / total[-1]


class SyncStats:
    """Batch norm over the global batch, with the statistics summed by one autograd-aware
    all-reduce: the maths of nn.SyncBatchNorm, which refuses CPU tensors (and so gloo)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized()):
            return super().forward(x)
        dims, c = [0, *range(2, x.dim())], x.shape[1]
        xf = x.float()
        local = torch.cat([xf.sum(dims), xf.square().sum(dims), xf.new_tensor([x.numel() / c])])
        total = batch_sum(local)
        n = total[-1]
        mean = total[:c] / n
        var = total[c : 2 * c] / n - mean.square()
        with torch.no_grad():
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
            self.num_batches_tracked += 1
        shape = [1, c] + [1] * (x.dim() - 2)
        scale = (self.weight * torch.rsqrt(var + self.eps)).view(shape)
        return ((xf - mean.view(shape)) * scale + self.bias.view(shape)).to(x.dtype)


class SyncBatchNorm1d(SyncStats, nn.BatchNorm1d):
    pass


class SyncBatchNorm2d(SyncStats, nn.BatchNorm2d):
    pass


SYNCED = {nn.BatchNorm1d: SyncBatchNorm1d, nn.BatchNorm2d: SyncBatchNorm2d}


def wrap(net: nn.Module, world: World, device: torch.device) -> nn.Module:
    """`net` with synchronised batch norm (in place: same parameters, buffers and state-dict
    keys, so optimizers, checkpoints and saved models are unchanged) inside DDP."""
    if world.size == 1:
        return net
    for m in net.modules():
        m.__class__ = SYNCED.get(type(m), type(m))
    # no buffer sync per forward: running statistics come from all-reduced batch statistics
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, ids, forward_sync_buffers=False)


def unwrapped(net: nn.Module) -> nn.Module:
    """The module itself under DDP: the gradient penalty and G's update call D so, as they
    need no sync of D's gradients (DDP expects one backward per forward)."""
    return getattr(net, "module", net)


def mean_(t: torch.Tensor, world: World) -> torch.Tensor:
    """`t` averaged over the ranks, in place."""
    if world.size > 1:
        dist.all_reduce(t)
        t /= world.size
    return t


def from_main(obj, world: World):
    """Rank 0's `obj` on every rank (rank 0 alone reads the checkpoint, so every rank resumes
    from the same state even where nodes share no disk), its tensors on the CPU: pickled GPU
    tensors would unpickle onto rank 0's GPU in every process."""
    box = [on_cpu(obj)]
    dist.broadcast_object_list(box, src=0)
    return box[0]
