"""bench/gpu_check.py, the two-run repeatability check for a GPU machine: it refuses bad
arguments before any run, and on a CPU (--device cpu, tiny params) finds two runs identical."""

import importlib.util
import json

import pytest
import torch
from conftest import REPO, TINY, run

from mnistgan.core.errors import UserError

spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench/gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_a_device_the_machine_lacks_is_refused_before_any_run(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gpu_check, "copy_repo", lambda *a: pytest.fail("it ran"))
    with pytest.raises(UserError, match=r"^--device: got 'cuda', but this machine has no CUDA"):
        gpu_check.main(["--device", "cuda"])


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--set", "train.epochs"], r"^--set: got 'train.epochs', expected KEY=VALUE"),
        (["--set", "train.epoch=2"], r"train\.epoch"),  # a mistyped key, named
        (["--set", "train.epochs=-1"], r"train\.epochs"),
        (["--source", "."], r"^--source: \. does not hold the four MNIST IDX files"),
    ],
)
def test_bad_arguments_are_refused_before_any_run(monkeypatch, args, error):
    monkeypatch.setattr(gpu_check, "copy_repo", lambda *a: pytest.fail("it ran"))
    with pytest.raises(UserError, match=error):
        gpu_check.main(["--device", "cpu", *args])


def test_the_params_each_copy_runs_with():
    args = gpu_check.parse_args(["--device", "cpu", "--set", "train.epochs=2", "--set", "a.b=x"])
    changes = gpu_check.overrides(args)
    assert changes["train.epochs"] == 2 and changes["a.b"] == "x"
    assert {changes[f"{s}.device"] for s in ("train", "sample", "evaluator")} == {"cpu"}


@pytest.mark.e2e  # two tiny pipelines
def test_two_cpu_runs_repeat(idx_folder):
    sets = [f"{s}.{k}={v}" for s, values in TINY.items() for k, v in values.items()]
    args = ["--device", "cpu", "--source", str(idx_folder)]
    out = run(["python", "bench/gpu_check.py", *args, *sum((["--set", s] for s in sets), [])], REPO)
    report = json.loads(out.stdout)
    assert report["differ"] == [] and report["outputs"] >= 20 and report["device"] == "cpu"
    assert len(report["runs"]) == 2
    assert all(r["train_images_per_s"] > 0 and r["seconds"] > 0 for r in report["runs"])
