"""On a machine with a GPU: the default pipeline, twice, each run in its own temporary copy of
the repo (its own DVC cache, so the second run computes everything again); checks that the
two runs' outputs are byte-identical and prints training's images/s.

    PYTHONPATH=src python bench/gpu_check.py [--device cuda] [--source DIR] [--set KEY=VALUE ...]

--device (cuda, mps or cpu; default: auto, as the stages choose) is set as train.device,
sample.device and evaluator.device; a device this machine lacks is refused before any run.
--source: a folder with the four MNIST IDX files, set as data.source (a GPU machine may have
no internet); default: this repo's data/raw/mnist when it holds them, else the download stage
fetches them in each copy. --set overrides a param, as `dvc exp run -S` (--set train.epochs=2).
Prints one JSON object: the device, each run's seconds and train_images_per_s
(metrics/timing.json), and the outputs that differ between the runs; exit status 1 when any
does. A CUDA GPU repeats itself only as far as PyTorch's deterministic kernels allow
(mnistgan.core.device.make_deterministic); CPU runs always repeat (docs/devices.md).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from mnistgan.core import device, params
from mnistgan.core.errors import UserError
from mnistgan.data.raw import FILES, find_raw

REPO = Path(__file__).resolve().parents[1]
# Outputs of the pipeline (DVC outs and metrics) compared between the runs; timing.json is
# the one that differs by design, the checkpoint is no output
OUTPUTS = ("data", "models", "metrics", "plots/page.html")
SKIP = {"metrics/timing.json", "models/checkpoint.pt"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    ap.add_argument("--source", type=Path, help="folder with the four MNIST IDX files")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    return ap.parse_args(argv)


def overrides(args: argparse.Namespace) -> dict:
    """The params each copy runs with: --set's, the device's, data.source; checked now."""
    changes = {f"{stage}.device": args.device for stage in ("train", "sample", "evaluator")}
    source = args.source or REPO / "data/raw/mnist"
    if args.source or len(find_raw(source)) == len(FILES):
        if len(find_raw(source)) != len(FILES):
            raise UserError(f"--source: {source} does not hold the four MNIST IDX files")
        changes["data.source"] = str(source.resolve())
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq or "." not in key:
            raise UserError(f"--set: got {item!r}, expected KEY=VALUE, e.g. train.epochs=2")
        changes[key] = yaml.safe_load(value)
    return changes


def with_changes(raw: dict, changes: dict) -> dict:
    """params.yaml's mapping with `changes` (dotted keys) set, validated as the stages do."""
    for key, value in changes.items():
        section, name = key.split(".", 1)
        raw.setdefault(section, {})[name] = value
    params.parse(raw)  # an unknown key or a bad value is refused before any run
    return raw


def copy_repo(dest: Path, raw: dict) -> None:
    """The repo's tracked and unignored files in `dest`, as a git repo, with params `raw`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip
    for name in listed:
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=gpu_check", "-c", "user.email=gpu@check", "commit", "-qm", "copy"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True, timeout=60)


def digests(repo: Path) -> dict[str, str]:
    """SHA-256 of every output file in `repo` but SKIP."""
    files = []
    for name in OUTPUTS:
        path = repo / name
        files += [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    return {k: v for k, v in out.items() if k not in SKIP}


def run_pipeline(repo: Path, timeout: float) -> dict:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(repo / "src"),
        "DVC_NO_ANALYTICS": "1",
    }
    began = time.perf_counter()
    done = subprocess.run(
        ["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise UserError(f"dvc repro failed in {repo}:\n{(done.stdout + done.stderr)[-3000:]}")
    timing = json.loads((repo / "metrics/timing.json").read_text())
    return {"seconds": round(time.perf_counter() - began, 1)} | timing


def device_name(name: str) -> str:
    where = device.resolve(name, "--device")
    if where.type == "cuda":
        return torch.cuda.get_device_name(where)
    return "Apple GPU (mps)" if where.type == "mps" else "cpu"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = device_name(args.device)  # refuses a device this machine lacks
    raw = with_changes(yaml.safe_load((REPO / "params.yaml").read_text()), overrides(args))
    runs, outputs = [], []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for i in range(2):
            repo = Path(tmp) / f"run{i + 1}"
            copy_repo(repo, raw)
            runs.append(run_pipeline(repo, args.timeout))
            outputs.append(digests(repo))
    first, second = outputs
    differ = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
    report = {"device": name, "torch": torch.__version__, "runs": runs, "outputs": len(first)}
    print(json.dumps(report | {"differ": differ}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
