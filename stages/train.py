"""Stage train: data/prepared/train.pt -> models/, and metrics/train/ as training goes:
DVCLive step metrics and per-epoch sample grids (mnistgan.core.tracking), then losses.png.
With train.processes > 1 it reruns itself under torchrun (mnistgan.gan.distributed)."""

from functools import partial
from pathlib import Path

from mnistgan.core import atomic, cpu, device, params
from mnistgan.core.checkpoint import save_model
from mnistgan.core.errors import exit_on_user_error
from mnistgan.core.image_files import load_images
from mnistgan.core.plotting import losses_png
from mnistgan.core.tracking import TrainingLog, open_live
from mnistgan.gan import distributed, training


def main() -> None:
    p = params.load()
    train_device = device.resolve(p.train.device, "train.device")
    distributed.check_processes(p.train.processes, train_device)
    distributed.launch(p.train.processes)
    device.make_deterministic(train_device)
    world = distributed.join(train_device.type)
    cpu.set_threads(p.train.threads, world.local_size)  # process-wide: the entry point's job
    cpu.keep_freed_memory()
    train = load_images("data/prepared/train.pt")
    ckpt = Path("models/checkpoint.pt")
    run = partial(training.train, train["images"], p.model, p.train, ckpt, train["labels"])
    if not world.main:  # rank 0 writes every output; the other ranks only train
        run(world=world)
        distributed.leave()
        return
    with open_live("metrics/train") as live:
        nrow = 10 if p.model.conditional else 8  # conditional: one digit per row
        log = TrainingLog(live, training.COLUMNS, nrow)
        result = run(on_row=log.row, on_epoch=log.epoch, world=world)
    distributed.leave()

    # With train.ema set, the EMA generator is the one sampled and evaluated downstream;
    # generator_raw.pt is always the last training iterate (the same weights when EMA is off).
    ema = result.generator_ema
    save_model("models/generator.pt", "generator", ema or result.generator)
    save_model("models/generator_raw.pt", "generator", result.generator)
    save_model("models/discriminator.pt", "discriminator", result.discriminator)
    rows = result.history.rows
    atomic.write_bytes("metrics/train/losses.png", losses_png(training.COLUMNS, rows))
    atomic.write_json(
        "metrics/timing.json",
        {
            "train_seconds": round(result.seconds, 2),
            "train_images_per_s": round(result.images_seen / max(result.seconds, 1e-9), 1),
        },
    )


if __name__ == "__main__":
    exit_on_user_error(main)
