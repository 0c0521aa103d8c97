"""`python -m mnistgan generate` refuses a bad --out, --checkpoint or -n in one line, before
any work, and writes nothing."""

import os
import sys
from dataclasses import replace

import pytest
import torch
from conftest import SMALL, run, write_small_params

import mnistgan
from mnistgan import __main__ as cli
from mnistgan.core import params
from mnistgan.core.checkpoint import save_model
from mnistgan.core.errors import UserError
from mnistgan.gan import sampling
from mnistgan.gan.models import build

TINY = replace(SMALL.model, features=4, d_features=4)
DEFAULT_SOURCE = "no ./params.yaml here: the default of mnistgan.sample"


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "g.pt"
    save_model(path, "generator", build(TINY, seed=0)[0])
    return path


def generate(monkeypatch, checkpoint, *args: str) -> None:
    """generate run in the checkpoint's folder: no params.yaml there, unless a test wrote one."""
    argv = ["mnistgan", "generate", "--checkpoint", str(checkpoint), *args]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.chdir(checkpoint.parent)
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
    for t in (None, "1.15", "1.0"):
        out = tmp_path / f"{t}.pt"
        generate(monkeypatch, checkpoint, "--out", str(out), *(["--temperature", t] if t else []))
        drawn[t] = torch.load(out, weights_only=True)["images"]
    assert sampling.TEMPERATURE == 1.15 and torch.equal(drawn[None], drawn["1.15"])
    assert not torch.equal(drawn["1.15"], drawn["1.0"])
    for bad in ("0", "5"):
        with pytest.raises(UserError, match=f"^--temperature: got {bad}.0, expected a number"):
            generate(
                monkeypatch, checkpoint, "--temperature", bad, "--out", str(tmp_path / "x.png")
            )


def test_latents_at_a_temperature_are_the_same_draw_scaled():
    assert torch.equal(sampling.latents(8, 5, 3, 1.5), sampling.latents(8, 5, 3) * 1.5)


def test_out_that_is_the_checkpoint_is_refused_and_the_model_kept(
    tmp_path, monkeypatch, checkpoint
):
    model = checkpoint.read_bytes()
    os.symlink(checkpoint, tmp_path / "link.pt")
    os.link(checkpoint, tmp_path / "hard.pt")
    for out in (checkpoint, tmp_path / "link.pt", tmp_path / "hard.pt", "g.pt"):
        with pytest.raises(UserError, match=f"^--out: {out} is the checkpoint it reads"):
            generate(monkeypatch, checkpoint, "--out", str(out))
    assert checkpoint.read_bytes() == model


@pytest.mark.parametrize("name", ["x.jpg", "x.txt", "x", "x.pt.gz", "x.png.txt"])
def test_out_in_a_format_generate_does_not_write_is_refused(
    tmp_path, monkeypatch, checkpoint, name
):
    with pytest.raises(
        UserError, match=f"^--out: {tmp_path / name}: expected a name ending in .png"
    ):
        generate(monkeypatch, checkpoint, "--out", str(tmp_path / name))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pt"]


def test_out_is_written_in_the_format_its_name_says_in_any_case(tmp_path, monkeypatch, checkpoint):
    for name in ("x.PT", "x.Pt", "x.PNG"):
        generate(monkeypatch, checkpoint, "-n", "4", "--out", str(tmp_path / name))
    assert (tmp_path / "x.PNG").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    images = torch.load(tmp_path / "x.PT", weights_only=True)["images"]
    assert images.shape == (4, 1, 28, 28) and images.dtype == torch.uint8
    assert (tmp_path / "x.PT").read_bytes() == (tmp_path / "x.Pt").read_bytes()


