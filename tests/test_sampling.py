"""A broken generator is refused where it is drawn from, not turned into black squares."""

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import REPO, SMALL, run, write_small_params

import mnistgan
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


@pytest.fixture(scope="module")
def generators() -> dict[str, torch.nn.Module]:
    """A tiny unconditional and conditional generator, as mnistgan.load_generator gives them."""
    return {
        kind: build(replace(MODEL, conditional=kind == "conditional"), seed=0)[0].eval()
        for kind in ("unconditional", "conditional")
    }


BAD_ARGUMENTS = {  # mnistgan.sample's keyword arguments, and the one line that names them
    "temperature nan": (
        {"temperature": float("nan")},
        r"temperature: got nan, expected a number in \(0, 4\]",
    ),
    "temperature inf": ({"temperature": float("inf")}, "temperature: got inf"),
    "temperature 0": ({"temperature": 0}, "temperature: got 0, expected"),
    "temperature text": ({"temperature": "hot"}, "temperature: got 'hot'"),
    "digit 12": ({"digits": [3, 12]}, "digits: got 12, expected digits 0-9"),
    "digit -1": ({"digits": torch.tensor([-1, 3])}, "digits: got -1, expected digits 0-9"),
    "3 digits for 2": ({"digits": [1, 2, 3]}, r"digits: got \(3,\), expected one digit or n = 2"),
    "float digits": ({"digits": [1.5, 2.0]}, r"digits: got \[1.5, 2.0\], expected a digit"),
    "n 0": ({"n": 0}, r"n: got 0, expected an integer in \[1, 1000000\]"),
    "n 2.0": ({"n": 2.0}, "n: got 2.0, expected an integer"),
    "seed -1": ({"seed": -1}, r"seed: got -1, expected an integer in \[0, 2\^63\)"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS)
def test_sample_refuses_a_bad_argument_in_one_line_naming_it(generators, case):
    kwargs, message = BAD_ARGUMENTS[case]
    with pytest.raises(UserError, match=f"^{message}") as e:
        mnistgan.sample(generators["conditional"], **({"n": 2} | kwargs))
    assert "\n" not in str(e.value)


def test_sample_refuses_digits_for_an_unconditional_generator(generators):
    with pytest.raises(UserError, match="^digits: this generator is unconditional"):
        mnistgan.sample(generators["unconditional"], 2, digits=[3, 4])
    assert mnistgan.sample(generators["unconditional"], 2).shape == (2, 1, 28, 28)


def test_sample_takes_digits_as_a_list_a_tensor_or_one_digit(generators):
    g = generators["conditional"]
    as_tensor = mnistgan.sample(g, 3, digits=torch.tensor([7, 7, 7]))
    assert torch.equal(mnistgan.sample(g, 3, digits=[7, 7, 7]), as_tensor)
    assert torch.equal(mnistgan.sample(g, 3, digits=7), as_tensor)
    assert not torch.equal(mnistgan.sample(g, 3), as_tensor)  # each digit in turn
