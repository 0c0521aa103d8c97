"""Every bound of params.yaml: accepted at its edge, refused just past it, naming the key."""

import pytest
import yaml
from conftest import small_raw

from mnistgan.core import params
from mnistgan.core.errors import UserError

BIG = 1_000_000
SEEDS = [(s, "seed") for s in ("data", "train", "sample", "evaluator", "evaluate")]

# section, key, accepted at the edge, refused just past it; other values the edge needs
EDGES = [
    *[(s, k, 0, -1, {}) for s, k in SEEDS],
    *[(s, k, 2**63 - 1, 2**63, {}) for s, k in SEEDS],
    ("data", "val_size", 6, 5, {"evaluate": {"n_samples": 6}}),
    ("data", "val_size", BIG, BIG + 1, {}),
    ("data", "limit", 2, 1, {"train": {"batch_size": 2}, "evaluator": {"batch_size": 2}}),
    ("data", "limit", BIG, BIG + 1, {}),
    ("model", "z_dim", 1, 0, {"model": {"mixture": 0}}),
    ("model", "z_dim", 1024, 1025, {}),
    ("model", "features", 1, 0, {}),
    ("model", "features", 1024, 1025, {}),
    ("model", "d_features", 1, 0, {}),
    ("model", "d_features", 1024, 1025, {}),
    ("model", "g_refine", 0, -1, {}),
    ("model", "g_refine", 16, 17, {}),
    ("model", "mixture", 0, -1, {}),
    ("model", "mixture", 2, 1, {}),
    ("model", "mixture", 1023, 1024, {"model": {"z_dim": 1024}}),
    ("train", "epochs", 1, 0, {}),
    ("train", "epochs", 100_000, 100_001, {}),
    ("train", "batch_size", 2, 1, {}),
    ("train", "batch_size", 8192, 8193, {}),
    ("train", "lr_g", 1e-300, 0.0, {}),
    ("train", "lr_d", 1e-300, 0.0, {}),
    ("train", "lr_decay", 0.0, -1e-9, {}),
    ("train", "lr_decay", 1.0, 1 + 1e-9, {}),
    ("train", "beta1", 0.0, -1e-9, {}),
    ("train", "beta1", 1 - 1e-9, 1.0, {}),
    ("train", "beta2", 0.0, -1e-9, {}),
    ("train", "beta2", 1 - 1e-9, 1.0, {}),
    ("train", "threads", 1, 0, {}),
    ("train", "threads", 1024, 1025, {}),
    ("evaluator", "threads", 1, 0, {}),
    ("evaluator", "threads", 1024, 1025, {}),
    ("train", "log_every", 1, 0, {}),
    ("train", "log_every", BIG, BIG + 1, {}),
    ("train", "gp_weight", 0.0, -1e-9, {}),
    ("train", "d_steps", 1, 0, {}),
    ("train", "d_steps", 100, 101, {}),
    ("train", "ema", 0.0, -1e-9, {}),
    ("train", "ema", 1 - 1e-9, 1.0, {}),
    ("train", "balance", 0.0, -1e-9, {}),
    ("train", "digit_loss", 0.0, -1e-9, {}),
    ("train", "processes", 1, 0, {}),
    ("train", "processes", 1024, 1025, {"train": {"batch_size": 1024}}),
    ("sample", "n", 6, 5, {"evaluate": {"n_samples": 6}}),
    ("sample", "n", BIG, BIG + 1, {}),
    ("sample", "grid", 1, 0, {}),
    ("sample", "grid", 1024, 1025, {}),
    ("sample", "keep", 1.0, 1 + 1e-9, {}),
    ("sample", "keep", 1e-4, 0.0, {}),
    ("sample", "temperature", 4.0, 4 + 1e-9, {}),
    ("sample", "temperature", 1e-300, 0.0, {}),
    ("evaluator", "epochs", 1, 0, {}),
    ("evaluator", "epochs", 100_000, 100_001, {}),
    ("evaluator", "batch_size", 1, 0, {}),
    ("evaluator", "batch_size", 8192, 8193, {}),
    ("evaluator", "lr", 1e-300, 0.0, {}),
    ("evaluate", "n_samples", 6, 5, {}),
    ("evaluate", "n_samples", BIG, BIG + 1, {"data": {"val_size": BIG}, "sample": {"n": BIG}}),
]


def raw_with(section: str, key: str, value, also: dict) -> dict:
    raw = small_raw()
    for s, values in also.items():
        raw[s].update(values)
    raw[section][key] = value
    return raw


@pytest.mark.parametrize(
    ("section", "key", "edge", "past", "also"),
    EDGES,
    ids=[f"{s}.{k}={e}" for s, k, e, _, _ in EDGES],
)
def test_each_bound_is_accepted_at_its_edge_and_refused_past_it(section, key, edge, past, also):
    parsed = params.parse(raw_with(section, key, edge, also))
    assert getattr(getattr(parsed, section), key) == edge
    with pytest.raises(UserError, match=rf"^{section}\.{key}: got {past!r}, expected "):
        params.parse(raw_with(section, key, past, also))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("data", "limit"),
        ("train", "threads"),
        ("evaluator", "threads"),
        ("train", "ema"),
        ("train", "amp"),
    ],
)
def test_null_is_accepted_where_it_means_none(section, key):
    assert getattr(getattr(params.parse(raw_with(section, key, None, {})), section), key) is None


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("train", "lr_g", True),  # a bool is no number
        ("train", "lr_g", float("nan")),
        ("train", "gp_weight", float("inf")),
        ("train", "balance", 10**400),  # an int past the largest float
        ("train", "seed", 1.0),  # integers are ints
        ("model", "conditional", 1),
        ("model", "conditional", None),
        ("train", "compile", "yes"),
        ("data", "dataset", "MNIST"),
        ("model", "d_norm", None),
    ],
)
def test_values_of_the_wrong_type_are_refused(section, key, value):
    with pytest.raises(UserError, match=rf"^{section}\.{key}: got .*, expected "):
        params.parse(raw_with(section, key, value, {}))


