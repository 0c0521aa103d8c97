"""Stage sample: models/generator.pt -> data/samples/samples.pt and metrics/samples.png."""

from mnistgan import atomic, params
from mnistgan.checkpoint import load_model
from mnistgan.errors import exit_on_user_error
from mnistgan.sampling import generate, grid_png, latents


def main() -> None:
    p = params.load().sample
    g, cfg = load_model("models/generator.pt", "generator")
    images = generate(g, latents(p.n, cfg.z_dim, p.seed))
    atomic.write_torch("data/samples/samples.pt", {"images": images})
    atomic.write_bytes("metrics/samples.png", grid_png(images[: p.grid]))


if __name__ == "__main__":
    exit_on_user_error(main)
