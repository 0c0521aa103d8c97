"""The digit classifier: shapes, learning real digits, determinism, safe checkpoints."""

import pytest
import torch
from conftest import small_raw

from mnistgan.core.checkpoint import load_model, save_model
from mnistgan.core.errors import UserError
from mnistgan.core.params import EvaluatorParams, parse
from mnistgan.data.raw import FILES, load_pair
from mnistgan.evaluation.classifier import (
    FEATURES,
    ClassifierConfig,
    LeNet,
    accuracy,
    build_classifier,
    embed,
    train_classifier,
)
from mnistgan.gan.models import GeneratorConfig, build_generator

CFG = EvaluatorParams(epochs=3, batch_size=64, lr=0.002, seed=0, device="cpu", threads=None)


@pytest.fixture(scope="module")
def digits(idx_folder):
    x, y = load_pair(idx_folder / FILES["train_images"], idx_folder / FILES["train_labels"])
    tx, ty = load_pair(idx_folder / FILES["test_images"], idx_folder / FILES["test_labels"])
    return x[:2000], y[:2000], tx, ty


def test_embed_gives_features_and_probabilities():
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    feats, probs = embed(LeNet(), images)
    assert feats.shape == (5, FEATURES) and probs.shape == (5, 10)
    assert torch.allclose(probs.sum(1), torch.ones(5))


@pytest.mark.slow  # trains twice on 2,000 real digits
def test_classifier_learns_real_digits_repeatably(digits):
    x, y, tx, ty = digits
    model = train_classifier(x, y, CFG, log=lambda m: None)
    assert accuracy(model, tx, ty) > 0.9  # 2,000 digits, 3 epochs; full MNIST gets > 99%
    again = train_classifier(x, y, CFG, log=lambda m: None)
    for name, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[name]), name


def test_classifier_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = LeNet().eval()
    save_model(tmp_path / "e.pt", "classifier", model)
    loaded, cfg = load_model(tmp_path / "e.pt", "classifier", build_classifier, ClassifierConfig)
    assert cfg == ClassifierConfig()
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    assert torch.equal(embed(model, images)[0], embed(loaded, images)[0])
    with pytest.raises(UserError, match="not a mnistgan generator checkpoint"):
        load_model(tmp_path / "e.pt", "generator", build_generator, GeneratorConfig)


def test_batch_larger_than_the_data_is_a_user_error():
    x, y = torch.zeros(10, 1, 28, 28, dtype=torch.uint8), torch.zeros(10, dtype=torch.int64)
    with pytest.raises(UserError, match="evaluator.batch_size"):
        train_classifier(x, y, CFG, log=lambda m: None)


def test_evaluator_params_are_validated():
    raw = small_raw()
    raw["evaluator"]["lr"] = 0
    with pytest.raises(UserError, match="evaluator.lr: got 0"):
        parse(raw)
    raw["evaluator"] = {"epochs": 1, "batch_size": 8, "lr": 0.1, "seed": 0, "dropout": 0.1}
    with pytest.raises(UserError, match="evaluator.dropout: unknown key"):
        parse(raw)