def test_floats_are_stored_as_floats_and_the_rest_as_given():
    parsed = params.parse(raw_with("train", "gp_weight", 3, {}))
    assert type(parsed.train.gp_weight) is float and parsed.train.gp_weight == 3.0
    assert type(parsed.train.epochs) is int and parsed.data.source is None
    assert (
        params.parse(raw_with("data", "source", "/some/folder", {})).data.source == "/some/folder"
    )


def test_cross_key_rules_hold_at_their_edges():
    at = {"model": {"mixture": 15, "z_dim": 16}}
    assert params.parse(raw_with("model", "mixture", 15, at)).model.mixture == 15
    with pytest.raises(UserError, match=r"^model\.mixture: got 16, but it picks .* below model"):
        params.parse(raw_with("model", "mixture", 16, at))
    # G draws sample.n / keep drafts: up to 1,000,000
    assert params.parse(raw_with("sample", "keep", 0.5, {"sample": {"n": BIG // 2}})).sample.n
    with pytest.raises(UserError, match=r"^sample\.keep: got 0\.5, so G would draw .* 1e\+06 "):
        params.parse(raw_with("sample", "keep", 0.5, {"sample": {"n": BIG // 2 + 1}}))
    assert params.parse(raw_with("train", "processes", 4, {})).train.processes == 4  # of 16
    with pytest.raises(UserError, match=r"^train\.processes: got 5, expected a divisor"):
        params.parse(raw_with("train", "processes", 5, {}))
    mlp = {"model": {"arch": "mlp", "d_norm": "batch"}}  # the mlp's D has no BatchNorm
    assert params.parse(raw_with("train", "loss", "wgan-gp", mlp)).train.loss == "wgan-gp"


@pytest.mark.parametrize("key", ["balance", "digit_loss"])
def test_g_terms_of_a_supervised_d_need_one(key):
    plain = {"model": {"supervised_d": False}, "train": {"balance": 0.0, "digit_loss": 0.0}}
    assert getattr(params.parse(raw_with("train", key, 0.0, plain)).train, key) == 0.0
    with pytest.raises(UserError, match=rf"^train\.{key}: got 1e-09, but it "):
        params.parse(raw_with("train", key, 1e-9, plain))


def test_cross_key_rules_say_how_to_fix_them():
    wgan = raw_with("train", "loss", "wgan-gp", {})
    with pytest.raises(UserError) as e:
        params.parse(wgan)
    assert str(e.value) == (
        "train.loss: wgan-gp needs a discriminator without BatchNorm: "
        "set model.d_norm to layer or none"
    )
    plain = {"model": {"supervised_d": False}, "train": {"balance": 0.0, "digit_loss": 0.0}}
    with pytest.raises(UserError) as e:
        params.parse(raw_with("train", "balance", 2.0, plain))
    assert str(e.value) == (
        "train.balance: got 2.0, but it weighs a supervised discriminator's class term: "
        "set model.supervised_d: true, or train.balance: 0"
    )
    with pytest.raises(UserError) as e:
        params.parse(raw_with("train", "digit_loss", 2.0, plain))
    assert str(e.value) == (
        "train.digit_loss: got 2.0, but it scores the digit a supervised discriminator reads "
        "in the fakes: set model.supervised_d: true, or train.digit_loss: 0"
    )


def test_unknown_keys_are_shown_cut_to_80_characters_whatever_their_type():
    raw = raw_with("train", "x" * 100, 1, {})
    with pytest.raises(UserError, match=rf"^train\.{'x' * 80}: unknown key \(expected one of: "):
        params.parse(raw)
    raw = raw_with("train", 3, 1, {})
    with pytest.raises(UserError, match=r"^train\.3: unknown key \(expected one of: epochs, "):
        params.parse(raw)
    with pytest.raises(UserError, match=r"^params: got \[1, 2\], expected a mapping$"):
        params.parse([1, 2])


def test_preview_cuts_long_values_to_the_width():
    exact = ["a" * 22, "b" * 22, "c" * 24]  # its repr: 80 characters
    assert params.preview(exact) == repr(exact)
    exact[2] += "c"
    assert params.preview(exact) == repr(exact)[:77] + "..."
    assert params.preview(list(range(1000))) == "[0, 1, 2, 3, 4, 5, ...]"  # reprlib's cut
    assert params.preview("abcdef", width=5) == "'a..."
    assert params.preview(10**5000) == "<int>"  # more digits than Python prints


def test_load_reads_params_yaml_of_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small_raw()))
    monkeypatch.chdir(tmp_path)
    assert params.load() == params.parse(small_raw())


def test_a_yaml_error_without_a_position_is_one_line(tmp_path):
    (tmp_path / "p.yaml").write_text("%YAML 1.1\n---\nx: 1")  # refused for the whole file
    with pytest.raises(UserError) as e:
        params.load(tmp_path / "p.yaml")
    assert str(e.value) == (
        f"{tmp_path / 'p.yaml'}: cannot read params (%YAML 1.1 makes DVC read the file as "
        "YAML 1.1: delete the directive)"
    )


def test_an_unknown_section_is_named_as_written():
    with pytest.raises(UserError, match=r"^Xtrain: unknown key \(expected one of: data, "):
        params.parse(small_raw() | {"Xtrain": {}})
