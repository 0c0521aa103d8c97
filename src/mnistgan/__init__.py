"""mnistgan: a reproducible DVC pipeline that trains a GAN on MNIST and measures its digits.

A trained generator from Python (docs/model-card.md):

    from mnistgan import load_generator, sample
    g = load_generator("models/generator.pt")
    images = sample(g, 16, seed=0)  # uint8 (16, 1, 28, 28)
"""


def load_generator(path):
    """The generator saved at `path` (models/generator.pt), on the CPU in eval mode, with the
    model params that build it as `g.config` (sampling needs its z_dim). Loaded with
    weights_only=True (mnistgan.core.checkpoint): a file crafted to run code is refused."""
    # imported here, so importing any one module of the package stays as light as that module
    from mnistgan.core.checkpoint import load_model
    from mnistgan.gan.models import GeneratorConfig, build_generator

    return load_model(path, "generator", build_generator, GeneratorConfig)[0]


def sample(g, n: int, seed: int = 0, digits=None, temperature: float | None = None):
    """`n` uint8 images (n, 1, 28, 28) from generator `g`, the same for the same `seed`; a
    conditional `g` draws `digits` (a tensor of n labels; None: each digit in turn). The
    latent's `temperature` defaults to the pipeline's (mnistgan.gan.sampling.TEMPERATURE)."""
    from mnistgan.gan.sampling import TEMPERATURE, balanced_labels, generate, latents

    if g.config.conditional and digits is None:
        digits = balanced_labels(n)
    t = TEMPERATURE if temperature is None else temperature
    return generate(g, latents(n, g.config.z_dim, seed, t), digits)
