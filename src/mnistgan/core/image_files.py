"""The image files stages hand on, read back checked: data/prepared/{train,val,test}.pt (the
prepare stage's) and data/samples/samples.pt (the sample stage's). Each is
{"images": uint8 (N, 1, 28, 28), "labels": int64 (N,) digits 0-9}; a sample file of an
unconditional generator has no labels. A file swapped or edited by hand is one line naming it
and what is wrong, in the stage that reads it, not a traceback further on."""

from pathlib import Path

import torch

from mnistgan.core.checkpoint import DATA_FILE_BYTES, load_safely, not_dense
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import UserError
from mnistgan.core.params import preview

IMAGE_SHAPE = (1, 28, 28)


def load_images(path: str | Path, labelled: bool = True) -> dict[str, torch.Tensor]:
    """The images (and labels) at `path`; `labelled`: labels are required, else optional."""
    data = load_safely(path, DATA_FILE_BYTES, "data file")
    if not isinstance(data, dict):
        raise UserError(f"{path}: got {preview(data, 60)}, expected a mapping of images and labels")
    optional = set() if labelled else {"labels"}
    if missing := sorted({"images", "labels"} - optional - data.keys()):
        raise UserError(f"{path}: no {missing[0]}: expected a mapping of images and labels")
    if extra := sorted(map(preview, data.keys() - {"images", "labels"})):
        raise UserError(f"{path}: unexpected key {extra[0]}: expected images and labels only")
    images = dense(path, data, "images")
    if images.dtype != torch.uint8 or images.shape[1:] != IMAGE_SHAPE or len(images) == 0:
        raise UserError(
            f"{path}: images: got {images.dtype} {tuple(images.shape)}, expected uint8 "
            f"(N, {', '.join(map(str, IMAGE_SHAPE))}), N >= 1"
        )
    if "labels" in data:
        labels = dense(path, data, "labels")
        if labels.dtype != torch.int64 or labels.shape != (len(images),):
            raise UserError(
                f"{path}: labels: got {labels.dtype} {tuple(labels.shape)}, expected int64 "
                f"({len(images)},), one per image"
            )
        low, high = labels.aminmax()
        if low < 0 or high >= N_CLASSES:
            bad = labels[(labels < 0) | (labels >= N_CLASSES)]
            raise UserError(f"{path}: labels: got {int(bad[0])}, expected digits 0-{N_CLASSES - 1}")
    return data


def dense(path: str | Path, data: dict, key: str) -> torch.Tensor:
    """data[key], a dense tensor holding all its elements, or a UserError saying what it is."""
    t = data[key]
    if not isinstance(t, torch.Tensor):
        raise UserError(f"{path}: {key}: got {preview(t, 60)}, expected a tensor")
    if (odd := not_dense(t)) is not None:
        raise UserError(f"{path}: {key}: {odd}")
    return t
