"""Shared helpers: small params and random digits for unit tests, real MNIST digits, and a
temporary copy of the repo to run DVC in.

Real digits come from $MNISTGAN_REAL_MNIST (a folder with the official t10k files) or
../shared/datasets/mnist beside the repo. From those 10,000 real test digits we build an
IDX folder of 8,000 "train" and 2,000 "test" images (tests/fixture.py): not the official
split, but real handwriting.
"""

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from fixture import build_from_t10k

from mnistgan.core import params

REPO = Path(__file__).resolve().parents[1]

# The unit tests' nets are tiny: a second thread buys nothing, and on a busy 2-core machine
# torch's threads spin-wait for each other, making a 0.2 s training test take 10-30 s.
# Tests of thread settings set and restore their own; stages run in their own processes.
torch.set_num_threads(1)
REAL_CANDIDATES = [os.environ.get("MNISTGAN_REAL_MNIST"), REPO.parent / "shared/datasets/mnist"]

# Proxies at a closed port: whatever a test's processes try to download fails at once.
OFFLINE = {
    k: "http://127.0.0.1:9" for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
}
OFFLINE |= {"no_proxy": "", "NO_PROXY": ""}

# Tiny params for end-to-end runs: seconds per stage on a 2-core CPU.
TINY = {
    "data": {"limit": 512, "val_size": 256},
    "model": {"features": 8, "d_features": 8},
    "train": {"epochs": 1, "batch_size": 64, "log_every": 2},
    "sample": {"n": 256, "grid": 16},
    "evaluator": {"epochs": 3, "batch_size": 64},
    "evaluate": {"n_samples": 200},
}


def real_mnist_source() -> Path | None:
    for candidate in REAL_CANDIDATES:
        if candidate and (Path(candidate) / "t10k-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def real_mnist() -> Path:
    """The folder of the official t10k files; the test skips, saying why, without one."""
    source = real_mnist_source()
    if source is None:
        pytest.skip(
            "needs real MNIST digits: set MNISTGAN_REAL_MNIST to a folder with "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, or provide "
            "../shared/datasets/mnist beside the repo"
        )
    return source


@pytest.fixture(scope="session")
def idx_folder(real_mnist, tmp_path_factory) -> Path:
    """An IDX folder of real digits: 8,000 train + 2,000 test from the official t10k files."""
    return build_from_t10k(real_mnist, tmp_path_factory.mktemp("mnist_idx"))


def small_raw() -> dict:
    """A params mapping of tiny values for unit tests, fresh on each call: their own, so
    tuning a default in params.yaml breaks no unit test (test_defaults guards that file)."""
    return {
        "data": {
            "dataset": "mnist",
            "source": None,
            "val_size": 16,
            "limit": None,
            "seed": 0,
        },
        "model": {
            "arch": "dcgan",
            "z_dim": 16,
            "features": 4,
            "d_features": 4,
            "conditional": False,
            "spectral_norm": False,
            "d_norm": "batch",
            "supervised_d": True,
            "g_refine": 1,
            "g_taper": True,
            "mixture": 10,
        },
        "train": {
            "epochs": 1,
            "batch_size": 16,
            "lr_g": 0.0012,
            "lr_d": 0.0012,
            "lr_decay": 0.5,
            "beta1": 0.5,
            "beta2": 0.999,
            "seed": 0,
            "device": "cpu",
            "threads": None,
            "amp": None,  # fp32 on every CPU, with bf16 instructions or without
            "compile": False,
            "log_every": 1,
            "loss": "bce",
            "gp_weight": 10.0,
            "d_steps": 1,
            "ema": 0.995,
            "balance": 4.0,
            "digit_loss": 0.7,
            "processes": 1,
        },
        "sample": {
            "n": 64,
            "seed": 1,
            "grid": 16,
            "keep": 1.0,
            "temperature": 1.0,
            "device": "cpu",
        },
        "evaluator": {
            "epochs": 1,
            "batch_size": 64,
            "lr": 0.002,
            "seed": 3,
            "device": "cpu",
            "threads": None,
        },
        "evaluate": {"n_samples": 16, "seed": 2},
    }


SMALL = params.parse(small_raw())


def write_small_params(folder: Path, override: dict) -> None:
    """`folder`/params.yaml: small_raw() with `override` merged in, for a stage run there."""
    text = yaml.safe_dump(merge(small_raw(), override), sort_keys=False)
    (folder / "params.yaml").write_text(text)


def images(n: int = 64) -> torch.Tensor:
    """n random uint8 "digits", the same on every call: data for tests of training."""
    return torch.randint(
        0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )


def merge(base: dict, override: dict) -> dict:
    return {
        k: merge(v, override.get(k, {})) if isinstance(v, dict) else override.get(k, v)
        for k, v in base.items()
    }


def write_params(repo: Path, override: dict) -> None:
    path = repo / "params.yaml"
    path.write_text(
        yaml.safe_dump(merge(yaml.safe_load(path.read_text()), override), sort_keys=False)
    )


def tool_env(cwd: Path) -> dict[str, str]:
    """This interpreter's bin dir first on PATH (dvc, python), and cwd's library importable."""
    return os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(cwd / "src" if (cwd / "src").is_dir() else REPO / "src"),
        "DVC_NO_ANALYTICS": "1",
    }


