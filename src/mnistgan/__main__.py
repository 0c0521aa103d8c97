"""`python -m mnistgan generate`: images from a trained generator, as a PNG grid or a .pt file;
`python -m mnistgan search`: a params search whose trials are DVC experiments.

generate's temperature defaults to sample.temperature of ./params.yaml, as the pipeline's
samples are drawn, when run in the repo."""

import argparse
import math
import os
from pathlib import Path

import torch

from mnistgan.core import atomic, params
from mnistgan.core.checkpoint import load_model
from mnistgan.core.digits import N_CLASSES
from mnistgan.core.errors import UserError, exit_on_user_error
from mnistgan.core.params import MAX_GRID, MAX_IMAGES, MAX_SEED, MAX_TEMPERATURE
from mnistgan.core.pixels import grid_png
from mnistgan.gan.models import GeneratorConfig, build_generator
from mnistgan.gan.sampling import TEMPERATURE, balanced_labels, generate, latents
from mnistgan.search import cli as search_cli

FORMATS = (".png", ".pt")  # what --out writes, by its name's suffix (any case)


def main() -> None:
    args = command_line().parse_args()
    if args.command == "search":
        return search_cli.main(args)
    if args.command == "seeds":
        from mnistgan.search import seeds as seeds_cli  # Optuna too: not for generate

        return print(
            seeds_cli.run(args.sets, args.seeds, args.jobs, args.queue, search_cli.stamped_line)
        )
    return generate_command(args)


def command_line() -> argparse.ArgumentParser:
    """The three commands and their arguments."""
    parser = argparse.ArgumentParser(prog="python -m mnistgan")
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="draw images from a trained generator")
    gen.add_argument(
        "--checkpoint",
        default="models/generator.pt",
        help="the generator's model file (default: %(default)s)",
    )
    gen.add_argument(
        "-n",
        type=int,
        default=64,
        help=f"number of images; a .png grid holds {MAX_GRID} at most (default: %(default)s)",
    )
    gen.add_argument("--seed", type=int, default=0, help="seed of z (default: %(default)s)")
    gen.add_argument(
        "--temperature",
        type=float,
        help="scale of z (default: sample.temperature of ./params.yaml, as the pipeline "
        f"draws; without one, {TEMPERATURE})",
    )
    gen.add_argument(
        "--digit",
        type=int,
        choices=range(N_CLASSES),
        help="conditional models: which digit (default: each digit in turn)",
    )
    gen.add_argument(
        "--out",
        required=True,
        help="a .png grid, or a .pt file of {'images': uint8} (and 'labels', conditional)",
    )
    search = commands.add_parser("search", help="search params: trials are DVC experiments")
    search_cli.add_arguments(search)
    seeds = commands.add_parser(
        "seeds", help="params.yaml (and -S recipes) on several training seeds: mean and spread"
    )
    seeds.add_argument(
        "-S", dest="sets", action="append", default=[], metavar="KEY=A,B",
        help="params to set, as dvc exp run -S; A,B gives one recipe per value",
    )  # fmt: skip
    seeds.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="train.seed values")
    seeds.add_argument("--jobs", type=int, default=1, help="runs in flight at once")
    seeds.add_argument("--queue", action="store_true", help="queue the runs not yet done")
    return parser


def generate_command(args: argparse.Namespace) -> None:
    """`generate`: each argument checked before any work, then the images written."""
    if not 1 <= args.n <= MAX_IMAGES:
        raise UserError(f"-n: got {args.n}, expected an integer in [1, {MAX_IMAGES}]")
    if not 0 <= args.seed < MAX_SEED:
        raise UserError(f"--seed: got {args.seed}, expected an integer in [0, 2^63)")
    temperature, source = (
        default_temperature() if args.temperature is None else (args.temperature, "--temperature")
    )
    if not 0 < temperature <= MAX_TEMPERATURE:  # NaN fails every comparison
        raise UserError(
            f"--temperature: got {temperature}, expected a number in (0, {MAX_TEMPERATURE:g}]"
        )
    out = Path(args.out)
    check_out(out, Path(args.checkpoint))  # before the work, not after it
    png = out.suffix.lower() == ".png"
    if args.n > MAX_GRID and png:
        raise UserError(
            f"-n: a PNG grid holds at most {MAX_GRID} images, got {args.n}; "
            f"write them to a .pt file instead (--out {out.with_suffix('.pt')})"
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
    z = latents(args.n, g_config.z_dim, args.seed, temperature)
    images = generate(g, z, labels, source=args.checkpoint)
    if png:
        atomic.write_bytes(out, grid_png(images, nrow=math.ceil(math.sqrt(args.n))))
    else:
        result = {"images": images} if labels is None else {"images": images, "labels": labels}
        atomic.write_torch(out, result)
    print(f"wrote {args.n} images to {out} at temperature {temperature:g} ({source})")


def default_temperature() -> tuple[float, str]:
    """sample.temperature of params.yaml, where there is one (in the repo), as the pipeline
    draws; TEMPERATURE elsewhere, as mnistgan.sample draws. With where it came from: a
    params.yaml edited since the model was trained draws at another temperature than the
    pipeline's samples did, so generate says which it used."""
    if not Path("params.yaml").exists():
        return TEMPERATURE, "no ./params.yaml here: the default of mnistgan.sample"
    try:
        return params.load().sample.temperature, "sample.temperature of ./params.yaml"
    except UserError as e:
        raise UserError(
            f"--temperature: its default is sample.temperature of ./params.yaml, which does "
            f"not load ({e}); fix it, or give --temperature"
        ) from None


def check_out(out: Path, checkpoint: Path) -> None:
    """Refuse an --out that generate does not write, or that is the model it reads."""
    atomic.check_target(out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(
            f"--out: {out}: expected a name ending in .png (a grid) or .pt (the images), "
            "the formats generate writes"
        )
    if out.exists() and checkpoint.exists() and os.path.samefile(out, checkpoint):
        raise UserError(f"--out: {out} is the checkpoint it reads; give another file name")


if __name__ == "__main__":
    exit_on_user_error(main)
