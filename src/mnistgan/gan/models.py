"""The two GAN architectures, optionally class-conditional. Discriminators return logits (one
per image); generators map z of shape (N, z_dim) (plus digit labels (N,) when conditional) to
images (N, 1, 28, 28) in [-1, 1]."""

from dataclasses import field, fields, make_dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from mnistgan.core.digits import N_CLASSES
from mnistgan.core.params import ModelParams

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def model_keys(name: str, keys: str) -> type:
    """A frozen dataclass of these `model:` params, with their types and bounds (ModelParams):
    what builds one network, so all that a model file of it holds (mnistgan.core.checkpoint)."""
    picked = [f for f in fields(ModelParams) if f.name in keys.split()]
    return make_dataclass(
        name, [(f.name, f.type, field(metadata=f.metadata)) for f in picked], frozen=True
    )


GeneratorConfig = model_keys(
    "GeneratorConfig", "arch z_dim features conditional g_refine g_taper mixture"
)
DiscriminatorConfig = model_keys(
    "DiscriminatorConfig", "arch d_features conditional spectral_norm d_norm supervised_d"
)


def narrow(config_type: type, model_params: Any) -> Any:
    """The `config_type` part of `model_params` (or of a network's config already)."""
    return config_type(**{f.name: getattr(model_params, f.name) for f in fields(config_type)})


def mlp_generator(in_dim: int) -> nn.Module:
    """The fully connected generator of the classic tutorials: z -> 256 -> 512 -> 1024 -> 784."""
    layers, width = [], in_dim
    for out in (256, 512, 1024):
        layers += [nn.Linear(width, out), nn.BatchNorm1d(out), nn.ReLU(True)]
        width = out
    return nn.Sequential(*layers, nn.Linear(width, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))


def dcgan_generator(in_dim: int, f: int, refine: int = 0, taper: bool = True) -> nn.Module:
    """Linear to a 7x7 map, two stride-2 transposed convs to 14x14 and 28x28, Tanh. With
    `refine` > 0 the second one keeps channels at 28x28 and `refine` 3x3 convs draw the
    pixels from them: strokes are drawn at full resolution, not scattered from 14x14 by one
    4x4 kernel (docs/studies/2026-11-25-quality.md). The 28x28 layers are most of a step's
    cost, so with `taper` channels halve with each doubling of resolution, as in DCGAN (2f,
    f, f/2), and those layers cost a quarter of keeping f channels there (2f, f, f)."""
    half = max(f // 2, 1) if taper else f
    out = half if refine else 1
    layers = [
        nn.Linear(in_dim, 2 * f * 7 * 7, bias=False),
        nn.BatchNorm1d(2 * f * 7 * 7),
        nn.ReLU(True),
        nn.Unflatten(1, (2 * f, 7, 7)),
        nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False),
        nn.BatchNorm2d(f),
        nn.ReLU(True),
        nn.ConvTranspose2d(f, out, 4, 2, 1, bias=not refine),
    ]
    for i in range(refine):
        last = i == refine - 1
        layers += [
            nn.BatchNorm2d(half),
            nn.ReLU(True),
            nn.Conv2d(half, 1 if last else half, 3, 1, 1, bias=last),
        ]
    return nn.Sequential(*layers, nn.Tanh())


def mlp_features() -> tuple[nn.Module, int]:
    """784 -> 512 -> 256 with LeakyReLU; no normalisation (model.d_norm does not apply)."""
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512),
        nn.LeakyReLU(0.2, True),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2, True),
    )
    return net, 256


