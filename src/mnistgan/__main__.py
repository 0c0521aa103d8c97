"""`python -m mnistgan generate`: images from a trained generator, as a PNG grid or a .pt file;
`python -m mnistgan search`: a params search whose trials are DVC experiments."""

import argparse
import math
from pathlib import Path

import torch

from mnistgan.core import atomic
from mnistgan.core.checkpoint import load_model
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import UserError, exit_on_user_error
from mnistgan.core.params import MAX_GRID, MAX_IMAGES, MAX_SEED, MAX_TEMPERATURE
from mnistgan.core.pixels import grid_png
from mnistgan.gan.models import GeneratorConfig, build_generator
from mnistgan.gan.sampling import TEMPERATURE, balanced_labels, generate, latents
from mnistgan.search import cli as search_cli


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mnistgan")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="draw images from a trained generator")
    gen.add_argument("--checkpoint", default="models/generator.pt")
    gen.add_argument(
        "-n", type=int, default=64, help=f"number of images (a .png grid holds {MAX_GRID} at most)"
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--temperature", type=float, default=TEMPERATURE, help="scale of z, as sample.temperature"
    )
    gen.add_argument(
        "--digit", type=int, choices=range(N_CLASSES), help="conditional models: which digit"
    )
    gen.add_argument("--out", required=True, help="a .png grid, or a .pt file {'images': uint8}")
    search = commands.add_parser("search", help="search params: trials are DVC experiments")
    search_cli.add_arguments(search)
    args = parser.parse_args()
    if args.command == "search":
        return search_cli.main(args)
    if not 1 <= args.n <= MAX_IMAGES:
        raise UserError(f"-n: got {args.n}, expected an integer in [1, {MAX_IMAGES}]")
    if not 0 <= args.seed < MAX_SEED:
        raise UserError(f"--seed: got {args.seed}, expected an integer in [0, 2^63)")
    if not 0 < args.temperature <= MAX_TEMPERATURE:
        raise UserError(
            f"--temperature: got {args.temperature}, expected a number in (0, {MAX_TEMPERATURE:g}]"
        )
    atomic.check_target(Path(args.out))  # before the work, not after it
    if args.n > MAX_GRID and Path(args.out).suffix != ".pt":
        raise UserError(
            f"-n: a PNG grid holds at most {MAX_GRID} images, got {args.n}; "
            f"write them to a .pt file instead (--out {Path(args.out).with_suffix('.pt')})"
        )

    g, g_config = load_model(args.checkpoint, "generator", build_generator, GeneratorConfig)
    labels = None
    if args.digit is not None and not g_config.conditional:
        raise UserError(
            f"--digit: {args.checkpoint} is an unconditional generator (model.conditional: "
            "false); train with model.conditional: true to choose the digit"
        )
    if g_config.conditional:  # the chosen digit, or every digit in turn
        labels = (
            balanced_labels(args.n) if args.digit is None else torch.full((args.n,), args.digit)
        )
    z = latents(args.n, g_config.z_dim, args.seed, args.temperature)
    images = generate(g, z, labels, source=args.checkpoint)
    if Path(args.out).suffix == ".pt":
        out = {"images": images} if labels is None else {"images": images, "labels": labels}
        atomic.write_torch(args.out, out)
    else:
        atomic.write_bytes(args.out, grid_png(images, nrow=math.ceil(math.sqrt(args.n))))
    print(f"wrote {args.n} images to {args.out}")


if __name__ == "__main__":
    exit_on_user_error(main)
