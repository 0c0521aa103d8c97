"""Live experiment tracking with DVCLive: the train stage's step metrics and sample grids
appear while it runs (`dvc exp show`, `dvc plots show`, the VS Code extension), not only when
it ends. Everything DVCLive writes here is a function of the logged values: no timestamps
(`log_metric`'s default), no report, no dvc.yaml of its own (the project's lists the plots),
so a rerun writes the same bytes."""

import torch
from dvclive import Live

from mnistgan.core.pixels import grid


def open_live(folder: str) -> Live:
    """A Live for one pipeline stage, writing under `folder`; `dvc exp run` saves the
    experiment itself, so DVCLive does not."""
    return Live(folder, dvcyaml=None, save_dvc_exp=False, report=None, monitor_system=False)


class TrainingLog:
    """training.train's on_row / on_epoch, fed to DVCLive. The summary (metrics.json) holds
    the latest logged row (columns: step, epoch, then the stats) while an epoch runs, and that
    epoch's means once it ends; the step history goes to plots/metrics/<name>.tsv, each
    epoch's fixed-noise grid to plots/images/samples/<step>.png, named by the epoch's last
    step: DVCLive's pattern for images per step, which VS Code, DVC Studio and our plots
    page (plots/page.in.html) show as one image with a slider."""

    def __init__(self, live: Live, columns: list[str], nrow: int):
        self.live, self.names, self.nrow, self.step = live, columns[2:], nrow, 0

    def row(self, row: list[float]) -> None:
        self.step, epoch, *means = row
        self.live.step = self.step
        for name, value in zip(self.names, means, strict=True):
            self.live.log_metric(name, value)
        self.live.log_metric("epoch", epoch, plot=False)
        self.live.next_step()  # writes the summary; tells the VS Code extension

    def epoch(self, epoch: int, means: dict[str, float], images: torch.Tensor) -> None:
        self.live.log_image(f"samples/{self.step}.png", grid(images, self.nrow).numpy())
        self.live.summary |= means | {"epoch": epoch}
        self.live.step = self.step  # next_step moved it past the epoch's last row
        self.live.make_summary()
