"""The speed knobs of training: refused where they would be slower or break determinism."""

import subprocess
import sys

import pytest
import torch

from mnistgan.core import cpu, device
from mnistgan.core.params import ModelParams
from mnistgan.gan import training
from mnistgan.gan.models import build

RUN = {"capture_output": True, "text": True, "check": True}


def test_threads_null_means_every_usable_core(monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 6)
    before = torch.get_num_threads()
    try:
        assert cpu.set_threads(1) == 1 and torch.get_num_threads() == 1
        assert cpu.set_threads(None) == 6 and torch.get_num_threads() == 6
        assert cpu.set_threads(None, processes=4) == 1  # 6 cores among 4 processes
        assert cpu.set_threads(None, processes=2) == 3 and torch.get_num_threads() == 3
        assert cpu.set_threads(None, processes=8) == 1  # never 0
        assert cpu.set_threads(100) == 6  # capped at the cores
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow  # two fresh Python processes
def test_keep_freed_memory_keeps_freed_memory_in_the_heap():
    """160 MB of 8 MB tensors made and freed: past glibc's largest default trim threshold
    (64 MB), so by default it hands the memory back to the OS (to be page-faulted in again
    on the next step); tuned, the freed memory stays in the heap for reuse."""
    script = (
        "import ctypes, sys, torch\n"
        "from mnistgan.core.cpu import keep_freed_memory\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(f'f{i}', ctypes.c_size_t) for i in range(10)]\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "libc.mallinfo2.restype = Info\n"
        "if sys.argv[1] == 'tuned': keep_freed_memory()\n"
        "held = [torch.ones(2 << 20) for _ in range(20)]\n"
        "del held\n"
        "print(libc.mallinfo2().f8 >> 20)\n"  # fordblks: free bytes kept in the heap
    )
    kept_mb = {
        mode: int(subprocess.run([sys.executable, "-c", script, mode], **RUN).stdout)
        for mode in ("default", "tuned")
    }
    assert kept_mb["tuned"] >= 160 > 100 > kept_mb["default"]


def test_channels_last_step_matches_nchw_step():
    """channels_last and the layout-keeping Flatten change speed, not the maths."""
    torch.manual_seed(0)
    real, z = torch.rand(16, 1, 28, 28) * 2 - 1, torch.randn(16, 100)
    stats = []
    for layout in (False, True):
        g, d = build(ModelParams("dcgan", 100, 8, 8, False, False, "batch", False, 1, True, 10), 0)
        if layout:
            g, d = (device.place_net(net, torch.device("cpu")) for net in (g, d))
        opt_g, opt_d = (torch.optim.Adam(m.parameters(), fused=True) for m in (g, d))
        batches = [training.Batch(real, z)]
        stats.append(training.gan_step(g, d, opt_g, opt_d, batches, training.StepConfig()))
        stats.append(next(iter(g.parameters())).detach().clone())
    assert torch.allclose(stats[0], stats[2], atol=1e-5)
    # Adam's first step is ~lr * sign(grad) (lr 1e-3): a near-zero gradient magnifies float
    # noise, so a weight or two of 78k move up to ~5e-5 apart between layouts.
    assert torch.allclose(stats[1], stats[3], atol=1e-4)


@pytest.mark.parametrize("arch,norm", [("mlp", "batch"), ("dcgan", "layer"), ("dcgan", "none")])
def test_discriminator_without_batch_norm_scores_each_image_on_its_own(arch, norm):
    """What lets gan_step score real and fake images in one pass (mlp's D has no norm)."""
    _, d = build(ModelParams(arch, 100, 8, 8, True, False, norm, False, 1, True, 0), 0)
    x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    one_pass = d(x, y)
    assert torch.allclose(one_pass, torch.cat([d(x[:3], y[:3]), d(x[3:], y[3:])]), atol=1e-6)
