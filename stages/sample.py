"""Stage sample: models/generator.pt -> data/samples/samples.pt, metrics/samples.png and
metrics/interpolations.png. A conditional generator draws every digit equally often and its
samples carry their `labels`; its grid shows one digit per row."""

import torch

from mnistgan import atomic, params
from mnistgan.checkpoint import load_model
from mnistgan.errors import exit_on_user_error
from mnistgan.interpolation import STEPS, digit_rows, latent_rows
from mnistgan.models import build_generator
from mnistgan.params import ModelParams
from mnistgan.pixels import grid_png
from mnistgan.sampling import balanced_labels, class_latents, generate, latents

INTERPOLATION_ROWS = 8


def main() -> None:
    p = params.load().sample
    g, cfg = load_model("models/generator.pt", "generator", build_generator, ModelParams)
    z = latents(p.n, cfg.z_dim, p.seed)
    if cfg.conditional:
        labels = balanced_labels(p.n)
        images = generate(g, z, labels)
        atomic.write_torch("data/samples/samples.pt", {"images": images, "labels": labels})
        grid = grid_png(generate(g, *class_latents(cfg.z_dim, p.seed + 1)), nrow=10)
    else:
        images = generate(g, z)
        atomic.write_torch("data/samples/samples.pt", {"images": images})
        grid = grid_png(images[: p.grid])
    atomic.write_bytes("metrics/samples.png", grid)

    rows = [latent_rows(g, cfg.z_dim, INTERPOLATION_ROWS, p.seed + 2)]
    if cfg.conditional:
        rows.append(digit_rows(g, cfg.z_dim, 10, p.seed + 3))
    atomic.write_bytes("metrics/interpolations.png", grid_png(torch.cat(rows), nrow=STEPS))


if __name__ == "__main__":
    exit_on_user_error(main)
