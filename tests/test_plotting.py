"""The static loss plot: a real PNG of the curves, byte-identical for identical histories."""

import io

from PIL import Image

from mnistgan.core.plotting import losses_png
from mnistgan.gan.training import COLUMNS


def history(steps: int, shift: float = 0.0) -> list[list[float]]:
    return [[s, 1, 1.3 - s / 100 + shift, 0.7 + s / 100, 0.6, 0.4 - shift] for s in range(steps)]


def test_losses_png_is_a_stable_png():
    png = losses_png(COLUMNS, history(50))
    assert Image.open(io.BytesIO(png)).size == (800, 600)
    assert png == losses_png(COLUMNS, history(50))  # no timestamp, nothing random
    assert b"Software" not in png  # no matplotlib version in the file
    assert png != losses_png(COLUMNS, history(50, shift=0.2))  # it does draw the data


def test_losses_png_with_no_logged_steps():
    assert Image.open(io.BytesIO(losses_png(COLUMNS, []))).format == "PNG"
