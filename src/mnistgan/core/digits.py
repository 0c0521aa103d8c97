"""The ten classes every data set here has (digits 0-9, or ten kinds of clothes or kana):
one constant for their number, and one tally of labels per class."""

import torch

N_CLASSES = 10


def digit_counts(labels: torch.Tensor) -> torch.Tensor:
    """How many of the int64 `labels` are each digit: (N_CLASSES,) int64, absent ones 0."""
    return torch.bincount(labels, minlength=N_CLASSES)
