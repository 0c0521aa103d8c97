"""The sample temperature chosen on the validation split: val_fid of trained generators at
each temperature, as the sample and evaluate stages would score them, and their mean.

    PYTHONPATH=src python bench/temperature.py GENERATOR.pt [...] [--temperatures 0.9 1.0 ...]

Run in a repo whose pipeline has run (data/prepared/, models/classifier.pt, params.yaml): the
samples are drawn as the sample stage draws them (sample.n, sample.seed, a conditional G's
digits as often as the training data hold them; sample.keep must be 1), and scored as
evaluate scores val_fid (the same seeded draw of evaluate.n_samples validation images, the
same classifier features), so at params.yaml's temperature it prints metrics.json's val_fid.
The test split is never read: what this chooses may then be reported on it. Prints JSON:
{"val_fid": {temperature: [one value per generator]}, "mean": {...}, "best": temperature}.
"""

import argparse
import json
import statistics

import torch

from mnistgan.core import params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.image_files import load_images
from mnistgan.evaluation import floor
from mnistgan.evaluation.classifier import ClassifierConfig, build_classifier, embed
from mnistgan.evaluation.quality import fid
from mnistgan.gan.models import GeneratorConfig, build_generator
from mnistgan.gan.sampling import digit_frequencies, generate, latents, prior_labels

TEMPERATURES = [0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3]


def validation_features(classifier: torch.nn.Module, p: params.Params) -> torch.Tensor:
    """evaluate's draw of n validation images (floor.draw_indices): it depends on the test
    split's size, read from metrics/data.json, not on its images."""
    with open("metrics/data.json") as f:
        n_test = json.load(f)["counts"]["test"]
    val = load_images("data/prepared/val.pt")["images"]
    _, held_out = floor.draw_indices(n_test, len(val), p.evaluate.n_samples, p.evaluate.seed)
    return embed(classifier, val[held_out])[0]


def samples(path: str, p: params.Params, temperature: float) -> torch.Tensor:
    """The sample stage's first evaluate.n_samples images at `temperature`."""
    g, config = load_model(path, "generator", build_generator, GeneratorConfig)
    z = latents(p.sample.n, config.z_dim, p.sample.seed, temperature)
    labels = None
    if config.conditional:
        prior = digit_frequencies(load_images("data/prepared/train.pt")["labels"])
        labels = prior_labels(prior, len(z), p.sample.seed)
    return generate(g, z, labels, source=path)[: p.evaluate.n_samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("generators", nargs="+", help="generator files (models/generator.pt)")
    parser.add_argument("--temperatures", type=float, nargs="+", default=TEMPERATURES)
    args = parser.parse_args()
    p = params.load()
    if p.sample.keep != 1:
        parser.error("sample.keep < 1: D's choice of drafts is not redrawn here")
    classifier, _ = load_model(
        "models/classifier.pt", "classifier", build_classifier, ClassifierConfig
    )
    real = validation_features(classifier, p)
    scores = {
        t: [fid(real, embed(classifier, samples(path, p, t))[0]) for path in args.generators]
        for t in args.temperatures
    }
    means = {t: statistics.fmean(v) for t, v in scores.items()}
    best = min(means, key=means.get)
    print(json.dumps({"val_fid": scores, "mean": means, "best": best}, indent=1))


if __name__ == "__main__":
    main()
