"""Stage train: data/prepared/train.pt -> models/, metrics/train.json, losses (CSV, PNG), grids."""

from pathlib import Path

from mnistgan import atomic, params, training
from mnistgan.checkpoint import load_safely, save_model
from mnistgan.errors import exit_on_user_error
from mnistgan.plotting import losses_png
from mnistgan.sampling import grid_png
from mnistgan.tabular import write_csv


def main() -> None:
    p = params.load()
    images = load_safely("data/prepared/train.pt")["images"]
    result = training.train(images, p.model, p.train, Path("models/checkpoint.pt"))

    save_model("models/generator.pt", "generator", result.generator, p.model)
    save_model("models/discriminator.pt", "discriminator", result.discriminator, p.model)
    history = result.history
    write_csv("metrics/train/losses.csv", training.COLUMNS, history.rows)
    atomic.write_bytes("metrics/train/losses.png", losses_png(training.COLUMNS, history.rows))
    for epoch, grid in enumerate(history.grids, 1):
        atomic.write_bytes(f"metrics/train/samples/epoch_{epoch:03d}.png", grid_png(grid))
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
