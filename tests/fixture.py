"""An IDX folder made of the 10,000 real MNIST test digits, for tests and benchmarks.

The official 60k training images are not always at hand (offline machines, CI). This
splits the real t10k digits into 8,000 "train" and 2,000 "test" images, taking every
fifth image for test so both halves of the test set's writers land in each. It is NOT the
official split, and prepare records that its files do not match the official MD5s.
"""

from pathlib import Path

import torch

from mnistgan.data.idx import read_idx, write_idx
from mnistgan.data.raw import FILES


def build_from_t10k(source: Path, dest: Path) -> Path:
    """Write the four official file names into `dest` from t10k files in `source`."""
    x = read_idx(source / FILES["test_images"], (28, 28))
    y = read_idx(source / FILES["test_labels"])
    test = torch.arange(len(x)) % 5 == 4
    dest.mkdir(parents=True, exist_ok=True)
    parts = {
        "train_images": x[~test],
        "train_labels": y[~test],
        "test_images": x[test],
        "test_labels": y[test],
    }
    for role, array in parts.items():
        write_idx(dest / FILES[role], array)
    return dest
