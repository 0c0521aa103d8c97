"""Screening: train one configuration and score EMA generators of several decays at chosen
epochs, so one run answers "how many epochs?" and "which EMA?" (docs/study-quality.md).

    PYTHONPATH=src python bench/screen.py --name lr_decay --evals 20,30,40 \
        --emas 0.998,0.999 -S train.lr_decay=0.5 [-S model.conditional=true ...]

Needs `dvc repro train_classifier` done (data/prepared/, models/classifier.pt). Params come
from params.yaml with -S overrides; train.epochs is the last --evals epoch. Each evaluation
scores 10,000 samples (sample seed 1) against 10,000 test digits, with the real floor, as the
evaluate stage does (evaluate seed 2), and prints one JSON line. train_s excludes scoring.
"""

import argparse
import copy
import json
import time
from dataclasses import replace

import torch
import yaml

from mnistgan import cpu, floor, params, training
from mnistgan.checkpoint import load_model, load_safely
from mnistgan.classifier import build_classifier
from mnistgan.ema import update_ema, warmed_decay
from mnistgan.params import EvaluatorParams
from mnistgan.pixels import to_unit
from mnistgan.sampling import digit_frequencies, generate, latents, prior_labels

EVALUATE_SEED, SAMPLE_SEED = 2, 1  # the default evaluate.seed and sample.seed
KEYS = ["fid", "real_fid", "classifier_score", "precision", "recall", "class_kl"]


def load_params(overrides: list[str]) -> params.Params:
    """params.yaml with `section.key=value` overrides, validated as the stages do."""
    raw = yaml.safe_load(open("params.yaml"))
    for item in overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        raw[section][name] = yaml.safe_load(value)
    return params.parse(raw)


def score(
    g: torch.nn.Module, y: torch.Tensor | None, z: torch.Tensor, classifier, test, val
) -> dict:
    """The evaluate stage's metrics of 10,000 samples of `g` (of digits `y` if conditional)."""
    conditional = y is not None
    samples = {"images": generate(g, z, y)} | ({"labels": y} if conditional else {})
    sets = floor.draw_sets(samples, test, val, len(z), EVALUATE_SEED)
    metrics = floor.score(classifier, sets, EVALUATE_SEED).metrics
    extra = ["conditional_accuracy"] if conditional else []
    return {k: round(metrics[k], 4) for k in KEYS + extra}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--evals", default="10,20", help="epochs to score at")
    ap.add_argument("--emas", default="0.998,0.999", help="EMA decays to track")
    ap.add_argument("-S", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    evals = sorted(int(e) for e in args.evals.split(","))
    p = load_params(args.overrides)
    m, t = p.model, replace(p.train, epochs=evals[-1])
    cpu.set_threads(t.threads)
    cpu.keep_freed_memory()

    train = load_safely("data/prepared/train.pt")
    test, val = load_safely("data/prepared/test.pt"), load_safely("data/prepared/val.pt")
    classifier, _ = load_model(
        "models/classifier.pt", "classifier", build_classifier, EvaluatorParams
    )

    device = training.resolve_device(t.device)
    nets = training.build_nets(m, t, device)
    emas = {d: copy.deepcopy(nets.g) for d in map(float, args.emas.split(","))}
    data, labels = to_unit(train["images"]).to(device), train["labels"].to(device)
    prior = digit_frequencies(labels)
    steps = training.steps_per_epoch(len(data), t)
    z = latents(10000, m.z_dim, SAMPLE_SEED)
    y = prior_labels(prior.cpu(), len(z), SAMPLE_SEED) if m.conditional else None
    cast = lambda: training.autocast(t.amp, device)  # noqa: E731
    step, train_s = 0, 0.0
    for epoch in range(1, t.epochs + 1):
        began = time.perf_counter()
        nets.g.train()
        nets.d.train()
        order = torch.randperm(len(data), generator=nets.rng, device=device)
        for i in range(steps):
            training.schedule_lrs(nets, t, step, steps * t.epochs)
            batches = training.draw_batches(data, labels, order, i, t, m, nets.rng)
            training.gan_step(
                nets.g, nets.d, nets.opt_g, nets.opt_d, batches, t.loss, t.gp_weight, cast,
                t.balance, prior, t.digit_loss,
            )  # fmt: skip
            for decay, ema in emas.items():
                update_ema(ema, nets.g, warmed_decay(decay, step))
            step += 1
        train_s += time.perf_counter() - began
        if epoch in evals:
            for decay, ema in emas.items():
                g = copy.deepcopy(ema).cpu().to(memory_format=torch.contiguous_format)
                row = {"name": args.name, "epoch": epoch, "ema": decay, "train_s": round(train_s)}
                print(json.dumps(row | score(g, y, z, classifier, test, val)), flush=True)


if __name__ == "__main__":
    main()
