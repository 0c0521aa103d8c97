"""The ten classes every data set here has (digits 0-9, or ten kinds of clothes or kana):
their number, a tally of labels per class, and which models train on the labels."""

from typing import Any

import torch

from mnistgan.core.errors import UserError

N_CLASSES = 10


def digit_counts(labels: torch.Tensor) -> torch.Tensor:
    """How many of the int64 `labels` are each digit: (N_CLASSES,) int64, absent ones 0."""
    return torch.bincount(labels, minlength=N_CLASSES)


def used_labels(model_params: Any, labels: torch.Tensor | None) -> torch.Tensor | None:
    """The labels training uses: a conditional G or a supervised D needs them (refused
    without), any other model ignores them (so they are no part of its fingerprint)."""
    for key in ("conditional", "supervised_d"):
        if getattr(model_params, key) and labels is None:
            raise UserError(f"model.{key}: true needs the labels of the training images")
    return labels if model_params.conditional or model_params.supervised_d else None


def check_balance(train_params: Any, labels: torch.Tensor | None) -> None:
    """G's balance term pulls its digits towards the training set's shares of each, by their
    logs: a digit the training images lack (share 0) would make it infinite at once."""
    if train_params.balance == 0 or labels is None:
        return
    missing = (digit_counts(labels) == 0).nonzero().flatten().tolist()
    if missing:
        raise UserError(
            f"train.balance: got {train_params.balance}, but the training images hold no "
            f"digit {', '.join(map(str, missing))}, and the balance term aims G at each "
            "digit's share of them: set train.balance: 0, or train on data with every digit"
        )
