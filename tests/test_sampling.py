"""A broken generator is refused where it is drawn from, not turned into black squares."""

import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO, SMALL, run, write_small_params

from mnistgan.core.checkpoint import load_model, save_model
from mnistgan.core.errors import UserError
from mnistgan.gan.models import GeneratorConfig, build, build_generator
from mnistgan.gan.sampling import generate, latents

MODEL = replace(SMALL.model, features=4, d_features=4)


def broken_generator(path: Path) -> None:
    """A tiny generator with -inf in a batch-norm buffer: every pixel it draws is NaN (a
    diverged run leaves inf there), which to_uint8 would map to black."""
    g, _ = build(MODEL, seed=0)
    g.body[1].running_mean.fill_(-float("inf"))
    save_model(path, "generator", g)


def test_generate_refuses_non_finite_output_naming_its_source(tmp_path):
    broken_generator(tmp_path / "g.pt")
    g, _ = load_model(tmp_path / "g.pt", "generator", build_generator, GeneratorConfig)
    with pytest.raises(UserError, match=rf"^{tmp_path / 'g.pt'} draws NaN or inf, not images"):
        generate(g, latents(4, MODEL.z_dim, 0), source=str(tmp_path / "g.pt"))


@pytest.mark.slow  # two fresh processes
def test_sample_stage_and_generate_command_refuse_a_broken_generator(tmp_path):
    for name in ("src", "stages"):
        os.symlink(REPO / name, tmp_path / name)
    write_small_params(tmp_path, {})
    broken_generator(tmp_path / "models/generator.pt")
    for cmd, out in (
        (["python", "-m", "stages.sample"], "data/samples/samples.pt"),
        (["python", "-m", "mnistgan", "generate", "--out", "x.png"], "x.png"),
    ):
        result = run(cmd, tmp_path, check=False, timeout=300)
        assert result.returncode == 1
        assert result.stderr.startswith("error: models/generator.pt draws NaN or inf")
        assert len(result.stderr.splitlines()) == 1
        assert not (tmp_path / out).exists()
