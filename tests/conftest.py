"""Shared fixtures: real MNIST digits, and a temporary copy of the repo to run DVC in.

Real digits come from $MNISTGAN_REAL_MNIST (a folder with the official t10k files) or
../shared/datasets/mnist beside the repo. From those 10,000 real test digits we build an
IDX folder of 8,000 "train" and 2,000 "test" images (mnistgan.fixture): not the official
split, but real handwriting.
"""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from mnistgan.fixture import build_from_t10k

REPO = Path(__file__).resolve().parents[1]
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
def idx_folder(tmp_path_factory) -> Path:
    """An IDX folder of real digits: 8,000 train + 2,000 test from the official t10k files."""
    source = real_mnist_source()
    if source is None:
        pytest.skip(
            "needs real MNIST digits: set MNISTGAN_REAL_MNIST to a folder with "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz, or provide "
            "../shared/datasets/mnist beside the repo"
        )
    return build_from_t10k(source, tmp_path_factory.mktemp("mnist_idx"))


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