class Flatten(nn.Flatten):
    """nn.Flatten that hands its gradient back in the input's memory layout. Flattening a
    channels_last map copies it to NCHW, so the gradient comes back NCHW, and elementwise
    backward ops that mix the two layouts (LeakyReLU, BatchNorm) run several times slower
    on a CPU (docs/performance.md)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cl = torch.channels_last
        if x.requires_grad and not x.is_contiguous() and x.is_contiguous(memory_format=cl):
            x.register_hook(lambda g: g.contiguous(memory_format=cl))
        return super().forward(x)


def dcgan_features(f: int, norm: str) -> tuple[nn.Module, int]:
    """Two stride-2 convs (28 -> 14 -> 7) with LeakyReLU. `layer` norm is GroupNorm with one
    group: it normalises each image on its own, so the WGAN-GP penalty stays per image."""
    norms = {"batch": nn.BatchNorm2d, "layer": lambda c: nn.GroupNorm(1, c), "none": nn.Identity}
    net = nn.Sequential(
        nn.Conv2d(1, f, 4, 2, 1),
        nn.LeakyReLU(0.2, True),
        nn.Conv2d(f, 2 * f, 4, 2, 1, bias=norm == "none"),
        norms[norm](2 * f),
        nn.LeakyReLU(0.2, True),
        Flatten(),
    )
    return net, 2 * f * 7 * 7


class MixtureLatent(nn.Module):
    """A discrete latent drawn from z itself: the argmax of z's first k dims picks one of k
    equally likely components, which G sees as a one-hot code (times `scale`) beside z's other
    dims. A Gaussian z is connected, so a G fed it must draw something between any two
    digits it draws; with separate components it need not (the mixture GANs of Ben-Yosef and
    Weinshall 2018). No labels: which component draws which digit is G's to learn. z stays
    N(0, I), so sampling, resuming and interpolation are unchanged."""

    def __init__(self, k: int, scale: float = 3.0):
        super().__init__()
        self.k, self.scale = k, scale

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        code = nn.functional.one_hot(z[:, : self.k].argmax(1), self.k).to(z.dtype)
        return torch.cat([code * self.scale, z[:, self.k :]], 1)


class Generator(nn.Module):
    """A body fed z, or z concatenated with a learned 10-dim embedding of the digit (Mirza &
    Osindero 2014). Float labels (N, 10) mix the class embeddings: used to interpolate
    between digits. The embedding is small: a z-sized one lets G learn to ignore z, so each
    digit comes in one style. A conditional G also scales and shifts every batch norm's
    channels by a linear map of the embedding (class-conditional batch norm, de Vries et al.
    2017), so each layer draws for its digit, not only the first. docs/design.md has the
    measurements of both."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config  # what a model file stores to build it again
        self.mixture = MixtureLatent(config.mixture) if config.mixture else nn.Identity()
        self.embed = nn.Embedding(N_CLASSES, N_CLASSES) if config.conditional else None
        in_dim = config.z_dim + N_CLASSES if config.conditional else config.z_dim
        if config.arch == "mlp":
            self.body = mlp_generator(in_dim)
        else:
            self.body = dcgan_generator(in_dim, config.features, config.g_refine, config.g_taper)
        norms = [m.num_features for m in self.body if isinstance(m, BATCH_NORMS)]
        films = [nn.Linear(N_CLASSES, 2 * c) for c in norms] if config.conditional else []
        self.films = nn.ModuleList(films)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = self.mixture(z)
        if self.embed is None:
            return self.body(z)
        if y is None:
            raise ValueError("a conditional generator needs labels")
        e = y @ self.embed.weight if y.is_floating_point() else self.embed(y)
        h, films = torch.cat([z, e], 1), iter(self.films)
        for layer in self.body:
            h = layer(h)
            if isinstance(layer, BATCH_NORMS):  # scale and shift each channel per digit
                gain, bias = next(films)(e).view(len(h), 2, -1, *[1] * (h.dim() - 2)).unbind(1)
                h = h * (1 + gain) + bias
        return h


class Discriminator(nn.Module):
    """Features, then a linear logit; conditional adds the projection <embed(y), features>
    (Miyato & Koyama 2018), which scores how well the image fits its label.

    Supervised (Salimans et al. 2016, K+1 classes): the head gives 10 digit logits l, and the
    real-vs-fake logit is logsumexp(l), so "real" means "some digit"; training adds a
    cross-entropy on real images' labels. An unconditional G then gains little from strokes
    that sit between digits, which a plain D lets it draw
    (docs/studies/2026-11-25-quality.md)."""

    def __init__(self, config: DiscriminatorConfig):
        super().__init__()
        self.config = config
        if config.arch == "mlp":
            self.features, width = mlp_features()
        else:
            self.features, width = dcgan_features(config.d_features, config.d_norm)
        self.supervised = config.supervised_d
        self.head = nn.Linear(width, N_CLASSES if config.supervised_d else 1)
        self.embed = nn.Embedding(N_CLASSES, width) if config.conditional else None

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None, with_classes: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (N,); with_classes: also the digit logits (N, 10) of a supervised D."""
        h = self.features(x)
        classes = self.head(h)
        logit = classes.logsumexp(1) if self.supervised else classes.view(-1)
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional discriminator needs labels")
            logit = logit + (self.embed(y) * h).sum(1)
        return (logit, classes) if with_classes else logit


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016: weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02). The projection
    embedding of D starts at zero, so D starts out unconditional."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, Discriminator) and module.embed is not None:
        nn.init.zeros_(module.embed.weight)


def build_generator(model_params: ModelParams | GeneratorConfig) -> nn.Module:
    return Generator(narrow(GeneratorConfig, model_params))


def build_discriminator(model_params: ModelParams | DiscriminatorConfig, init=None) -> nn.Module:
    """`init` runs before spectral norm wraps the weights (after, it would set a copy)."""
    d = Discriminator(narrow(DiscriminatorConfig, model_params))
    if init is not None:
        d.apply(init)
    if model_params.spectral_norm:
        for m in list(d.modules()):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                spectral_norm(m)
    return d


def build(model_params: ModelParams, seed: int) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator with DCGAN init, seeded so runs are repeatable."""
    torch.manual_seed(seed)
    g = build_generator(model_params)
    g.apply(dcgan_init)
    return g, build_discriminator(model_params, dcgan_init)
