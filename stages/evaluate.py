"""Stage evaluate: how good the samples are, against held-out real test images.

Reports the discriminator's verdict (mnistgan.verdict) and the sample-quality metrics, each
with its real-data floor `real_<key>` (mnistgan.floor)."""

from mnistgan import atomic, floor, params
from mnistgan.checkpoint import load_model, load_safely
from mnistgan.classifier import build_classifier
from mnistgan.errors import exit_on_user_error
from mnistgan.models import build_discriminator
from mnistgan.params import EvaluatorParams, ModelParams
from mnistgan.pixels import grid_png
from mnistgan.quality import class_histogram
from mnistgan.tabular import write_csv
from mnistgan.verdict import d_scores, discriminator_metrics

UNCERTAIN = 64  # images in metrics/eval/uncertain.png


def main() -> None:
    p = params.load().evaluate
    sets = floor.draw_sets(
        load_safely("data/samples/samples.pt"),
        load_safely("data/prepared/test.pt"),
        load_safely("data/prepared/val.pt"),
        p.n_samples,
        p.seed,
    )

    d, cfg = load_model(
        "models/discriminator.pt", "discriminator", build_discriminator, ModelParams
    )
    real_labels = sets.reference_labels if cfg.conditional else None
    real_scores = d_scores(d, sets.reference, real_labels)
    fake_scores = d_scores(d, sets.samples, sets.sample_labels if cfg.conditional else None)

    classifier, _ = load_model(
        "models/classifier.pt", "classifier", build_classifier, EvaluatorParams
    )
    scores = floor.score(classifier, sets, p.seed)
    atomic.write_json(
        "metrics/eval.json", discriminator_metrics(real_scores, fake_scores) | scores.metrics
    )

    rows = [["real", s] for s in real_scores.tolist()] + [["fake", s] for s in fake_scores.tolist()]
    write_csv("metrics/eval/d_scores.csv", ["source", "d_score"], rows)
    fake_hist = class_histogram(scores.sample_probs.argmax(1))
    rows = [
        [digit, source, float(hist[digit])]
        for source, hist in (("generated", fake_hist), ("real", scores.reference_hist))
        for digit in range(10)
    ]
    write_csv("metrics/eval/class_hist.csv", ["digit", "source", "fraction"], rows)
    least_sure = scores.sample_probs.max(1).values.argsort(stable=True)[:UNCERTAIN]
    atomic.write_bytes("metrics/eval/uncertain.png", grid_png(sets.samples[least_sure]))


if __name__ == "__main__":
    exit_on_user_error(main)
