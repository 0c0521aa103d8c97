"""Training throughput: the project's train loop vs a tutorial-style loop, same architecture.

    PYTHONPATH=src python bench/throughput.py [--images 8000] [--archs mlp,dcgan] [--repeats 3]

(a) project: mnistgan.gan.training.train, the train stage's own code, for one epoch on the
    first --images real digits (epoch-end sample grid and checkpoint write included).
(b) naive: the loop of the common GAN tutorials (eriklindernoren/PyTorch-GAN style) on the
    same models: torchvision.datasets.MNIST + ToTensor + Normalize + DataLoader(shuffle=True),
    NCHW, default Adam, `.item()` losses every step; the same number of images.
The naive loops run first, in the process as a tutorial would have it; then the process
takes the train stage's settings (cpu.keep_freed_memory) for the project's loops.
Each loop's figure is the best of --repeats runs. Also: forward+backward FLOPs of one
project step (FlopCounterMode) times its step rate, a measured fp32 matmul peak, and the
process's peak RSS so far. Prints one JSON object.
"""

import argparse
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torch.utils.flop_counter import FlopCounterMode
from torchvision import transforms
from torchvision.datasets import MNIST

from mnistgan.core import cpu, params
from mnistgan.core import device as devices
from mnistgan.core.pixels import to_unit
from mnistgan.data.idx import read_idx
from mnistgan.data.raw import FILES, OUTPUTS, find_raw
from mnistgan.gan import training
from mnistgan.gan.models import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test digits
from fixture import build_from_t10k  # noqa: E402

# the real t10k digits the tests read: $MNISTGAN_REAL_MNIST, else ../shared/datasets/mnist
SHARED_T10K = Path(
    os.environ.get("MNISTGAN_REAL_MNIST")
    or Path(__file__).resolve().parents[2] / "shared/datasets/mnist"
)


def idx_folder(tmp: Path) -> Path:
    """A folder of the four files under their official names: the download stage's, when
    data/raw/ holds them, else the shared real t10k digits split 8k/2k."""
    if not all(path.is_file() for path in OUTPUTS.values()):
        return build_from_t10k(SHARED_T10K, tmp / "idx")
    (tmp / "idx").mkdir()
    for role, path in OUTPUTS.items():  # gzipped or plain: the readers tell by the bytes
        shutil.copyfile(path, tmp / "idx" / FILES[role])
    return tmp / "idx"


def torchvision_root(folder: Path, tmp: Path) -> Path:
    """root/MNIST/raw/ with the four files un-gzipped: torchvision reads the raw IDX files
    when root/MNIST/processed/ is absent, and never downloads when they are there."""
    raw = tmp / "tv/MNIST/raw"
    raw.mkdir(parents=True)
    for path in find_raw(folder).values():
        data = path.read_bytes()
        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        (raw / path.name.removesuffix(".gz")).write_bytes(data)
    return tmp / "tv"


def project(images: torch.Tensor, p: params.Params, checkpoint: Path) -> float:
    train_params = replace(p.train, epochs=1, log_every=10**9)
    result = training.train(images, p.model, train_params, checkpoint)
    return result.images_seen / result.seconds


def naive(root: Path, n: int, p: params.Params, device: torch.device) -> float:
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = Subset(MNIST(str(root), train=True, transform=tf), range(n))
    loader = DataLoader(dataset, batch_size=p.train.batch_size, shuffle=True, drop_last=True)
    g, d = (net.to(device) for net in build(p.model, p.train.seed))
    betas = (p.train.beta1, p.train.beta2)
    opt_g = torch.optim.Adam(g.parameters(), lr=p.train.lr_g, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=p.train.lr_d, betas=betas)
    bce, seen, began = torch.nn.BCEWithLogitsLoss(), 0, time.perf_counter()
    for imgs, _ in loader:
        real = imgs.to(device)
        valid = torch.ones(real.size(0), device=device)
        fake_label = torch.zeros(real.size(0), device=device)
        z = torch.randn(real.size(0), p.model.z_dim, device=device)
        gen = g(z)
        opt_d.zero_grad()
        d_loss = bce(d(real), valid) + bce(d(gen.detach()), fake_label)
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(d(gen), valid)
        g_loss.backward()
        opt_g.step()
        log = f"D {d_loss.item():.4f} G {g_loss.item():.4f}"  # noqa: F841 (the per-step print)
        seen += real.size(0)
    return seen / (time.perf_counter() - began)


def step_flops(images: torch.Tensor, p: params.Params, device: torch.device) -> int:
    """FLOPs of one project step, forward and backward of both updates (Adam excluded)."""
    g, d = (devices.place_net(net, device) for net in build(p.model, p.train.seed))
    opt_g, opt_d = (torch.optim.Adam(net.parameters(), fused=True) for net in (g, d))
    real = to_unit(images[: p.train.batch_size]).to(device)
    z = torch.randn(len(real), p.model.z_dim, device=device)
    batches = [training.Batch(real, z)]  # unconditional bce, as the benchmarked defaults
    with FlopCounterMode(display=False) as counter:
        training.gan_step(g, d, opt_g, opt_d, batches, training.StepConfig())
    return counter.get_total_flops()


def matmul_peak(device: torch.device, n: int = 1024, seconds: float = 2.0) -> float:
    """Best fp32 GFLOP/s of an n x n matmul over a few timed bursts."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(4):
            c = a @ b
        c.sum().item()
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8000, help="training images per measurement")
    ap.add_argument("--archs", default="mlp,dcgan")
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="best of this many runs of each loop (a busy "
        "machine only ever slows a run down, so the best run is the least disturbed one)",
    )
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = params.load(args.params)
    # the tutorial loop is a plain GAN: time the same one (no digit head, no balance term)
    p = replace(p, model=replace(p.model, supervised_d=False), train=replace(p.train, balance=0.0))
    device = devices.resolve(p.train.device, "train.device")
    threads = cpu.set_threads(p.train.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = idx_folder(tmp)
        images = read_idx(find_raw(folder)[FILES["train_images"]], (28, 28)).unsqueeze(1)
        images = images[: args.images].clone()
        root = torchvision_root(folder, tmp)
        peak = matmul_peak(device)
        out = {
            "device": str(device),
            "threads": threads,
            "batch_size": p.train.batch_size,
            "images": len(images),
            "repeats": args.repeats,
        }
        archs = {a: replace(p, model=replace(p.model, arch=a)) for a in args.archs.split(",")}
        # naive loops first: the train stage's allocator setting is for good, process-wide
        slow = {}
        for arch, pa in archs.items():
            print(f"{arch}: naive loop...", file=sys.stderr)
            slow[arch] = max(naive(root, len(images), pa, device) for _ in range(args.repeats))
        cpu.keep_freed_memory()  # as stages/train.py does
        for arch, pa in archs.items():
            print(f"{arch}: project loop...", file=sys.stderr)
            runs = range(args.repeats)  # a checkpoint path each, so no run resumes another
            fast = max(project(images, pa, tmp / f"{arch}{r}.ckpt") for r in runs)
            flops = step_flops(images, pa, device) / p.train.batch_size * fast
            out[arch] = {
                "project_images_per_s": round(fast, 1),
                "naive_images_per_s": round(slow[arch], 1),
                "speedup": round(fast / slow[arch], 2),
                "gflops": round(flops / 1e9, 1),
                "peak_gflops": round(peak, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
