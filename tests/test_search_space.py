"""The search space parser: each form, each error naming its key, and the check against the
params schema that runs before anything is queued."""

import pytest
import yaml
from conftest import small_raw
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from mnistgan.core import params
from mnistgan.core.errors import UserError
from mnistgan.search import space


def test_each_form_gives_its_distribution():
    assert space.dimension("train.lr_g", "log:1e-4..1e-2") == FloatDistribution(
        1e-4, 1e-2, log=True
    )
    assert space.dimension("train.ema", "float:0.99..0.999") == FloatDistribution(0.99, 0.999)
    assert space.dimension("train.batch_size", "int:32..256") == IntDistribution(32, 256)
    assert space.dimension("train.loss", "choice:bce,hinge") == CategoricalDistribution(
        ["bce", "hinge"]
    )
    # choices read as params.yaml does: null, booleans, numbers
    assert space.dimension("train.ema", "choice:null,0.999").choices == (None, 0.999)
    assert space.dimension("model.g_taper", [True, False]).choices == (True, False)
    assert space.dimension("train.lr_d", "choice:1e-3,2e-3").choices == (0.001, 0.002)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("1e-4..1e-2", "expected log:LO..HI, float:LO..HI, int:LO..HI or choice:A,B,..."),
        ("lg:1e-4..1e-2", "expected log:LO..HI"),
        ("log:1e-4-1e-2", "expected log:LO..HI"),
        ("log:0..1", "a log range needs LO > 0"),
        ("float:2..1", "expected LO < HI"),
        ("float:1..1", "expected LO < HI"),
        ("int:1.5..4", "expected int:LO..HI with integers"),
        ("float:a..b", "expected float:LO..HI with numbers"),
        ("float:1...inf", "both finite"),  # YAML reads .inf as infinity
        ("float:1..2e400", "both finite"),
        ("choice:bce,bce", "each choice once"),
        (3, "expected log:LO..HI"),
        ([], "expected a list of plain values"),
        ([{"a": 1}], "expected a list of plain values"),
    ],
)
def test_a_bad_form_is_one_line_naming_the_key(spec, message):
    with pytest.raises(UserError, match="^train.x: ") as e:
        space.dimension("train.x", spec)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_flags_add_to_and_replace_the_spec_file(tmp_path):
    path = tmp_path / "lr.yaml"
    spec = {
        "objectives": {"val_fid": "min"},
        "space": {"train.lr_g": "log:1e-4..1e-2", "train.loss": ["bce", "hinge"]},
        "set": {"train.threads": 1, "train.amp": None},
    }
    path.write_text(yaml.safe_dump(spec))
    got = space.load(
        path, ["train.lr_g=log:1e-3..1e-1", "train.batch_size=int:32..64"],
        ["conditional_accuracy=max"], ["train.epochs=3"],
    )  # fmt: skip
    assert got.space == {
        "train.lr_g": FloatDistribution(1e-3, 1e-1, log=True),
        "train.loss": CategoricalDistribution(["bce", "hinge"]),
        "train.batch_size": IntDistribution(32, 64),
    }
    assert got.objectives == [
        space.Objective("val_fid", "minimize"),
        space.Objective("conditional_accuracy", "maximize"),
    ]
    assert got.fixed == {"train.threads": 1, "train.amp": None, "train.epochs": 3}
    # no objective given: FID against the validation images, lower is better
    assert space.load(None, ["train.lr_g=log:1e-4..1e-2"], [], []).objectives == [
        space.Objective("val_fid", "minimize")
    ]


@pytest.mark.parametrize(
    "file, flags, message",
    [
        ({"spaces": {}}, {}, "spaces: unknown key"),
        ({"space": ["train.lr_g"]}, {}, "space: expected a mapping"),
        ({}, {}, "search space: empty"),
        ({}, {"space": ["train.lr_g"]}, "-p train.lr_g: expected KEY=VALUE"),
        (
            {},
            {"space": ["train.lr_g=log:1..2"], "objectives": ["val_fid=lowest"]},
            "objective val_fid:",
        ),
        (
            {"space": {"train.lr_g": "log:1e-4..1e-2"}, "set": {"train.lr_g": 0.001}},
            {},
            "train.lr_g: both searched and set",
        ),
    ],
)
def test_a_bad_spec_is_one_line(tmp_path, file, flags, message):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(file))
    args = {"space": [], "objectives": [], "fixed": []} | flags
    with pytest.raises(UserError, match=message):
        space.load(path, **args)


@pytest.mark.parametrize(
    "metric, message",
    [
        ("fdi", "objective fdi: not a metric of the pipeline; did you mean val_fid?"),
        (
            "precison",
            "objective precison: not a metric of the pipeline; did you mean val_precision?",
        ),
        (
            "train_second",
            "not a metric of the pipeline; did you mean train_seconds or train_images?",
        ),
        ("zzz", "objective zzz: not a metric of the pipeline; see docs/metrics.md"),
        (
            "fid",
            "objective fid: scored on the test split, which reports and never chooses; use val_fid",
        ),
        ("precision", "objective precision: scored on the test split, which reports and never"),
        ("d_auc", "scored on the test split, which reports and never chooses; choose a val_*"),
    ],
)
def test_an_objective_is_a_metric_that_may_choose(metric, message):
    with pytest.raises(UserError) as e:
        space.load(None, ["train.lr_g=log:1e-4..1e-2"], [f"{metric}=min"], [])
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("metric", ["val_fid", "val_precision", "modes_covered", "train_seconds"])
def test_validation_samples_and_training_metrics_may_be_objectives(metric):
    spec = space.load(None, ["train.lr_g=log:1e-4..1e-2"], [f"{metric}=max"], [])
    assert spec.objectives == [space.Objective(metric, "maximize")]


