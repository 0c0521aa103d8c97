"""mnistgan: a reproducible DVC pipeline that trains a GAN on MNIST and measures its digits.

A trained generator from Python (docs/model-card.md):

    from mnistgan import load_generator
    from mnistgan.gan import sampling
    g = load_generator("models/generator.pt")
    images = sampling.generate(g, sampling.latents(16, g.config.z_dim, seed=0))
"""


def load_generator(path):
    """The generator saved at `path` (models/generator.pt), on the CPU in eval mode, with the
    model params that build it as `g.config` (sampling needs its z_dim). Loaded with
    weights_only=True (mnistgan.core.checkpoint): a file crafted to run code is refused."""
    # imported here, so importing any one module of the package stays as light as that module
    from mnistgan.core.checkpoint import load_model
    from mnistgan.gan.models import GeneratorConfig, build_generator

    return load_model(path, "generator", build_generator, GeneratorConfig)[0]
