"""Screening: train one configuration with the train stage's own loop and score its generator
at chosen epochs, so one run answers "how many epochs?" (docs/studies/2026-11-25-quality.md).

    PYTHONPATH=src python bench/screen.py --name lr_decay --evals 20,30,40 \
        -S train.lr_decay=0.5 [-S model.conditional=true ...]

Needs `dvc repro train_classifier` done (data/prepared/, models/classifier.pt). Params come
from params.yaml with -S overrides; train.epochs is the last --evals epoch. At each of those
epochs the generator of the checkpoint just written (its EMA when train.ema is set) draws
10,000 samples (sample seed 1; a conditional one at the training digit frequencies, as the
sample stage does), scored against 10,000 test digits with the real floor, as the evaluate
stage does (evaluate seed 2); one JSON line each. train_s excludes scoring.
"""

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from mnistgan.core import cpu, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.image_files import load_images
from mnistgan.evaluation import floor
from mnistgan.evaluation.classifier import ClassifierConfig, build_classifier
from mnistgan.gan import training
from mnistgan.gan.models import build_generator
from mnistgan.gan.resume import sampled_generator
from mnistgan.gan.sampling import digit_frequencies, generate, latents, prior_labels

EVALUATE_SEED, SAMPLE_SEED = 2, 1  # the default evaluate.seed and sample.seed
KEYS = ["fid", "real_fid", "classifier_score", "precision", "recall", "class_kl"]


def load_params(overrides: list[str]) -> params.Params:
    """params.yaml with `section.key=value` overrides, validated as the stages do."""
    raw = params.read("params.yaml")
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        raw[section][name] = params.read_yaml_12(value)
    return params.parse(raw)


def score(g: torch.nn.Module, y: torch.Tensor | None, z: torch.Tensor, classifier, test, val):
    """The evaluate stage's metrics of 10,000 samples of `g` (of digits `y` if conditional)."""
    samples = {"images": generate(g, z, y)} | ({} if y is None else {"labels": y})
    sets = floor.draw_sets(samples, test, val, len(z), EVALUATE_SEED)
    metrics = floor.measure(classifier, sets, EVALUATE_SEED).metrics
    extra = [] if y is None else ["conditional_accuracy"]
    return {k: round(metrics[k], 4) for k in KEYS + extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--evals", default="10,20", help="epochs to score at")
    ap.add_argument("-S", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    evals = sorted(int(e) for e in args.evals.split(","))
    p = load_params(args.overrides)
    m, t = p.model, replace(p.train, epochs=evals[-1])
    cpu.set_threads(t.threads)
    cpu.keep_freed_memory()

    train = load_images("data/prepared/train.pt")
    test, val = load_images("data/prepared/test.pt"), load_images("data/prepared/val.pt")
    classifier, _ = load_model(
        "models/classifier.pt", "classifier", build_classifier, ClassifierConfig
    )
    z = latents(10000, m.z_dim, SAMPLE_SEED, p.sample.temperature)
    prior = digit_frequencies(train["labels"])
    y = prior_labels(prior, len(z), SAMPLE_SEED) if m.conditional else None
    checkpoint = Path(tempfile.mkdtemp()) / "checkpoint.pt"
    began, scoring = time.perf_counter(), 0.0

    def on_epoch(epoch: int, means: dict, grid: torch.Tensor) -> None:
        nonlocal scoring
        if epoch not in evals:
            return
        start = time.perf_counter()
        g = build_generator(m)
        g.load_state_dict(sampled_generator(checkpoint))
        train_s = round(start - began - scoring)
        row = {"name": args.name, "epoch": epoch, "ema": t.ema, "train_s": train_s}
        print(json.dumps(row | score(g, y, z, classifier, test, val)), flush=True)
        scoring += time.perf_counter() - start

    training.train(train["images"], m, t, checkpoint, train["labels"], on_epoch=on_epoch)


if __name__ == "__main__":
    main()
