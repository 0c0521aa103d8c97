"""params.yaml is validated on load: every bad key or value is named in one line."""

import copy
from pathlib import Path

import pytest
import yaml

from mnistgan import params
from mnistgan.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "params.yaml").read_text())


def with_value(section: str, key: str, value) -> dict:
    raw = copy.deepcopy(DEFAULT)
    raw[section][key] = value
    return raw


def test_repo_params_are_valid():
    p = params.load(REPO / "params.yaml")
    assert p.train.epochs >= 1 and p.model.arch in ("mlp", "dcgan")


def test_floats_accept_integers():
    assert params.parse(with_value("train", "lr_g", 1)).train.lr_g == 1.0


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("train", "epochs", -1, "an integer >= 1"),
        ("train", "epochs", 0, "an integer >= 1"),
        ("train", "epochs", 2.5, "an integer >= 1"),
        ("train", "epochs", "ten", "an integer >= 1"),
        ("train", "epochs", True, "an integer >= 1"),
        ("train", "batch_size", 0, "an integer >= 1"),
        ("train", "lr_g", 0, "a number > 0"),
        ("train", "lr_d", -0.001, "a number > 0"),
        ("train", "beta1", 1.0, "a number in [0, 1)"),
        ("train", "beta2", -0.1, "a number in [0, 1)"),
        ("train", "device", "gpu", "one of auto, cpu, cuda, mps"),
        ("sample", "device", "gpu", "one of auto, cpu, cuda, mps"),
        ("evaluator", "device", None, "one of auto, cpu, cuda, mps"),
        ("model", "arch", "resnet", "one of mlp, dcgan"),
        ("data", "limit", 0, "null or an integer >= 1"),
        ("data", "val_size", -5, "an integer >= 0"),
        ("data", "source", 3, "a value of type str or null"),
        ("sample", "n", 0, "an integer >= 1"),
        ("sample", "keep", 0, "a number in (0, 1]"),
        ("sample", "keep", 1.5, "a number in (0, 1]"),
        ("model", "g_refine", -1, "an integer >= 0"),
        ("model", "mixture", 1, "0 or an integer >= 2"),
        ("train", "lr_decay", 1.5, "a number in [0, 1]"),
        ("train", "digit_loss", -1, "a number >= 0"),
        ("train", "amp", "fp16", "one of bf16, auto or null"),
    ],
)
def test_bad_values_name_key_value_and_expectation(section, key, value, expected):
    with pytest.raises(UserError) as e:
        params.parse(with_value(section, key, value))
    assert str(e.value) == f"{section}.{key}: got {value!r}, expected {expected}"


def test_unknown_key_is_named():
    raw = with_value("train", "epoch", 3)  # a typo of epochs
    with pytest.raises(UserError, match=r"^train\.epoch: unknown key \(expected one of: epochs,"):
        params.parse(raw)


def test_unknown_section_is_named():
    raw = copy.deepcopy(DEFAULT) | {"trian": {}}
    with pytest.raises(UserError, match=r"^trian: unknown key"):
        params.parse(raw)


def test_missing_key_is_named():
    raw = copy.deepcopy(DEFAULT)
    del raw["train"]["seed"]
    with pytest.raises(UserError, match=r"^train\.seed: missing$"):
        params.parse(raw)


def test_section_must_be_a_mapping():
    raw = copy.deepcopy(DEFAULT) | {"train": [1, 2]}
    with pytest.raises(UserError, match=r"^train: got \[1, 2\], expected a mapping"):
        params.parse(raw)


def test_unreadable_yaml(tmp_path):
    (tmp_path / "params.yaml").write_text("train: [unclosed")
    with pytest.raises(UserError, match="cannot read params"):
        params.load(tmp_path / "params.yaml")
