"""Stage evaluate: how good the samples are, against held-out real test images.

Reports the discriminator's verdict, and the quality metrics of mnistgan.quality in the
evaluator's feature space, each with its real-data floor (`real_<key>`): the same metric for
held-out validation images, drawn as many as the samples, against the same reference set.
"""

import torch

from mnistgan import atomic, params
from mnistgan.checkpoint import load_model, load_safely
from mnistgan.errors import UserError, exit_on_user_error
from mnistgan.evaluation import conditional_accuracy, d_scores, discriminator_metrics
from mnistgan.evaluator import embed
from mnistgan.quality import class_histogram, knn_radii, quality
from mnistgan.sampling import grid_png
from mnistgan.tabular import write_csv

UNCERTAIN = 64  # images in metrics/eval/uncertain.png


def main() -> None:
    p = params.load().evaluate
    samples = load_safely("data/samples/samples.pt")
    fake = samples["images"]
    test = load_safely("data/prepared/test.pt")
    val = load_safely("data/prepared/val.pt")
    n = p.n_samples
    sizes = {
        "samples (sample.n)": len(fake),
        "test images": len(test["images"]),
        "validation images (data.val_size)": len(val["images"]),
    }
    if n > min(sizes.values()):
        have = ", ".join(f"{v} {k}" for k, v in sizes.items())
        raise UserError(
            f"evaluate.n_samples: got {n}, expected at most {min(sizes.values())} ({have})"
        )
    g = torch.Generator().manual_seed(p.seed)
    ref = torch.randperm(len(test["images"]), generator=g)[:n]
    held_out = torch.randperm(len(val["images"]), generator=g)[:n]
    real, real_labels = test["images"][ref], test["labels"][ref]
    floor, fake = val["images"][held_out], fake[:n]

    d, cfg = load_model("models/discriminator.pt", "discriminator")
    fake_labels = samples["labels"][:n] if cfg.conditional else None  # what each was drawn as
    real_scores = d_scores(d, real, real_labels if cfg.conditional else None)
    fake_scores = d_scores(d, fake, fake_labels)
    metrics = discriminator_metrics(real_scores, fake_scores)

    evaluator, _ = load_model("models/evaluator.pt", "evaluator")
    ref_feats, _ = embed(evaluator, real)
    ref_radii, ref_hist = knn_radii(ref_feats), class_histogram(real_labels)
    fake_feats, fake_probs = embed(evaluator, fake)
    floor_feats, floor_probs = embed(evaluator, floor)
    metrics |= quality(ref_feats, ref_radii, ref_hist, fake_feats, fake_probs, p.seed)
    floor_metrics = quality(ref_feats, ref_radii, ref_hist, floor_feats, floor_probs, p.seed)
    metrics |= {f"real_{k}": v for k, v in floor_metrics.items()}
    if fake_labels is not None:
        metrics["conditional_accuracy"] = conditional_accuracy(fake_probs.argmax(1), fake_labels)
    atomic.write_json("metrics/eval.json", metrics)

    rows = [["real", s] for s in real_scores.tolist()] + [["fake", s] for s in fake_scores.tolist()]
    write_csv("metrics/eval/d_scores.csv", ["source", "d_score"], rows)
    fake_hist = class_histogram(fake_probs.argmax(1))
    rows = [
        [digit, source, float(hist[digit])]
        for source, hist in (("generated", fake_hist), ("real", ref_hist))
        for digit in range(10)
    ]
    write_csv("metrics/eval/class_hist.csv", ["digit", "source", "fraction"], rows)
    least_sure = fake_probs.max(1).values.argsort(stable=True)[:UNCERTAIN]
    atomic.write_bytes("metrics/eval/uncertain.png", grid_png(fake[least_sure]))


if __name__ == "__main__":
    exit_on_user_error(main)
