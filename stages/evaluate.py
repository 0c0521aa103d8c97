"""Stage evaluate: how good the samples are, against real test images (reported) and the
held-out validation images (val_<key>: what a search or a default is chosen on).

Reports the discriminator's verdict (mnistgan.evaluation.verdict) and the sample-quality
metrics, each with its real-data floor `real_<key>` (mnistgan.evaluation.floor). The floor
does not depend on the GAN, so it goes to its own file, metrics/eval/floor.json, and only
real_fid stays among the metrics that `dvc exp show` lists. It runs on the CPU, whatever the
machine has (no device param): the same models and samples then give byte-identical metrics
on every rerun, which a GPU's kernels, rounding in other orders, would not promise."""

import sys

import pandas as pd

from mnistgan.core import atomic, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import exit_on_user_error
from mnistgan.core.image_files import load_images
from mnistgan.core.pixels import grid
from mnistgan.core.progress import ticking
from mnistgan.core.tracking import open_live
from mnistgan.evaluation import floor, targets
from mnistgan.evaluation.classifier import ClassifierConfig, build_classifier
from mnistgan.evaluation.quality import class_histogram
from mnistgan.evaluation.verdict import d_scores, discriminator_metrics
from mnistgan.gan.models import DiscriminatorConfig, build_discriminator

UNCERTAIN = 64  # images in metrics/eval/uncertain.png


def main() -> None:
    p = params.load()
    sets = floor.draw_sets(
        load_images("data/samples/samples.pt", labelled=False),
        load_images("data/prepared/test.pt"),
        load_images("data/prepared/val.pt"),
        p.evaluate.n_samples,
        p.evaluate.seed,
    )

    d, d_config = load_model(
        "models/discriminator.pt", "discriminator", build_discriminator, DiscriminatorConfig
    )
    real_labels = sets.reference_labels if d_config.conditional else None
    real_scores = d_scores(d, sets.reference, real_labels)
    fake_scores = d_scores(d, sets.samples, sets.sample_labels if d_config.conditional else None)

    classifier, _ = load_model(
        "models/classifier.pt", "classifier", build_classifier, ClassifierConfig
    )
    scores = floor.measure(classifier, sets, p.evaluate.seed)
    metrics = discriminator_metrics(real_scores, fake_scores) | scores.metrics
    real = {k: v for k, v in metrics.items() if k.startswith("real_")}
    metrics = {k: v for k, v in metrics.items() if k not in real or k == "real_fid"}
    least_sure = scores.sample_probs.max(1).values.argsort(stable=True)[:UNCERTAIN]
    with open_live("metrics/eval") as live:
        for name, value in metrics.items():
            live.log_metric(name, value, plot=False)
        live.log_image("uncertain.png", grid(sets.samples[least_sure]).numpy())
    atomic.write_json("metrics/eval/floor.json", real)

    d_scores_table = pd.concat(
        [
            pd.DataFrame({"source": source, "d_score": values.tolist()})
            for source, values in (("real", real_scores), ("fake", fake_scores))
        ]
    )
    atomic.write_csv("metrics/eval/d_scores.csv", d_scores_table)
    hists = {"generated": class_histogram(scores.sample_probs.argmax(1))}
    hists["real"] = scores.reference_hist
    class_table = pd.concat(
        [
            pd.DataFrame({"digit": range(N_CLASSES), "source": source, "fraction": hist.tolist()})
            for source, hist in hists.items()
        ]
    )
    atomic.write_csv("metrics/eval/class_hist.csv", class_table)
    table = targets.table(metrics, real, d_config.conditional, p.evaluate.n_samples)
    print(table, file=sys.stderr)


if __name__ == "__main__":
    with ticking("evaluate"):  # a line a minute: scoring 10,000 images takes a while
        exit_on_user_error(main)