def run(
    cmd: list[str], cwd: Path, check: bool = True, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run a tool in `cwd` (`env` added to its environment); a hung command fails its test
    after `timeout` s, never CI."""
    env = tool_env(cwd) | (env or {})
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def stop_workers(repo: Path) -> None:
    """`dvc queue stop`, then kill whatever still runs inside the repo: no worker outlives
    its test."""
    try:
        run(["dvc", "queue", "stop", "--kill"], repo, check=False, timeout=120)
    except subprocess.TimeoutExpired:
        pass
    for proc in psutil.process_iter():
        try:
            if Path(proc.cwd()).is_relative_to(repo):
                proc.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


# Pipeline outputs that must be byte-identical between runs of the same params
DETERMINISTIC = [
    "models/generator.pt",
    "models/generator_raw.pt",
    "models/discriminator.pt",
    "models/classifier.pt",
    "metrics/classifier.json",
    "data/raw/train-images",
    "data/prepared/train.pt",
    "data/prepared/provenance.json",
    "data/samples/samples.pt",
    "metrics/samples.png",
    "metrics/interpolations.png",
    "metrics/train/plots/images/samples/8.png",  # 512 images, batch 64: epoch 1 ends at step 8
    "metrics/train/plots/metrics/d_loss.tsv",
    "metrics/train/plots/metrics/d_fake.tsv",
    "metrics/train/losses.png",
    "metrics/train/metrics.json",
    "metrics/eval/metrics.json",
    "metrics/eval/floor.json",
    "metrics/eval/d_scores.csv",
    "metrics/eval/class_hist.csv",
    "metrics/eval/plots/images/uncertain.png",
    "metrics/data.json",
    "plots/page.html",
    "explorer/index.html",
]


def digests(repo: Path, paths: list[str] = DETERMINISTIC) -> dict[str, str]:
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in paths}


def ran(stdout: str) -> set[str]:
    """The stages `dvc repro` ran, from its output."""
    return {line.split("'")[1] for line in stdout.splitlines() if line.startswith("Running stage")}


def kill_train_stage_after(repo: Path, line: str) -> None:
    """Run the train stage in `repo`; SIGKILL it, and every process it started (torchrun's
    workers), as a crash would, once it prints a line starting with `line`."""
    job = subprocess.Popen(
        ["python", "-m", "stages.train"],
        cwd=repo,
        env=tool_env(repo),
        stderr=subprocess.PIPE,
        text=True,
    )
    for printed in job.stderr:
        if printed.startswith(line):
            break
    for proc in [psutil.Process(job.pid), *psutil.Process(job.pid).children(recursive=True)]:
        proc.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL


@pytest.fixture
def pipeline(tmp_path, idx_folder) -> Path:
    """A git + DVC copy of the repo's tracked files with tiny params and real digits, which
    its download stage copies from `idx_folder` (data.source: tests have no network)."""
    repo = tmp_path / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, repo / name)
    write_params(repo, TINY)
    write_params(repo, {"data": {"source": str(idx_folder)}})
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
    ):
        run(cmd, repo)
    return repo


def dvc_md5(path: Path) -> str:
    """A file's or folder's hash as DVC 3 records it in dvc.lock: a file's MD5; for a folder,
    the MD5 of the JSON list of its files' {md5, relpath}, sorted, plus ".dir" (files that
    .dvcignore names, __pycache__ and *.pyc, left out)."""
    if path.is_file():
        return hashlib.md5(path.read_bytes()).hexdigest()
    files = [
        f
        for f in path.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc"
    ]
    entries = [{"md5": dvc_md5(f), "relpath": f.relative_to(path).as_posix()} for f in files]
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def committed_tree(repo: Path, dest: Path) -> Path:
    """`repo`'s last commit, as files in `dest` (`git archive`): what a fresh clone holds."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"],
        cwd=repo,
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(dest, filter="data")
    return dest