@pytest.fixture
def params_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(small_raw()))
    return path


@pytest.mark.parametrize(
    "flags, message",
    [
        # an unknown key, a section that is not one, an end outside the schema's range
        (["train.lr_x=log:1e-4..1e-2"], "search space train.lr_x=0.0001: train.lr_x: unknown key"),
        (["trainer.lr=log:1e-4..1e-2"], "search space trainer.lr=0.0001: trainer: unknown key"),
        (["train.lr_g.x=log:1e-4..1"], "train.lr_g.x: train.lr_g is a value, not a section"),
        (["train.ema=float:0.9..1"], "search space train.ema=1.0: train.ema: got 1.0, expected"),
        (["train.batch_size=float:8..64"], "train.batch_size=8.0: train.batch_size: got 8.0"),
        # a choice that breaks a rule across keys: wgan-gp with the dcgan D's BatchNorm
        (["train.loss=choice:bce,wgan-gp"], "train.loss='wgan-gp': train.loss: wgan-gp needs"),
    ],
)
def test_the_space_is_checked_against_the_params_schema(params_yaml, flags, message):
    spec = space.load(None, flags, [], [])
    with pytest.raises(UserError) as e:
        space.check(spec, params_yaml)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_set_values_are_checked_and_count_in_the_space_check(params_yaml):
    bad = space.load(None, ["train.lr_g=log:1e-4..1e-2"], [], ["train.threads=0"])
    with pytest.raises(UserError, match="^search set: train.threads: got 0, expected"):
        space.check(bad, params_yaml)
    # wgan-gp is fine once every trial sets a D without BatchNorm
    ok = space.load(None, ["train.loss=choice:bce,wgan-gp"], [], ["model.d_norm=layer"])
    space.check(ok, params_yaml)


@pytest.mark.parametrize(
    "flags, fixed, message",
    [
        # an interior value refused, the ends fine
        (["model.mixture=int:0..5"], [], "model.mixture=1: model.mixture: got 1, expected 0 or"),
        (
            ["train.batch_size=int:16..64"],
            ["train.processes=2"],
            "train.batch_size=17: train.processes: got 2, expected a divisor of train.batch_size",
        ),
        # a range too large to try value by value: its ends' neighbours are odd
        (["train.batch_size=int:16..8192"], ["train.processes=2"], "train.batch_size=17: train"),
        # two searched keys, each fine with the set values, not together
        (
            ["train.batch_size=int:16..64", "train.processes=choice:1,2"],
            [],
            "search space train.batch_size=17 with train.processes=2: train.processes: got 2",
        ),
    ],
)
def test_every_value_a_range_can_propose_is_checked(params_yaml, flags, fixed, message):
    spec = space.load(None, flags, [], fixed)
    with pytest.raises(UserError) as e:
        space.check(spec, params_yaml)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_space_whose_every_value_passes_is_not_refused(params_yaml):
    flags = ["train.batch_size=choice:16,32,64", "model.mixture=int:2..15"]
    space.check(space.load(None, flags, [], ["train.processes=2"]), params_yaml)
    assert space.probes(space.dimension("k", "int:2..15")) == list(range(2, 16))
    big = space.probes(space.dimension("k", "int:16..8192"))
    # 8177 values: indices round(i * 8176 / 63) = 0, 130, ..., 8046, 8176, each with the next
    assert len(big) == 128 and big[:4] == [16, 17, 146, 147]
    assert big[-4:] == [8062, 8063, 8191, 8192]
    assert space.probes(space.dimension("k", "log:1e-4..1e-2"))[::8] == pytest.approx(
        [1e-4, 1e-3, 1e-2], rel=1e-12
    )
    assert space.corners(space.dimension("k", "int:16..64")) == [16, 17, 40, 63, 64]


VERBATIM = ["/data/mnist,v2", "it's", "x${y}", "a\\", "a\\'b", "[1,2]", "{a: 1}", " a ", "1e-3"]
VERBATIM += ["null", "", "#x", "a=b", "\\${y}", "line\nbreak"]


@pytest.mark.parametrize("value", VERBATIM)
def test_each_value_reaches_dvc_as_itself_in_one_experiment(monkeypatch, tmp_path, value):
    """`dvc exp run --queue -S` reads its values with Hydra's override grammar: `a,b` would
    queue two experiments, `'` or `${` fail. Read back here as DVC reads them."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import apply_overrides, get_hydra_sweeps

    from mnistgan.search import experiments

    calls = []
    monkeypatch.setattr(experiments, "dvc", lambda args, **kw: calls.append(args) or "")
    experiments.queue("s-0", {"data.source": value, "train.lr_g": 1e-05, "train.ema": None})
    sets = [arg for flag, arg in zip(calls[0], calls[0][1:], strict=False) if flag == "-S"]
    overrides = to_path_overrides(sets)
    assert len(get_hydra_sweeps(overrides)) == 1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"data": {"source": "x"}, "train": {"lr_g": 1, "ema": 1}}))
    apply_overrides(path, overrides["params.yaml"])
    assert params.read_yaml_12(path.read_text()) == {
        "data": {"source": value}, "train": {"lr_g": 1e-05, "ema": None}
    }  # fmt: skip


def test_values_go_to_dvc_as_params_yaml_reads_them():
    values = (None, True, False, 64, 0.00123, 1e-05, "hinge", "a,b", "it's", "a\\")
    assert [space.cli_value(v) for v in values] == [
        "null", "true", "false", "64", "0.00123", "1e-05", "'hinge'", "'a,b'", "'it\\'s'",
        "'a\\\\'",
    ]  # fmt: skip
    with pytest.raises(UserError, match="expected null, a boolean, a number or a string"):
        space.cli_value([1, 2])
