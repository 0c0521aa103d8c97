"""The generator's model card: dvc.yaml's artifact points at it, and its Python lines run."""

import re
import sys
from dataclasses import replace

import pytest
import torch
import yaml
from conftest import REPO, SMALL, run

import mnistgan
from mnistgan.core.checkpoint import save_model
from mnistgan.gan.models import GeneratorConfig, build_generator, narrow

CARD = REPO / "docs/model-card.md"
TINY = replace(SMALL.model, features=8, d_features=8, z_dim=12)


def test_the_generator_artifact_has_a_card_on_lenet_fid():
    artifact = yaml.safe_load((REPO / "dvc.yaml").read_text())["artifacts"]["generator"]
    assert artifact["meta"]["card"] == "docs/model-card.md" and "model-card.md" in artifact["desc"]
    card = " ".join(CARD.read_text().split())
    assert "LeNet" in card and "not comparable to the Inception FIDs" in card


def test_load_generator_gives_an_eval_mode_generator_with_its_config(tmp_path):
    model_params = replace(TINY, conditional=True)
    save_model(tmp_path / "g.pt", "generator", build_generator(model_params))
    g = mnistgan.load_generator(tmp_path / "g.pt")
    assert not g.training and g.config == narrow(GeneratorConfig, model_params)


def test_sample_draws_the_same_images_for_a_seed_and_the_digits_asked(tmp_path):
    torch.manual_seed(0)
    save_model(tmp_path / "g.pt", "generator", build_generator(replace(TINY, conditional=True)))
    g = mnistgan.load_generator(tmp_path / "g.pt")
    images = mnistgan.sample(g, 20, seed=1)
    assert images.shape == (20, 1, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(images, mnistgan.sample(g, 20, seed=1))
    sevens = mnistgan.sample(g, 20, seed=1, digits=torch.full((20,), 7))
    assert not torch.equal(images, sevens)  # each digit in turn, unless told otherwise


@pytest.mark.slow  # a fresh python, as a user's
def test_the_cards_three_lines_run(tmp_path):
    (code,) = re.findall(r"```python\n(.*?)```", CARD.read_text(), re.S)
    assert len([line for line in code.splitlines() if line.strip()]) == 3
    save_model(tmp_path / "models/generator.pt", "generator", build_generator(TINY))
    check = "\nprint(tuple(images.shape), images.dtype)\n"
    result = run([sys.executable, "-c", code + check], tmp_path, timeout=120)
    assert result.stdout.strip() == f"(16, 1, 28, 28) {torch.uint8}"