def lock_mismatches(tree: Path, raw: dict[str, str] | None) -> list[str]:
    """Where `tree`'s dvc.lock is not what `dvc repro` writes for `tree`'s dvc.yaml, code and
    params.yaml: every stage locked with its command; params as params.yaml holds them;
    code (each dep in git) hashed as its files are; each data dep as the stage that
    writes it locked it (a file inside a locked folder aside: the folder's listing is in
    the cache); the download stage's outputs as `raw` hashes them (None: unchecked); and each
    uncached metrics file committed as locked. The other outputs are not checked here
    (test_lock.py says why)."""
    lock = yaml.safe_load((tree / "dvc.lock").read_text())["stages"]
    pipeline = yaml.safe_load((tree / "dvc.yaml").read_text())["stages"]
    values = yaml.safe_load((tree / "params.yaml").read_text())
    produced = {o["path"]: o["md5"] for s in lock.values() for o in s.get("outs", [])}
    bad = [f"{name}: not in dvc.lock" for name in pipeline if name not in lock]
    for name, stage in lock.items():
        if name not in pipeline:
            bad.append(f"{name}: in dvc.lock, not in dvc.yaml")
            continue
        if stage["cmd"] != pipeline[name]["cmd"]:
            bad.append(f"{name}: cmd {stage['cmd']!r}")
        for key, value in stage.get("params", {}).get("params.yaml", {}).items():
            expected = values
            for part in key.split("."):
                expected = expected[part]
            if value != expected:
                bad.append(f"{name}: param {key} locked as {value!r}, params.yaml has {expected!r}")
        for dep in stage.get("deps", []):
            path, md5 = dep["path"], dep["md5"]
            if path in produced:
                expected = produced[path]
            elif any(path.startswith(out + "/") for out in produced):
                continue  # a file of a locked output folder: its listing is in DVC's cache only
            elif (tree / path).exists():
                expected = dvc_md5(tree / path)
            else:
                bad.append(f"{name}: dep {path} is neither in git nor an output")
                continue
            if md5 != expected:
                bad.append(f"{name}: dep {path} locked as {md5}, is {expected}")
        metrics = [
            next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
            for entry in pipeline[name].get("metrics", [])
        ]
        for out in stage.get("outs", []):
            expected = (raw or {}).get(out["path"]) if name == "download" else None
            if expected is not None and out["md5"] != expected:
                bad.append(f"download: out {out['path']} locked as {out['md5']}, not {expected}")
        for path, options in metrics:
            if options.get("cache", True):
                continue
            locked = next(o["md5"] for o in stage["outs"] if o["path"] == path)
            if not (tree / path).is_file():
                bad.append(f"{name}: metrics file {path} not committed")
            elif dvc_md5(tree / path) != locked:
                bad.append(f"{name}: committed {path} is not the locked one")
    return bad


# Headless Chromium for the browser tests (Playwright): Debian's, offline
CHROMIUM = Path(os.environ.get("MNISTGAN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_OFFLINE = [  # Chromium with no network: a dead proxy, a resolver that finds nothing
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def artifacts() -> Path | None:
    """Where screenshots go: $MNISTGAN_TEST_ARTIFACTS (.ci/run sets it), else the tmp dir."""
    folder = os.environ.get("MNISTGAN_TEST_ARTIFACTS")
    return Path(folder) if folder else None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    pytest.importorskip("playwright", reason="pip install -r requirements-dev.txt")
    if not CHROMIUM.is_file():
        reason = f"needs Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it, so there a skip would hide a broken setup
        pytest.skip(reason)
