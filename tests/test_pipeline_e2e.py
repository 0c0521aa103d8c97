"""The user journey, for real: dvc repro, rerun, change params, compare, plot, experiment."""

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from conftest import digests, ran, run, write_params
from PIL import Image

from mnistgan.evaluation import metric_names

pytestmark = pytest.mark.e2e

SHARES = "precision recall coverage confident_fraction d_real_mean d_fake_mean d_accuracy d_auc"


def check_ranges(metrics: dict) -> None:
    """Every metric a finite number in the range its definition allows."""
    for key, value in metrics.items():
        assert type(value) in (int, float) and math.isfinite(value), (key, value)
    for key in SHARES.split() + ["conditional_accuracy"] * ("conditional_accuracy" in metrics):
        assert 0 <= metrics[key] <= 1, (key, metrics[key])
    assert metrics["fid"] > 0 and metrics["density"] >= 0 and metrics["class_kl"] >= 0
    assert 1 <= metrics["classifier_score"] <= 10
    assert type(metrics["modes_covered"]) is int and 0 <= metrics["modes_covered"] <= 10


def test_user_journey(pipeline: Path):
    repo = pipeline
    out = run(["dvc", "repro"], repo).stdout
    stages = {"download", "prepare", "train", "sample", "train_classifier", "evaluate"}
    assert ran(out) == stages | {"plots_page", "explore"}

    samples = torch.load(repo / "data/samples/samples.pt", weights_only=True)
    assert samples["images"].dtype == torch.uint8
    assert samples["images"].shape == (256, 1, 28, 28)
    evaluation = json.loads((repo / "metrics/eval/metrics.json").read_text())
    assert {"d_real_mean", "d_fake_mean", "d_accuracy", "d_auc"} <= evaluation.keys()
    quality = (
        "fid kid classifier_score precision recall density coverage modes_covered "
        "class_kl confident_fraction"
    ).split()
    assert set(quality) <= evaluation.keys()
    check_ranges(evaluation)
    floor = json.loads((repo / "metrics/eval/floor.json").read_text())
    assert floor.keys() == {f"real_{k}" for k in quality}
    assert [k for k in evaluation if k.startswith("real_")] == ["real_fid"]
    assert evaluation["real_fid"] == floor["real_fid"]
    # Held-out real digits score what a perfect generator would; one tiny epoch of GAN is
    # far from that (the tiny classifier is weak, so real digits need not cover 10 modes).
    assert floor["real_fid"] < evaluation["fid"]
    assert floor["real_precision"] > 0.5 > evaluation["precision"]
    assert floor["real_modes_covered"] >= evaluation["modes_covered"]
    assert json.loads((repo / "metrics/classifier.json").read_text())["test_accuracy"] > 0.5
    hist = (repo / "metrics/eval/class_hist.csv").read_text().splitlines()
    assert hist[0] == "digit,source,fraction" and len(hist) == 21
    assert (repo / "metrics/eval/plots/images/uncertain.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((repo / "metrics/data.json").read_text())
    assert data == {"counts": {"train": 512, "val": 256, "test": 2000}}
    provenance = json.loads((repo / "data/prepared/provenance.json").read_text())
    assert not any(f["official"] for f in provenance["files"].values())  # fixture, not release
    first = digests(repo)

    # val_<key>, what may choose, compares the samples with the validation images; the
    # temperature script, which never reads the test split, scores the same val_fid
    assert {f"val_{k}" for k in metric_names.REFERENCED} <= evaluation.keys()
    assert evaluation["val_fid"] != evaluation["fid"]
    t = yaml.safe_load((repo / "params.yaml").read_text())["sample"]["temperature"]
    script = ["python", "bench/temperature.py", "models/generator.pt", "--temperatures", str(t)]
    chosen = json.loads(run([*script, "0.5"], repo).stdout)
    assert chosen["val_fid"][str(t)] == [evaluation["val_fid"]]
    assert chosen["best"] in (t, 0.5) and len(chosen["mean"]) == 2

    # A second repro is a no-op.
    again = run(["dvc", "repro"], repo).stdout
    assert ran(again) == set() and "up to date" in again
    assert run(["dvc", "status"], repo).stdout.strip() == "Data and pipelines are up to date."

    # Byte-identical outputs when everything runs again from scratch (timing aside).
    run(["dvc", "repro", "--force"], repo)
    assert digests(repo) == first

    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "baseline run"], repo)

    # Changing sample.n reruns sample and evaluate only.
    write_params(repo, {"sample": {"n": 300}})
    assert ran(run(["dvc", "repro"], repo).stdout) == {"sample", "evaluate"}

    # Changing train.epochs reruns train and what reads G, not prepare or the classifier.
    write_params(repo, {"train": {"epochs": 2}})
    assert ran(run(["dvc", "repro"], repo).stdout) == {"train", "sample", "evaluate", "explore"}
    diff = run(["dvc", "metrics", "diff"], repo).stdout
    assert "metrics/train/metrics.json" in diff and "epoch" in diff

    plots = run(["dvc", "plots", "show", "-o", "plots_html"], repo)
    html = (repo / "plots_html/index.html").read_text()
    assert "d_loss" in html and "vega" in html, plots.stdout
    assert "Predicted digit classes" in html and "uncertain.png" in html

    run(["git", "checkout", "params.yaml"], repo)
    run(["dvc", "checkout", "--force"], repo)  # back to the committed baseline
    run(["dvc", "exp", "run", "-S", "train.epochs=2"], repo)
    table = run(["dvc", "exp", "show", "--no-pager", "--csv"], repo).stdout
    assert len([r for r in table.splitlines()[1:] if r.strip()]) >= 2, table
    assert "train.epochs" in table.splitlines()[0]

    # A typo or a bad value passed on the command line stops the run, naming the key.
    typo = run(["dvc", "exp", "run", "-S", "+train.epoch=3"], repo, check=False)
    assert typo.returncode != 0 and "train.epoch: unknown key" in typo.stdout + typo.stderr
    run(["git", "checkout", "params.yaml"], repo)  # a failed exp run leaves its -S in place
    bad = run(["dvc", "exp", "run", "-S", "train.epochs=-1"], repo, check=False)
    assert bad.returncode != 0
    assert "train.epochs: got -1, expected an integer in [1, 100000]" in bad.stdout + bad.stderr


