"""Training beside a busy CPU: the default's first epoch alone, then beside one busy process
(a spinning subprocess) at the default thread count (train.threads: null, every core) and at
the count the epoch line then advises (train.threads: 1). Prints the CPU, then each run's
s/epoch and the epoch line training printed, as JSON.

    PYTHONPATH=src python bench/contention.py [--images 50000] [--source DIR] [--runs ...]

Images: the first --images of the official training set, from --source (default
$MNISTGAN_REAL_MNIST or ../shared/datasets/mnist);
50,000 is the default's epoch (60,000 less data.val_size). Model and training are params.yaml's,
one epoch. Each run is a fresh process, as the train stage is (torch's threads are
process-wide). On a machine other programs also use, every figure is slower and noisier.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = {  # name: (train.threads, a busy process beside it)
    "alone_threads_null": (None, False),
    "busy_threads_null": (None, True),
    "busy_threads_1": (1, True),
}


def cpu_name() -> str:
    """lscpu's model name where there is lscpu (Linux), else what Python's platform says."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def images_folder(source: str | None) -> Path:
    from mnistgan.data.raw import FILES, find_raw

    candidates = [source, os.environ.get("MNISTGAN_REAL_MNIST")]
    candidates.append(ROOT.parent / "shared/datasets/mnist")
    for folder in filter(None, candidates):
        if FILES["train_labels"] in find_raw(Path(folder)):
            return Path(folder)
    for folder in filter(None, candidates):  # the 10,000 test digits, for a short run
        if FILES["test_labels"] in find_raw(Path(folder)):
            return Path(folder)
    sys.exit("no official training images: pass --source DIR (the four MNIST files)")


def child(threads: int | None, n: int, folder: Path) -> None:
    """One epoch in this process; prints {"seconds", "threads", "line"}."""
    import io
    import tempfile
    from contextlib import redirect_stderr

    from mnistgan.core import cpu, params
    from mnistgan.data.idx import read_idx
    from mnistgan.data.raw import FILES, find_raw
    from mnistgan.gan import training

    p = params.load(ROOT / "params.yaml")
    used = cpu.set_threads(threads)
    cpu.keep_freed_memory()
    found = find_raw(folder)
    part = "train" if FILES["train_labels"] in found else "test"
    images = read_idx(found[FILES[f"{part}_images"]], (28, 28)).unsqueeze(1)[:n].clone()
    labels = read_idx(found[FILES[f"{part}_labels"]]).long()[:n].clone()
    train = replace(p.train, epochs=1, threads=threads)
    err = io.StringIO()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, redirect_stderr(err):
        training.train(images, p.model, train, Path(tmp, "checkpoint.pt"), labels)
    seconds = time.perf_counter() - began
    line = next((s for s in err.getvalue().splitlines() if s.startswith("epoch 1/1:")), "")
    print(json.dumps({"seconds": round(seconds, 1), "threads": used, "line": line}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=50_000, help="training images in the epoch")
    ap.add_argument("--source", help="a folder with the official MNIST files")
    ap.add_argument("--runs", default=",".join(RUNS), help="which runs, comma-separated")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = images_folder(args.source)
    if args.child is not None:
        child(None if args.child == "null" else int(args.child), args.images, folder)
        return
    out = {"cpu": cpu_name(), "cores": os.cpu_count(), "images": args.images}
    for name in args.runs.split(","):
        threads, busy = RUNS[name]
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            cmd = [sys.executable, __file__, "--child", str(threads or "null")]
            cmd += ["--images", str(args.images), "--source", str(folder)]
            print(f"{name}...", file=sys.stderr)
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=ROOT)
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
        if done.returncode != 0:
            sys.exit(done.stderr)
        out[name] = json.loads(done.stdout.splitlines()[-1])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
