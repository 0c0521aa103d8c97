"""Every bound of params.yaml: accepted at its edge, refused just past it, naming the key."""

import pytest
from conftest import small_raw

from mnistgan.core import params
from mnistgan.core.errors import UserError

BIG = 1_000_000
SEEDS = [(s, "seed") for s in ("data", "train", "sample", "evaluator", "evaluate")]

# section, key, accepted at the edge, refused just past it; other values the edge needs
EDGES = [
    *[(s, k, 0, -1, {}) for s, k in SEEDS],
    *[(s, k, 2**63 - 1, 2**63, {}) for s, k in SEEDS],
    ("data", "val_size", 1, 0, {}),
    ("data", "val_size", BIG, BIG + 1, {}),
    ("data", "limit", 1, 0, {}),
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
    ("train", "batch_size", 1, 0, {}),
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
    ("sample", "n", 1, 0, {}),
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
    ("evaluate", "n_samples", 1, 0, {}),
    ("evaluate", "n_samples", BIG, BIG + 1, {}),
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
    [("data", "limit"), ("train", "threads"), ("train", "ema"), ("train", "amp")],
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
