"""Stage sample: models/generator.pt -> data/samples/samples.pt, metrics/samples.png and
metrics/interpolations.png. A conditional generator draws each digit as often as the
training data hold it (data/prepared/train.pt), and its samples carry their `labels`; its
grid shows one digit per row. With sample.keep < 1, models/discriminator.pt drops the
drafts it is least sure of (mnistgan.gan.rejection)."""

import torch

from mnistgan.core import atomic, device, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import exit_on_user_error
from mnistgan.core.image_files import load_images
from mnistgan.core.pixels import grid_png
from mnistgan.core.progress import ticking
from mnistgan.gan.interpolation import STEPS, digit_rows, latent_rows
from mnistgan.gan.models import (
    DiscriminatorConfig,
    GeneratorConfig,
    build_discriminator,
    build_generator,
)
from mnistgan.gan.rejection import drafts_needed, most_sure, sureness
from mnistgan.gan.sampling import class_latents, digit_frequencies, generate, latents, prior_labels

INTERPOLATION_ROWS = 8
GENERATOR = "models/generator.pt"


def main() -> None:
    p = params.load()
    sample_device = device.resolve(p.sample.device, "sample.device")
    device.make_deterministic(sample_device)
    g, g_config = load_model(GENERATOR, "generator", build_generator, GeneratorConfig)
    g = g.to(sample_device)  # the noise and labels are drawn on the CPU, whatever the device
    n, t = drafts_needed(p.sample.n, p.sample.keep), p.sample.temperature
    z = latents(n, g_config.z_dim, p.sample.seed, t)
    labels = None
    if g_config.conditional:  # each digit as often as in the training data
        prior = digit_frequencies(load_images("data/prepared/train.pt")["labels"])
        labels = prior_labels(prior, len(z), p.sample.seed)
    images = generate(g, z, labels, source=GENERATOR)
    if p.sample.keep < 1:
        d, _ = load_model(
            "models/discriminator.pt", "discriminator", build_discriminator, DiscriminatorConfig
        )
        kept = most_sure(*sureness(d, images, labels), p.sample.n)
        images, labels = images[kept], None if labels is None else labels[kept]
    if g_config.conditional:
        atomic.write_torch("data/samples/samples.pt", {"images": images, "labels": labels})
        grid = grid_png(
            generate(g, *class_latents(g_config.z_dim, p.sample.seed + 1, t), source=GENERATOR),
            nrow=10,
        )
    else:
        atomic.write_torch("data/samples/samples.pt", {"images": images})
        grid = grid_png(images[: p.sample.grid])
    atomic.write_bytes("metrics/samples.png", grid)

    rows = [latent_rows(g, g_config.z_dim, INTERPOLATION_ROWS, p.sample.seed + 2)]
    if g_config.conditional:
        rows.append(digit_rows(g, g_config.z_dim, N_CLASSES, p.sample.seed + 3))
    atomic.write_bytes("metrics/interpolations.png", grid_png(torch.cat(rows), nrow=STEPS))


if __name__ == "__main__":
    with ticking("sample"):  # a line a minute where nothing else is said
        exit_on_user_error(main)
