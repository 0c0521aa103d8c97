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
    from mnistgan.core.checkpoint import load_model, path_argument
    from mnistgan.gan.models import GeneratorConfig, build_generator

    return load_model(path_argument("path", path), "generator", build_generator, GeneratorConfig)[0]


def sample(g, n: int, seed: int = 0, digits=None, temperature: float | None = None):
    """`n` uint8 images (n, 1, 28, 28) from generator `g`, the same for the same `seed`; a
    conditional `g` draws `digits` (one digit, or n of them; None: each digit in turn), an
    unconditional one refuses them. The latent's `temperature` defaults to
    mnistgan.gan.sampling.TEMPERATURE, the shipped params.yaml's sample.temperature (the
    command line's `generate` reads ./params.yaml instead, where there is one, and prints the
    temperature it drew at); the same seed and temperature draw the same images through
    both. A bad argument is a UserError naming it."""
    from mnistgan.gan.sampling import TEMPERATURE, generate, generator_config, request

    t = TEMPERATURE if temperature is None else temperature
    return generate(g, *request(generator_config(g), n, seed, digits, t))