def test_a_png_or_text_checkpoint_is_not_a_model_file(tmp_path, monkeypatch, checkpoint):
    generate(monkeypatch, checkpoint, "-n", "4", "--out", str(tmp_path / "grid.png"))
    (tmp_path / "notes.txt").write_text("a generator, I promise\n")
    for name in ("grid.png", "notes.txt"):
        with pytest.raises(UserError, match=rf"^{tmp_path / name}: not a model file \(PyTorch"):
            generate(monkeypatch, tmp_path / name, "--out", str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_temperature_defaults_to_sample_temperature_of_params_yaml(
    tmp_path, monkeypatch, checkpoint
):
    drawn = {}
    for t in ("1.0", "1.1"):
        generate(
            monkeypatch,
            checkpoint,
            "-n",
            "4",
            "--temperature",
            t,
            "--out",
            str(tmp_path / f"{t}.pt"),
        )
        drawn[t] = torch.load(tmp_path / f"{t}.pt", weights_only=True)["images"]
    write_small_params(tmp_path, {"sample": {"temperature": 1.0}})
    generate(monkeypatch, checkpoint, "-n", "4", "--out", str(tmp_path / "default.pt"))
    default = torch.load(tmp_path / "default.pt", weights_only=True)["images"]
    assert torch.equal(default, drawn["1.0"]) and not torch.equal(default, drawn["1.1"])
    (tmp_path / "params.yaml").write_text("sample: [\n")  # broken: refused, unless not needed
    with pytest.raises(UserError, match="^--temperature: its default is sample.temperature of"):
        generate(monkeypatch, checkpoint, "--out", str(tmp_path / "y.pt"))
    generate(monkeypatch, checkpoint, "--temperature", "1.0", "--out", str(tmp_path / "y.pt"))


def test_help_shows_the_defaults(monkeypatch, capsys, checkpoint):
    with pytest.raises(SystemExit):
        generate(monkeypatch, checkpoint, "--help")
    text = " ".join(capsys.readouterr().out.split())
    for default in (
        "(default: models/generator.pt)",
        "(default: 64)",
        "(default: 0)",
        "(default: sample.temperature of ./params.yaml, as the pipeline draws; without one, 1.15)",
        "(default: each digit in turn)",
    ):
        assert default in text


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_generate_and_mnistgan_sample_draw_the_same_images_and_generate_says_at_what(
    tmp_path, monkeypatch, capsys, conditional
):
    """The same seed and temperature draw the same images through the command line and the
    Python API; without ./params.yaml both default to sampling.TEMPERATURE, and generate's
    last line says which temperature it drew at and where that came from."""
    path = tmp_path / "g.pt"
    save_model(path, "generator", build(replace(TINY, conditional=conditional), seed=0)[0])
    g = mnistgan.load_generator(path)
    cases = [(["--temperature", "0.7"], 0.7, "--temperature"), ([], None, DEFAULT_SOURCE)]
    for args, t, source in cases:
        out = tmp_path / f"{t}.pt"
        generate(monkeypatch, path, "-n", "12", "--seed", "5", *args, "--out", str(out))
        assert capsys.readouterr().out == (
            f"wrote 12 images to {out} at temperature {t or 1.15} ({source})\n"
        )
        drawn = torch.load(out, weights_only=True)["images"]
        assert torch.equal(drawn, mnistgan.sample(g, 12, seed=5, temperature=t))
    if conditional:  # one digit too
        out = tmp_path / "sevens.pt"
        generate(monkeypatch, path, "-n", "3", "--digit", "7", "--out", str(out))
        drawn = torch.load(out, weights_only=True)
        assert drawn["labels"].tolist() == [7, 7, 7]
        assert torch.equal(drawn["images"], mnistgan.sample(g, 3, digits=7))


def test_generate_says_when_its_temperature_came_from_params_yaml(
    tmp_path, monkeypatch, capsys, checkpoint
):
    write_small_params(tmp_path, {"sample": {"temperature": 0.9}})
    generate(monkeypatch, checkpoint, "-n", "2", "--out", str(tmp_path / "x.pt"))
    assert capsys.readouterr().out == (
        f"wrote 2 images to {tmp_path / 'x.pt'} at temperature 0.9 "
        "(sample.temperature of ./params.yaml)\n"
    )
