"""`python -m mnistgan generate`: images from a trained generator, as a PNG grid or a .pt file."""

import argparse
import math
from pathlib import Path

from . import atomic
from .checkpoint import load_model
from .errors import exit_on_user_error
from .sampling import generate, grid_png, latents


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mnistgan")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="draw images from a trained generator")
    gen.add_argument("--checkpoint", default="models/generator.pt")
    gen.add_argument("-n", type=int, default=64, help="number of images")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="a .png grid, or a .pt file {'images': uint8}")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("-n must be at least 1")

    g, cfg = load_model(args.checkpoint, "generator")
    images = generate(g, latents(args.n, cfg.z_dim, args.seed))
    if Path(args.out).suffix == ".pt":
        atomic.write_torch(args.out, {"images": images})
    else:
        atomic.write_bytes(args.out, grid_png(images, nrow=math.ceil(math.sqrt(args.n))))
    print(f"wrote {args.n} images to {args.out}")


if __name__ == "__main__":
    exit_on_user_error(main)
