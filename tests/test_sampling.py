"""A broken generator is refused where it is drawn from, not turned into black squares."""

import copy
import io
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
from mnistgan.gan.sampling import (
    balanced_labels,
    class_latents,
    class_rows,
    digit_frequencies,
    generate,
    latents,
    prior_labels,
)

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


def test_latents_are_seeded_standard_normals_scaled_by_the_temperature():
    z = latents(5, 3, seed=7)
    expected = torch.randn(5, 3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(z, expected) and torch.equal(latents(5, 3, 7, 2.5), 2.5 * expected)
    assert not torch.equal(latents(5, 3, seed=8), z)
    z, y = class_latents(4, seed=7, temperature=0.5)
    assert torch.equal(z, 0.5 * latents(100, 4, 7)) and torch.equal(y, class_rows())


def test_labels_for_grids_and_balanced_draws():
    assert class_rows(2).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]
    assert len(class_rows()) == 100 and class_rows()[10:20].tolist() == [1] * 10
    assert balanced_labels(12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    freq = digit_frequencies(torch.tensor([3, 3, 3, 9]))
    assert freq.tolist() == [0, 0, 0, 0.75, 0, 0, 0, 0, 0, 0.25]


class Pixels(torch.nn.Module):
    """A 'generator' drawing z's first value (and the label) as a uniform image, in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, z, y=None):
        self.calls.append((len(z), self.training, y))
        v = self.w * z[:, 0] + (0 if y is None else y)
        return v.view(-1, 1, 1, 1).expand(-1, 1, 28, 28).clamp(-1, 1)


def test_generate_draws_in_batches_in_eval_mode_and_maps_minus_one_one_to_bytes():
    g = Pixels()
    z = torch.tensor([[-1.0], [0.0], [1.0], [-2.0], [0.5]])
    images = generate(g, z, batch=2)
    assert [(n, training) for n, training, _ in g.calls] == [(2, False), (2, False), (1, False)]
    assert images.dtype == torch.uint8 and images.shape == (5, 1, 28, 28)
    assert images[:, 0, 0, 0].tolist() == [0, 128, 255, 0, 191]  # round((v + 1) * 127.5)
    g.calls.clear()
    y = torch.tensor([0, 1, 0, 1, 0])
    labelled = generate(g, torch.full((5, 1), -1.0), y, batch=3)
    assert [c[2].tolist() for c in g.calls] == [[0, 1, 0], [1, 0]]
    assert labelled[:, 0, 0, 0].tolist() == [0, 128, 0, 128, 0]


def test_prior_labels_round_by_the_largest_remainder_not_the_largest_share():
    # exact counts 2.1 and 0.9: floors 2 and 0, the one left goes to the 0.9
    y = prior_labels(torch.tensor([0.7, 0.3]), 3, seed=0)
    assert torch.bincount(y, minlength=2).tolist() == [2, 1]


def test_class_latents_default_to_temperature_one():
    assert torch.equal(class_latents(4, seed=7)[0], latents(100, 4, 7))


def test_request_checks_each_argument_naming_it():
    """Bounds are inclusive where the docs say so; a bad value is refused naming its argument."""
    from types import SimpleNamespace

    from mnistgan.core.params import MAX_IMAGES, MAX_SEED, MAX_TEMPERATURE
    from mnistgan.gan.sampling import request

    uncond = SimpleNamespace(conditional=False, z_dim=1)
    cond = SimpleNamespace(conditional=True, z_dim=2)
    assert request(uncond, 1, 0, None, 0.5)[0].shape == (1, 1)
    assert request(uncond, MAX_IMAGES, MAX_SEED - 1, None, MAX_TEMPERATURE)[0].shape == (
        MAX_IMAGES,
        1,
    )
    z, y = request(uncond, 3, 5, None, 2.0)
    assert y is None and torch.equal(z, latents(3, 1, 5) * 2.0)
    z, y = request(cond, 3, 5, 7, 2.0)
    assert torch.equal(z, latents(3, 2, 5) * 2.0) and y.tolist() == [7, 7, 7]
    for args, message in (
        ((0, 0, None, 1.0), f"n: got 0, expected an integer in [1, {MAX_IMAGES}]"),
        ((1, "x", None, 1.0), "seed: got 'x', expected an integer"),
        ((1, MAX_SEED, None, 1.0), f"seed: got {MAX_SEED}, expected an integer in [0, 2^63)"),
        ((1, 0, None, "hot"), "temperature: got 'hot', expected a number in (0, 4]"),
        ((1, 0, None, 0), "temperature: got 0, expected a number in (0, 4]"),
        (
            (1, 0, 3, 1.0),
            "digits: this generator is unconditional (model.conditional: false): it cannot "
            "draw a chosen digit; train with model.conditional: true for that",
        ),
    ):
        with pytest.raises(UserError) as e:
            request(uncond, *args)
        assert str(e.value) == message


def test_digit_labels_takes_digits_0_to_9_as_int64():
    from mnistgan.gan.sampling import digit_labels

    assert digit_labels(0, 2).tolist() == [0, 0]
    assert digit_labels(9, 1).tolist() == [9]
    y = digit_labels(torch.tensor([0, 9], dtype=torch.int32), 2)
    assert y.dtype == torch.int64 and y.tolist() == [0, 9]
    for digits, message in (
        (10, "digits: got 10, expected digits 0-9"),
        (-1, "digits: got -1, expected digits 0-9"),
        (True, "digits: got True, expected a digit or 2 of them"),
        (1 + 2j, "digits: got (1+2j), expected a digit or 2 of them"),
        (1.0, "digits: got 1.0, expected a digit or 2 of them"),
        ("seven", "digits: got 'seven', expected a digit or 2 of them"),
        ([1, 2, 3], "digits: got (3,), expected one digit or n = 2, one per image"),
    ):
        with pytest.raises(UserError) as e:
            digit_labels(digits, 2)
        assert str(e.value) == message


LOADED = "pass the generator mnistgan.load_generator(path) returns"


@pytest.fixture
def model_file(tmp_path, generators) -> Path:
    save_model(tmp_path / "g.pt", "generator", generators["unconditional"])
    return tmp_path / "g.pt"


BAD_GENERATORS = {  # what may reach mnistgan.sample as g, and the one line that names it
    "None": (lambda g, f: None, f"g: got None, expected a generator: {LOADED}"),
    "a path": (lambda g, f: str(f), f"g: got FILE, a model file: {LOADED}"),
    "an open file": (
        lambda g, f: f.open("rb"),
        f"g: got an open file (BufferedReader FILE), a model file: {LOADED}",
    ),
    "its weights": (
        lambda g, f: {"w": torch.zeros(1)},
        f"g: got {{'w': tensor([0.])}}, expected a generator: {LOADED}",
    ),
    "TorchScript": (
        lambda g, f: torch.jit.script(g),
        "g: RecursiveScriptModule without a generator's config (a converted, scripted or "
        f"traced model, or no mnistgan generator): {LOADED}",
    ),
    "g.half()": (
        lambda g, f: copy.deepcopy(g).half(),
        "g: its weights are torch.float16; it draws in torch.float32: pass g.float()",
    ),
    "g.double()": (
        lambda g, f: copy.deepcopy(g).double(),
        "g: its weights are torch.float64; it draws in torch.float32: pass g.float()",
    ),
    "on the meta device": (
        lambda g, f: copy.deepcopy(g).to("meta"),
        f"g: Generator without weights to draw with: {LOADED}",
    ),
}


@pytest.mark.parametrize("case", BAD_GENERATORS)
def test_sample_refuses_what_is_no_generator_in_one_line_naming_g(generators, model_file, case):
    make, message = BAD_GENERATORS[case]
    message = message.replace("FILE", repr(str(model_file)))
    g = make(generators["unconditional"], model_file)
    try:
        with pytest.raises(UserError) as e:
            mnistgan.sample(g, 2)
    finally:
        if hasattr(g, "close"):
            g.close()
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("open file", "path: got a file object (BufferedReader), expected its path: pass {f!r}"),
        ("BytesIO", "path: got a file object (BytesIO), expected its path, not an open file"),
        (None, "path: got None, expected the path of a model file"),
        # open() takes an int as a file descriptor, reads it and closes it: 0 would be stdin
        (987654, "path: got 987654, expected the path of a model file"),
    ],
    ids=["open file", "BytesIO", "None", "a file descriptor"],
)
def test_load_generator_takes_a_path_and_names_anything_else(model_file, path, message):
    if path == "open file":
        with model_file.open("rb") as f, pytest.raises(UserError) as e:
            mnistgan.load_generator(f)
    else:
        value = io.BytesIO(model_file.read_bytes()) if path == "BytesIO" else path
        with pytest.raises(UserError) as e:
            mnistgan.load_generator(value)
    assert str(e.value) == message.format(f=str(model_file))
    g = mnistgan.load_generator(model_file)  # a path, str or Path, loads
    assert mnistgan.sample(g, 2).shape == (2, 1, 28, 28)
