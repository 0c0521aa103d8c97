"""`python -m mnistgan generate` refuses a bad --out, --checkpoint or -n in one line, before
any work, and writes nothing."""

import os
import sys
from dataclasses import replace

import pytest
import torch
from conftest import SMALL, run

from mnistgan import __main__ as cli
from mnistgan.core import params
from mnistgan.core.checkpoint import save_model
from mnistgan.core.errors import UserError
from mnistgan.gan import sampling
from mnistgan.gan.models import build

TINY = replace(SMALL.model, features=4, d_features=4)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "g.pt"
    save_model(path, "generator", build(TINY, seed=0)[0])
    return path


def generate(monkeypatch, checkpoint, *args: str) -> None:
    argv = ["mnistgan", "generate", "--checkpoint", str(checkpoint), *args]
    monkeypatch.setattr(sys, "argv", argv)
    cli.main()


def test_out_that_is_a_folder_is_refused(tmp_path, monkeypatch, checkpoint):
    for out in ("/", str(tmp_path)):
        with pytest.raises(UserError, match=f"^{out}: is a folder; give a file name$"):
            generate(monkeypatch, checkpoint, "--out", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt"]


def test_out_under_a_file_is_refused(tmp_path, monkeypatch, checkpoint):
    out = tmp_path / "g.pt/grid.png"
    with pytest.raises(UserError, match=f"^{out}: cannot write: {checkpoint} is a file"):
        generate(monkeypatch, checkpoint, "--out", str(out))


def test_png_grid_is_capped_and_more_images_go_to_a_pt_file(tmp_path, monkeypatch, checkpoint):
    n = str(params.MAX_GRID + 1)
    with pytest.raises(UserError, match=f"^-n: a PNG grid holds at most {params.MAX_GRID} images"):
        generate(monkeypatch, checkpoint, "-n", n, "--out", str(tmp_path / "big.png"))
    assert not (tmp_path / "big.png").exists()
    generate(monkeypatch, checkpoint, "-n", n, "--out", str(tmp_path / "big.pt"))
    images = torch.load(tmp_path / "big.pt", weights_only=True)["images"]
    assert images.shape == (params.MAX_GRID + 1, 1, 28, 28)


@pytest.mark.slow  # runs python -m mnistgan in a fresh process
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_checkpoint_that_is_not_a_regular_file_is_refused_not_waited_on(tmp_path):
    """Opening a FIFO blocks until someone writes to it: refused after a stat instead."""
    fifo, out = tmp_path / "g.pt", tmp_path / "grid.png"
    os.mkfifo(fifo)
    cmd = ["python", "-m", "mnistgan", "generate", "--checkpoint", str(fifo), "--out", str(out)]
    result = run(cmd, tmp_path, check=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr == f"error: {fifo}: not a regular file\n"
    assert not out.exists()


def test_temperature_scales_z_and_defaults_to_the_pipelines(tmp_path, monkeypatch, checkpoint):
    drawn = {}
    for t in (None, "1.1", "1.0"):
        out = tmp_path / f"{t}.pt"
        generate(monkeypatch, checkpoint, "--out", str(out), *(["--temperature", t] if t else []))
        drawn[t] = torch.load(out, weights_only=True)["images"]
    assert sampling.TEMPERATURE == 1.1 and torch.equal(drawn[None], drawn["1.1"])
    assert not torch.equal(drawn["1.1"], drawn["1.0"])
    for bad in ("0", "5"):
        with pytest.raises(UserError, match=f"^--temperature: got {bad}.0, expected a number"):
            generate(
                monkeypatch, checkpoint, "--temperature", bad, "--out", str(tmp_path / "x.png")
            )


def test_latents_at_a_temperature_are_the_same_draw_scaled():
    assert torch.equal(sampling.latents(8, 5, 3, 1.5), sampling.latents(8, 5, 3) * 1.5)
