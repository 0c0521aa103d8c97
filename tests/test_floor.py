"""The real-data floor protocol: seeded, disjoint draws, and a perfect generator scores it."""

import pytest
import torch

from mnistgan.core.errors import UserError
from mnistgan.evaluation import floor, metric_names
from mnistgan.evaluation.classifier import LeNet


def images(n: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {
        "images": torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8),
        "labels": torch.arange(n) % 10,
    }


SAMPLES, TEST, VAL = images(60, 0), images(80, 1), images(70, 2)


def classifier() -> LeNet:
    torch.manual_seed(0)
    return LeNet().eval()


def test_draws_are_seeded_and_sized():
    a = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=3)
    b = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=3)
    c = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=4)
    assert torch.equal(a.reference, b.reference) and torch.equal(a.floor, b.floor)
    assert not torch.equal(a.reference, c.reference)
    assert a.reference.shape == a.floor.shape == a.samples.shape == (50, 1, 28, 28)
    assert torch.equal(a.samples, SAMPLES["images"][:50])
    drawn = [next(j for j, x in enumerate(VAL["images"]) if torch.equal(x, y)) for y in a.floor]
    assert torch.equal(a.floor_labels, VAL["labels"][drawn])  # each image keeps its label
    assert torch.equal(a.sample_labels, SAMPLES["labels"][:50])
    unlabelled = floor.draw_sets({"images": SAMPLES["images"]}, TEST, VAL, 50, seed=3)
    assert unlabelled.sample_labels is None


def test_too_many_samples_asked_for_names_the_param_and_the_sizes():
    with pytest.raises(
        UserError,
        match=r"^evaluate\.n_samples: got 65, expected at most 60 \(60 samples \(sample\.n\), "
        r"80 test images, 70 validation images \(data\.val_size\)\)$",
    ):
        floor.draw_sets(SAMPLES, TEST, VAL, 65, seed=0)


def test_a_generator_that_returns_the_floor_images_scores_the_floor():
    sets = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=0)
    perfect = floor.Sets(
        sets.reference, sets.reference_labels, sets.floor, sets.floor_labels, sets.floor, None
    )
    metrics = floor.measure(classifier(), perfect, seed=0).metrics
    keys = [k for k in metrics if not k.startswith(("real_", "val_"))]
    assert {"fid", "kid", "precision", "recall", "modes_covered"} <= set(keys)
    assert all(metrics[k] == metrics[f"real_{k}"] for k in keys)
    assert "conditional_accuracy" not in metrics
    # against the validation images they are: FID 0, every sample in a real ball and back
    assert abs(metrics["val_fid"]) < 1e-6
    assert metrics["val_precision"] == metrics["val_recall"] == metrics["val_coverage"] == 1.0


def test_val_metrics_score_the_samples_against_the_validation_images():
    """val_<key> is <key> with the validation draw as the reference: swap the two real sets
    and the test metrics become the val ones, so a val_fid read off the test images fails."""
    sets = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=0)
    scores = floor.measure(classifier(), sets, seed=0).metrics
    swapped = floor.Sets(
        sets.floor, sets.floor_labels, sets.reference, sets.reference_labels, sets.samples, None
    )
    flipped = floor.measure(classifier(), swapped, seed=0).metrics
    for key in metric_names.REFERENCED:
        assert scores[f"val_{key}"] == flipped[key], key
        assert flipped[f"val_{key}"] == scores[key], key
    assert scores["val_fid"] != scores["fid"]


def test_scores_of_labelled_samples():
    sets = floor.draw_sets(SAMPLES, TEST, VAL, 50, seed=0)
    scores = floor.measure(classifier(), sets, seed=0)
    assert scores.sample_probs.shape == (50, 10)
    assert torch.allclose(scores.reference_hist.sum(), torch.tensor(1.0, dtype=torch.float64))
    predicted = scores.sample_probs.argmax(1)
    expected = float((predicted == sets.sample_labels).double().mean())
    assert scores.metrics["conditional_accuracy"] == expected