def test_generate_command(pipeline: Path, tmp_path: Path):
    run(["dvc", "repro", "train"], pipeline)
    png, pt = tmp_path / "grid.png", tmp_path / "s.pt"
    ckpt = ["--checkpoint", "models/generator.pt"]
    run(
        ["python", "-m", "mnistgan", "generate", *ckpt, "-n", "16", "--seed", "0", "--out", png],
        pipeline,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run(["python", "-m", "mnistgan", "generate", *ckpt, "-n", "5", "--out", pt], pipeline)
    images = torch.load(pt, weights_only=True)["images"]
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.uint8
    digit = ["python", "-m", "mnistgan", "generate", *ckpt, "--digit", "7", "--out", png]
    refused = run(digit, pipeline, check=False)
    assert refused.returncode == 1
    assert "--digit: models/generator.pt is an unconditional generator" in refused.stderr


def test_conditional_pipeline_with_ema(pipeline: Path, tmp_path: Path):
    write_params(pipeline, {"model": {"conditional": True}, "train": {"ema": 0.9}})
    run(["dvc", "repro"], pipeline)
    samples = torch.load(pipeline / "data/samples/samples.pt", weights_only=True)
    assert samples["labels"].dtype == torch.int64 and samples["labels"].shape == (256,)
    train = torch.load(pipeline / "data/prepared/train.pt", weights_only=True)["labels"]
    exact = torch.bincount(train, minlength=10) * 256 / len(train)  # the training frequencies
    assert (torch.bincount(samples["labels"], minlength=10) - exact).abs().max() < 1
    evaluation = json.loads((pipeline / "metrics/eval/metrics.json").read_text())
    check_ranges(evaluation)
    # the share of the 200 scored samples (evaluate.n_samples) read as the digit asked for
    correct = evaluation["conditional_accuracy"] * 200
    assert abs(correct - round(correct)) < 1e-9
    with Image.open(pipeline / "metrics/samples.png") as grid:  # 10 x 10 digits of 28 + 2 px
        assert grid.size == (2 * (10 * 30 + 2), 2 * (10 * 30 + 2))
    with Image.open(pipeline / "metrics/interpolations.png") as walk:  # 8 z rows + 10 digit rows
        assert walk.size == (2 * (10 * 30 + 2), 2 * (18 * 30 + 2))
    ema = torch.load(pipeline / "models/generator.pt", weights_only=True)["state_dict"]
    raw = torch.load(pipeline / "models/generator_raw.pt", weights_only=True)["state_dict"]
    assert not all(torch.equal(ema[k], raw[k]) for k in ema)

    sevens = tmp_path / "sevens.pt"
    cmd = ["python", "-m", "mnistgan", "generate", "--digit", "7", "-n", "16", "--out"]
    run([*cmd, sevens], pipeline)
    run([*cmd, tmp_path / "sevens.png"], pipeline)
    out = torch.load(sevens, weights_only=True)
    assert out["images"].shape == (16, 1, 28, 28) and out["labels"].tolist() == [7] * 16
