"""The real-data floor: how good would a perfect generator score here?

Every sample-quality metric is computed twice against one reference set of real test images:
for the samples, and for as many held-out real validation images (`real_<key>`), which neither
the GAN nor the classifier ever saw. Same set sizes on both sides, so the finite-sample bias of
FID and of the k-NN metrics is the same too: compare `fid` with `real_fid`, not with zero.

The metrics that compare with real images are also scored against those validation images
(`val_<key>`, metric_names): what chooses a param reads these, never the test split. FID is
symmetric, so real_fid, the test images against the validation ones, is val_fid's floor too.
"""

from dataclasses import dataclass

import torch
from torch import nn

from mnistgan.core.errors import UserError
from mnistgan.evaluation.classifier import embed
from mnistgan.evaluation.metric_names import REFERENCED
from mnistgan.evaluation.quality import class_histogram, conditional_accuracy, knn_radii, quality


@dataclass(frozen=True)
class Sets:
    """The three image sets of one evaluation, n uint8 images each."""

    reference: torch.Tensor  # real test images, a seeded draw
    reference_labels: torch.Tensor
    floor: torch.Tensor  # held-out real validation images, a seeded draw
    floor_labels: torch.Tensor
    samples: torch.Tensor  # the first n samples
    sample_labels: torch.Tensor | None  # the digit each was drawn as (conditional models)


@dataclass(frozen=True)
class Scores:
    metrics: dict[str, float]  # every metric of the samples, and real_<key> of the floor
    sample_probs: torch.Tensor  # the classifier's softmax on the samples (n, 10)
    reference_hist: torch.Tensor  # share of each digit in the reference set


def draw_indices(n_test: int, n_val: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded draws of n reference (test) and n floor (validation) images, as indices:
    the test draw comes first, so the validation draw depends on the test split's size and
    never its images (a tool that must not read the test split can redraw it)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_test, generator=g)[:n], torch.randperm(n_val, generator=g)[:n]


def draw_sets(samples: dict, test: dict, val: dict, n: int, seed: int) -> Sets:
    """Seeded draws of n reference and n floor images; `samples`, `test`, `val` are the
    {"images", "labels"} dicts of the sample and prepare stages."""
    sizes = {
        "samples (sample.n)": len(samples["images"]),
        "test images": len(test["images"]),
        "validation images (data.val_size)": len(val["images"]),
    }
    if n > min(sizes.values()):
        have = ", ".join(f"{v} {k}" for k, v in sizes.items())
        raise UserError(
            f"evaluate.n_samples: got {n}, expected at most {min(sizes.values())} ({have})"
        )
    ref, held_out = draw_indices(len(test["images"]), len(val["images"]), n, seed)
    labels = samples.get("labels")
    return Sets(
        reference=test["images"][ref],
        reference_labels=test["labels"][ref],
        floor=val["images"][held_out],
        floor_labels=val["labels"][held_out],
        samples=samples["images"][:n],
        sample_labels=None if labels is None else labels[:n],
    )


def measure(classifier: nn.Module, sets: Sets, seed: int) -> Scores:
    """The quality metrics of the samples and of the floor, in the classifier's feature
    space, against the reference set; the samples' val_<key> against the validation images;
    plus conditional_accuracy for labelled samples."""
    ref_feats, _ = embed(classifier, sets.reference)
    ref_radii, ref_hist = knn_radii(ref_feats), class_histogram(sets.reference_labels)
    fake_feats, fake_probs = embed(classifier, sets.samples)
    floor_feats, floor_probs = embed(classifier, sets.floor)
    metrics = quality(ref_feats, ref_radii, ref_hist, fake_feats, fake_probs, seed)
    floor_metrics = quality(ref_feats, ref_radii, ref_hist, floor_feats, floor_probs, seed)
    metrics |= {f"real_{k}": v for k, v in floor_metrics.items()}
    val_radii, val_hist = knn_radii(floor_feats), class_histogram(sets.floor_labels)
    val_metrics = quality(floor_feats, val_radii, val_hist, fake_feats, fake_probs, seed)
    metrics |= {f"val_{k}": val_metrics[k] for k in REFERENCED}
    if sets.sample_labels is not None:
        predicted = fake_probs.argmax(1)
        metrics["conditional_accuracy"] = conditional_accuracy(predicted, sets.sample_labels)
    return Scores(metrics, fake_probs, ref_hist)
