"""Stage train: data/prepared/train.pt -> models/, metrics/train.json, losses (CSV, PNG), grids."""

from pathlib import Path

from mnistgan import atomic, cpu, distributed, params, training
from mnistgan.checkpoint import load_safely, save_model
from mnistgan.errors import exit_on_user_error
from mnistgan.pixels import grid_png
from mnistgan.plotting import losses_png
from mnistgan.tabular import write_csv


def main() -> None:
    p = params.load()
    distributed.launch(p.train.processes)  # train.processes > 1: rerun under torchrun
    world = distributed.join(training.resolve_device(p.train.device).type)
    cpu.set_threads(p.train.threads, world.local_size)  # process-wide: the entry point's job
    cpu.keep_freed_memory()
    train = load_safely("data/prepared/train.pt")
    ckpt = Path("models/checkpoint.pt")
    result = training.train(train["images"], p.model, p.train, ckpt, train["labels"], world=world)
    distributed.leave()
    if not world.main:  # rank 0 writes every output
        return

    # With train.ema set, the EMA generator is the one sampled and evaluated downstream;
    # generator_raw.pt is always the last training iterate (the same weights when EMA is off).
    ema = result.generator_ema
    g = ema if ema is not None else result.generator
    save_model("models/generator.pt", "generator", g, p.model)
    save_model("models/generator_raw.pt", "generator", result.generator, p.model)
    save_model("models/discriminator.pt", "discriminator", result.discriminator, p.model)
    history = result.history
    write_csv("metrics/train/losses.csv", training.COLUMNS, history.rows)
    atomic.write_bytes("metrics/train/losses.png", losses_png(training.COLUMNS, history.rows))
    nrow = 10 if p.model.conditional else 8  # conditional: one digit per row
    for epoch, grid in enumerate(history.grids, 1):
        atomic.write_bytes(f"metrics/train/samples/epoch_{epoch:03d}.png", grid_png(grid, nrow))
    atomic.write_json("metrics/train.json", history.epoch_means[-1] | {"epochs": p.train.epochs})
    atomic.write_json(
        "metrics/timing.json",
        {
            "train_seconds": round(result.seconds, 2),
            "train_images_per_s": round(result.images_seen / max(result.seconds, 1e-9), 1),
        },
    )


if __name__ == "__main__":
    exit_on_user_error(main)
