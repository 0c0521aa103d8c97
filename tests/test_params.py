"""params.yaml is validated on load: every bad key or value is named in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import small_raw
from ruamel.yaml.composer import ComposerError

from mnistgan.core import params
from mnistgan.core.errors import UserError

REPO = Path(__file__).resolve().parents[1]
FLOOR = "the real floor of evaluate draws from them"
BATCH = "an integer in [2, 8192] (the generator's batch norm needs 2 images)"
SCORED = "an integer in [6, 1000000] (the k-NN metrics need more than 5)"


def with_value(section: str, key: str, value) -> dict:
    raw = small_raw()
    raw[section][key] = value
    return raw


def as_written(section: str, key: str, text: str) -> str:
    """Small params as YAML, with `text` as a user typed it for section.key's value."""
    raw = with_value(section, key, "WRITTEN")
    return yaml.safe_dump(raw, sort_keys=False).replace("WRITTEN", text)


def test_floats_accept_integers():
    assert params.parse(with_value("train", "lr_g", 1)).train.lr_g == 1.0


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("train", "epochs", -1, "an integer in [1, 100000]"),
        ("train", "epochs", 0, "an integer in [1, 100000]"),
        ("train", "epochs", 2.5, "an integer in [1, 100000]"),
        ("train", "epochs", "ten", "an integer in [1, 100000]"),
        ("train", "epochs", True, "an integer in [1, 100000]"),
        ("train", "batch_size", 1, BATCH),
        ("train", "lr_g", 0, "a number > 0"),
        ("train", "lr_d", -0.001, "a number > 0"),
        ("train", "beta1", 1.0, "a number in [0, 1)"),
        ("train", "beta2", -0.1, "a number in [0, 1)"),
        ("train", "device", "gpu", "one of auto, cpu, cuda, mps"),
        ("sample", "device", "gpu", "one of auto, cpu, cuda, mps"),
        ("evaluator", "device", None, "one of auto, cpu, cuda, mps"),
        ("model", "arch", "resnet", "one of mlp, dcgan"),
        ("data", "limit", 0, "null or an integer in [2, 1000000]"),
        ("data", "val_size", -5, f"an integer in [6, 1000000] ({FLOOR})"),
        ("data", "source", 3, "a value of type str or null"),
        ("sample", "n", 0, "an integer in [6, 1000000]"),
        ("sample", "keep", 0, "a number in (0, 1]"),
        ("sample", "keep", 1.5, "a number in (0, 1]"),
        ("model", "g_refine", -1, "an integer in [0, 16]"),
        ("model", "mixture", 1, "0 or an integer in [2, 1023]"),
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
    raw = small_raw() | {"trian": {}}
    with pytest.raises(UserError, match=r"^trian: unknown key"):
        params.parse(raw)


def test_missing_key_is_named():
    raw = small_raw()
    del raw["train"]["seed"]
    with pytest.raises(UserError, match=r"^train\.seed: missing$"):
        params.parse(raw)


def test_section_must_be_a_mapping():
    raw = small_raw() | {"train": [1, 2]}
    with pytest.raises(UserError, match=r"^train: got \[1, 2\], expected a mapping"):
        params.parse(raw)


SEED = "an integer in [0, 2^63)"


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("model", "z_dim", 10**9, "an integer in [1, 1024]"),
        ("model", "features", 100_000, "an integer in [1, 1024]"),
        ("model", "d_features", 100_000, "an integer in [1, 1024]"),
        ("model", "g_refine", 10**6, "an integer in [0, 16]"),
        ("sample", "n", 10**10, "an integer in [6, 1000000]"),
        ("sample", "grid", 10**6, "an integer in [1, 1024]"),
        ("evaluate", "n_samples", 10**10, SCORED),
        ("evaluator", "batch_size", 10**6, "an integer in [1, 8192]"),
        ("evaluator", "epochs", 10**12, "an integer in [1, 100000]"),
        ("train", "batch_size", 10**6, BATCH),
        ("train", "epochs", 10**12, "an integer in [1, 100000]"),
        ("train", "d_steps", 10**6, "an integer in [1, 100]"),
        ("train", "log_every", 10**12, "an integer in [1, 1000000]"),
        ("train", "threads", 100_000, "null (all cores) or an integer in [1, 1024]"),
        ("train", "processes", 100_000, "an integer in [1, 1024]"),
        ("data", "limit", 10**12, "null or an integer in [2, 1000000]"),
        ("data", "val_size", 0, f"an integer in [6, 1000000] ({FLOOR})"),
        ("data", "seed", 2**63, SEED),
        ("model", "mixture", 10**9, "0 or an integer in [2, 1023]"),
        ("train", "seed", 2**64, SEED),
        ("train", "lr_g", float("inf"), "a number > 0"),
        ("train", "gp_weight", 10**400, "a number >= 0"),
        ("sample", "seed", -1, SEED),
        ("evaluator", "seed", 2**63, SEED),
        ("evaluate", "seed", 2**63, SEED),
    ],
)
def test_sizes_and_seeds_have_bounds(section, key, value, expected):
    with pytest.raises(UserError) as e:
        params.parse(with_value(section, key, value))
    assert str(e.value) == f"{section}.{key}: got {params.preview(value)}, expected {expected}"


def test_seeds_go_up_to_2_pow_63():
    assert params.parse(with_value("train", "seed", 2**63 - 1)).train.seed == 2**63 - 1
    with pytest.raises(UserError, match=r"^train\.seed: got 9223372036854775808, expected"):
        params.parse(with_value("train", "seed", 2**63))


def test_keep_that_would_draw_too_many_drafts_is_refused():
    raw = with_value("sample", "keep", 1e-10)
    with pytest.raises(UserError, match=r"^sample\.keep: got 1e-10, so G would draw .* 6\.4e\+11 "):
        params.parse(raw)


def test_processes_must_divide_the_batch():
    raw = with_value("train", "processes", 3)
    with pytest.raises(UserError) as e:
        params.parse(raw)
    assert str(e.value).startswith("train.processes: got 3, expected a divisor of train.batch_size")


def test_a_billion_laughs_value_is_shown_in_a_few_characters():
    bomb = ["lol"] * 10
    for _ in range(5):  # 10^6 items; a model file's shared references can nest 10^9
        bomb = [bomb] * 10
    for section, key in ((params.ModelParams, "arch"), (params.DataParams, "dataset")):
        with pytest.raises(UserError) as e:
            params.parse_section(section, {key: bomb}, "config")
        assert str(e.value).startswith(f"config.{key}: got [[[") and len(str(e.value)) < 200


def write(tmp_path, text: str) -> Path:
    (tmp_path / "params.yaml").write_text(text)
    return tmp_path / "params.yaml"


@pytest.mark.parametrize(
    ("written", "value"),
    [("1e-3", 1e-3), ("1e10", 1e10), ("1.0e10", 1e10), ("+2E0", 2.0)],  # YAML 1.1: strings
)
def test_floats_read_as_users_write_them(tmp_path, written, value):
    text = as_written("train", "lr_g", written)
    assert params.load(write(tmp_path, text)).train.lr_g == value


def test_an_integer_written_as_a_float_is_refused_naming_the_key(tmp_path):
    text = as_written("train", "epochs", "1e3")
    with pytest.raises(UserError, match=r"^train\.epochs: got 1000\.0, expected an integer in"):
        params.load(write(tmp_path, text))


@pytest.mark.parametrize(("text", "shown"), [("", "None"), ("- 1\n- 2\n", r"\[1, 2\]")])
def test_params_that_are_not_a_mapping_are_named(tmp_path, text, shown):
    with pytest.raises(UserError, match=rf"params\.yaml: got {shown}, expected a mapping of data,"):
        params.load(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("train: [unclosed", r"line 1: expected ',' or '\]'"),
        ("train:\n  epochs: 1" + "0" * 5000, "Exceeds the limit"),
        ("x: &a [1]\ntrain: *a", r"line 2: \*a: params take no aliases\)$"),
    ],
    ids=["syntax", "5000 digits", "alias"],
)
def test_unreadable_yaml_is_one_line(tmp_path, text, problem):
    with pytest.raises(UserError, match=rf"params\.yaml: cannot read params \({problem}") as e:
        params.load(write(tmp_path, text))
    assert "\n" not in str(e.value)


LAUGHS = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'] + [
    f"&{x} [{', '.join([f'*{p}'] * 9)}]" for p, x in zip("abcdefgh", "bcdefghi", strict=True)
]  # 9^9 items: a value of billions of characters, for a known key
BILLION_LAUGHS = as_written("model", "arch", f"[{', '.join(LAUGHS)}]")
LOAD = """
import resource, sys
from mnistgan.core import params
from mnistgan.core.errors import exit_on_user_error
resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))  # expanded: gigabytes
exit_on_user_error(lambda: params.load(sys.argv[1]))
"""


def test_a_billion_laughs_is_refused_in_bounded_memory(tmp_path):
    path = write(tmp_path, BILLION_LAUGHS)
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path)],
        env={"PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        timeout=60,
        text=True,
    )
    line = BILLION_LAUGHS[: BILLION_LAUGHS.index("arch:")].count("\n") + 1
    expected = f"error: {path}: cannot read params (line {line}: *a: params take no aliases)\n"
    assert done.returncode == 1 and done.stderr == expected, done.stderr[-2000:]


# params.yaml is read as DVC reads it (YAML 1.2), so the stages train what dvc.lock, `dvc params
# diff` and `dvc exp show` record. Forms YAML 1.1 (PyYAML, older tools) reads otherwise are
# refused naming the key: `yes`, `off` and `1:00.5` are strings to DVC, so a bool or number
# key refuses them by type; `010`, a number to both (10, or octal 8), is refused as read.
@pytest.mark.parametrize(
    ("section", "key", "text", "says"),
    [
        ("model", "conditional", "yes", "model.conditional: got 'yes', expected true or false"),
        ("model", "spectral_norm", "off", "model.spectral_norm: got 'off', expected true or false"),
        ("train", "lr_g", "1:00.5", "train.lr_g: got '1:00.5', expected a number > 0"),
        (
            "train",
            "epochs",
            "010",
            "{path}: cannot read params (line 20: train.epochs: DVC reads 010 as 10 (YAML 1.2), "
            "YAML 1.1 as 8: write it without the leading 0)",
        ),
    ],
)
def test_values_yaml_11_reads_otherwise_are_refused(tmp_path, section, key, text, says):
    path = write(tmp_path, as_written(section, key, text))
    with pytest.raises(UserError) as e:
        params.load(path)
    assert str(e.value) == says.format(path=path)


@pytest.mark.parametrize("folder", ["on", "no", "12:30"])
def test_a_folder_yaml_11_reads_as_no_string_is_the_string_dvc_reads(tmp_path, folder):
    path = write(tmp_path, as_written("data", "source", folder))
    assert params.load(path).data.source == folder


def test_a_key_written_twice_is_refused_naming_it(tmp_path):
    text = as_written("train", "lr_g", "0.5\n  lr_g: 0.002")
    line = text[: text.index("lr_g: 0.002")].count("\n") + 1
    with pytest.raises(UserError) as e:
        params.load(write(tmp_path, text))
    assert (
        str(e.value)
        == f"{tmp_path}/params.yaml: cannot read params (line {line}: train.lr_g: written twice)"
    )


def test_a_key_yaml_11_reads_as_no_string_is_named(tmp_path):
    text = as_written("train", "lr_g", "0.5\n  yes: 1")
    with pytest.raises(UserError, match=r"^train\.yes: unknown key"):
        params.load(write(tmp_path, text))


def test_values_nested_400_deep_are_one_line(tmp_path):
    """Refused at a fixed depth as they are read, so the line where is known."""
    text = as_written("train", "lr_g", "[" * 400 + "]" * 400)
    with pytest.raises(UserError) as e:
        params.load(write(tmp_path, text))
    assert str(e.value) == (
        f"{tmp_path}/params.yaml: cannot read params (line 22: values nested too deeply)"
    )


@pytest.mark.parametrize(
    "override",
    [
        "data.source=on",
        "data.source=12:30",
        "train.lr_g=0.00001",
        "train.lr_d=1e-10",
        "train.epochs=12",
        "model.conditional=true",
        "sample.temperature=1.5",
    ],
)
def test_values_dvc_exp_run_set_writes_load_as_dvc_reads_them(tmp_path, override):
    """`dvc exp run -S` rewrites params.yaml with ruamel.yaml (e.g. `on` unquoted, 1e-05):
    what it writes loads, with the values DVC records."""
    from dvc.utils.hydra import apply_overrides

    path = write(tmp_path, yaml.safe_dump(small_raw(), sort_keys=False))
    apply_overrides(str(path), [override])
    key, _ = override.split("=")
    section, name = key.split(".")
    dvc = params.read_yaml_12(path.read_text())[section][name]
    assert getattr(getattr(params.load(path), section), name) == dvc


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"evaluate": {"n_samples": 17}},
            r"evaluate\.n_samples: got 17, expected at most data\.val_size \(16\): ",
        ),
        (
            {"data": {"val_size": 64}, "evaluate": {"n_samples": 65}, "sample": {"n": 64}},
            r"evaluate\.n_samples: got 65, expected at most data\.val_size \(64\)",
        ),
        (
            {"data": {"val_size": 100}, "evaluate": {"n_samples": 65}},
            r"evaluate\.n_samples: got 65, expected at most sample\.n \(64\): ",
        ),
        (
            {"data": {"limit": 31}, "train": {"batch_size": 16, "d_steps": 2}},
            r"train\.batch_size: got 16 \(x train\.d_steps 2 a step\), expected at most "
            r"data\.limit \(31\)",
        ),
        (
            {"data": {"limit": 63}, "train": {"batch_size": 16}},
            r"evaluator\.batch_size: got 64, expected at most data\.limit \(63\)",
        ),
    ],
)
def test_sizes_across_sections_are_checked_on_load(override, message):
    """Every stage loads params whole: a size that would stop evaluate, after training, or
    train, after prepare, stops the first stage run."""
    from conftest import merge

    with pytest.raises(UserError, match=f"^{message}"):
        params.parse(merge(small_raw(), override))


def test_n_samples_lower_bound_is_the_k_nn_metrics_own():
    """The least n_samples params allow is the least the metrics compute with: K + 1."""
    from mnistgan.evaluation import quality

    g = torch.Generator().manual_seed(0)
    for n in (params.MIN_SCORED, params.MIN_SCORED - 1):
        feats, probs = torch.randn(n, 8, generator=g), torch.rand(n, 10, generator=g).softmax(1)
        hist = quality.class_histogram(probs.argmax(1))
        if n < quality.K + 1:
            with pytest.raises(ValueError, match="need more than k=5 points"):
                quality.knn_radii(feats)
            continue
        metrics = quality.quality(feats, quality.knn_radii(feats), hist, feats, probs, 0)
        assert metrics["precision"] == metrics["recall"] == 1.0  # a set against itself
    with pytest.raises(
        UserError, match=r"^evaluate\.n_samples: got 5, expected an integer in \[6,"
    ):
        params.parse(with_value("evaluate", "n_samples", 5))


def test_sizes_across_sections_say_why():
    """The whole message, the reason included: a user reads why the two keys are tied."""
    from conftest import merge

    for override, message in (
        (
            {"evaluate": {"n_samples": 17}},
            "evaluate.n_samples: got 17, expected at most data.val_size (16): "
            "the real floor scores as many held-out images",
        ),
        (
            {"data": {"val_size": 100}, "evaluate": {"n_samples": 65}},
            "evaluate.n_samples: got 65, expected at most sample.n (64): "
            "it scores that many samples",
        ),
    ):
        with pytest.raises(UserError) as e:
            params.parse(merge(small_raw(), override))
        assert str(e.value) == message


def refusal(text: str) -> str:
    with pytest.raises(ComposerError) as e:
        params.read_yaml_12(text)
    return f"line {e.value.problem_mark.line + 1}: {e.value.problem}"


def test_a_key_written_twice_is_found_wherever_it_is():
    """Keys written twice are found past a list walked before them, under a key that is no
    string (named `?`), and named as written: a leading X or dot is part of the key."""
    assert refusal("a: {x: 1, x: 2}\nb: [1, 2]\n") == "line 1: a.x: written twice"
    assert refusal("- {x: 1, x: 2}\n- [1]\n") == "line 1: [0].x: written twice"
    assert refusal("? [a]\n: {x: 1, x: 2}\n") == "line 2: ?.x: written twice"
    assert refusal("Xa: 1\nXa: 2\n") == "line 2: Xa: written twice"
    assert refusal(".b: 1\n.b: 2\n") == "line 2: .b: written twice"
    assert params.read_yaml_12("a: [{b: 1}, {b: 2}]\nc: 1\n'1': 2\n1: 3\n")  # each once


def test_a_leading_0_is_refused_in_files_not_in_a_value_alone():
    """`-S train.epochs=010` reads as DVC reads it; in a file, YAML 1.1's octal is named."""
    assert params.read_yaml_12("010") == 10
    assert (
        refusal("a: [1, 010]")
        == "line 1: a[1]: DVC reads 010 as 10 (YAML 1.2), YAML 1.1 as 8: write it without the "
        "leading 0"
    )
    values = params.read_yaml_12("a: [0, 00, 07, 08, '010', 0o10, 0x10]")["a"]
    assert values == [0, 0, 7, 8, "010", 8, 16]  # YAML 1.1: the same, or no number


@pytest.mark.parametrize(
    ("written", "dvc", "yaml_11"),
    [("-010", -10, -8), ("+010", 10, 8), ("0_20", 20, 16), ("0__10", 10, 8), ("017", 17, 15)],
)
def test_a_leading_0_is_refused_signed_or_with_underscores(written, dvc, yaml_11):
    """A sign or underscores (YAML 1.2 to ruamel, and YAML 1.1) keep the octal reading; the
    message gives both numbers."""
    assert refusal(f"a:\n  b: {written}\n") == (
        f"line 2: a.b: DVC reads {written} as {dvc} (YAML 1.2), YAML 1.1 as {yaml_11}: write it "
        "without the leading 0"
    )


def test_strings_that_read_as_a_leading_0_without_sign_or_underscore_are_strings():
    """Only integers are checked: `_010` and `+-010` are strings to YAML 1.2 and 1.1 alike."""
    assert params.read_yaml_12("a: [_010, +-010, '-010', X010]") == {
        "a": ["_010", "+-010", "-010", "X010"]
    }


def test_values_nested_max_depth_deep_are_read_one_more_refused():
    """A value MAX_DEPTH levels below the top one is read; a level more is refused where it is."""
    nested = "[" * params.MAX_DEPTH + "1" + "]" * params.MAX_DEPTH
    value = params.read_yaml_12(nested)
    for _ in range(params.MAX_DEPTH):
        (value,) = value
    assert value == 1
    assert refusal(f"a:\n  {nested}\n") == "line 2: values nested too deeply"


def test_a_key_that_is_no_scalar_is_read_as_dvc_reads_it():
    """Only scalar keys are compared as written; a list key is ruamel's (a tuple)."""
    assert params.read_yaml_12("? [a]\n: 1\nb: 2\n") == {("a",): 1, "b": 2}


def test_a_yaml_11_directive_is_refused_whatever_the_file_holds():
    """The directive is checked on the document itself: a file of one value, or of no
    value, is refused too (not read as YAML 1.1, nor as empty)."""
    for text in ("%YAML 1.1\n--- 010\n", "%YAML 1.1\n---\n"):
        with pytest.raises(ComposerError) as e:
            params.read_yaml_12(text)
        assert (
            e.value.problem == "%YAML 1.1 makes DVC read the file as YAML 1.1: delete the directive"
        )


def test_the_reader_composes_in_python_where_ruamels_c_parser_is_installed(monkeypatch):
    """ruamel.yaml.clib's parser composes in C, past Composer: with it installed, a safe
    reader that is not `pure` would take aliases. A stand-in for it must go unused."""
    import ruamel.yaml.main

    class CParser:
        def __init__(self, *args, **kwargs):
            raise AssertionError("the C parser was chosen: it composes without params.Composer")

    monkeypatch.setattr(ruamel.yaml.main, "CParser", CParser)
    assert refusal("x: &a [1]\ntrain: *a\n") == "line 2: *a: params take no aliases"


# ---- params.yaml and search specs are read as files: bounded, never a device or a FIFO ----

READ = """
import resource, sys
from mnistgan.core.errors import exit_on_user_error
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # /dev/zero read whole: far more
if sys.argv[2] == "params":
    from mnistgan.core import params
    exit_on_user_error(lambda: params.load(sys.argv[1]))
else:
    from mnistgan.search import space
    exit_on_user_error(lambda: space.load(sys.argv[1], [], [], []))
"""


def not_a_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "params.yaml"
    if kind == "FIFO":
        os.mkfifo(path)  # reading waits for a writer: for ever
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")  # endless zeros: memory until the machine runs out
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_text("x: " + "1" * 1_000_000 + "\n")
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs and /dev/zero are POSIX's")
@pytest.mark.parametrize("reader", ["params", "search spec"])
@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("FIFO", "a FIFO (named pipe), not a regular file: cannot read params from it"),
        ("link to /dev/zero", "a character device, not a regular file: cannot read params from it"),
        ("folder", "a folder, not a regular file: cannot read params from it"),
        ("over 1 MB", "more than 1,000,000 bytes, too large for params"),
    ],
)
def test_what_is_no_small_regular_file_is_one_line_without_reading_it(tmp_path, kind, says, reader):
    """In a fresh process with 1 GiB of address space and a time limit: a reader that waits
    on the FIFO or reads /dev/zero fails here, not hangs or takes the machine's memory."""
    path = not_a_file(tmp_path, kind)
    try:
        done = subprocess.run(
            [sys.executable, "-c", READ, str(path), reader.split()[0]],
            env={"PYTHONPATH": str(REPO / "src")},
            capture_output=True,
            timeout=30,
            text=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading a {kind} hung")
    assert done.returncode == 1 and done.stderr == f"error: {path}: {says}\n", done.stderr[-2000:]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            as_written("sample", "n", "64\0"),  # line 41: "  n: 64" then NUL, column 8
            "cannot read params (line 41, column 8: character U+0000 (NUL), which YAML does not "
            "allow: delete it)",
        ),
        (
            as_written("sample", "n", "64").replace("\nsample:", "\n\ufeffsample:"),  # line 40
            "line 40, column 1: an invisible byte order mark (U+FEFF) before 'sample': delete it",
        ),
        (
            "%YAML 1.1\n---\n" + yaml.safe_dump(small_raw(), sort_keys=False),
            "cannot read params (%YAML 1.1 makes DVC read the file as YAML 1.1: delete the "
            "directive)",  # refused as read, before any key: no key to name
        ),
        ("x: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 6: invalid continuation byte)"),
    ],
    ids=["NUL", "byte order mark", "%YAML 1.1", "Latin-1"],
)
def test_invisible_or_foreign_bytes_are_one_line_naming_them(tmp_path, text, says):
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(UserError) as e:
        params.load(path)
    assert str(e.value) == f"{path}: {says}"


def test_values_read_are_plain_python_types(tmp_path):
    """Params go into JSON and model files: ruamel.yaml's own types (CommentedMap,
    ScalarFloat: a round-trip reading) would print otherwise, or not at all."""
    plain = (dict, list, str, int, float, bool, type(None))
    text = yaml.safe_dump(small_raw(), sort_keys=False) + "x: [1, 1.0e-4, {a: b}, [~]]\n"
    todo = [params.read(write(tmp_path, text))]
    while todo:
        value = todo.pop()
        assert type(value) in plain, type(value)
        todo += (
            list(value.values()) if type(value) is dict else value if type(value) is list else []
        )


def test_a_leading_byte_order_mark_and_a_yaml_1_2_directive_read_as_without(tmp_path):
    plain = yaml.safe_dump(small_raw(), sort_keys=False)
    for text in ["\ufeff" + plain, "%YAML 1.2\n---\n" + plain]:
        assert params.load(write(tmp_path, text)) == params.parse(small_raw())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "\n\ufeffdata: 1\n",
            "line 2, column 1: an invisible byte order mark (U+FEFF) before 'data'",
        ),
        (
            "a\ufeff: 1\n",
            "line 1, column 2: an invisible byte order mark (U+FEFF) before 'a value'",
        ),
        (
            "a: 1\n\ufeff\n",
            "line 2, column 1: an invisible byte order mark (U+FEFF) before 'a value'",
        ),
        (
            "a: 1\n  \ufeffb: 2\n\ufeffc: 3\n",
            "line 2, column 3: an invisible byte order mark (U+FEFF) before 'b'",
        ),
    ],
    ids=["after a blank first line", "second character", "before no key", "the first of two"],
)
def test_a_stray_byte_order_mark_is_named_where_it_is(tmp_path, text, says):
    """Its place counted from a first character that is itself a line break; the first one
    named; 'a value' where no key follows it."""
    path = write(tmp_path, text)
    with pytest.raises(UserError) as e:
        params.read(path)
    assert str(e.value) == f"{path}: {says}: delete it"


def test_a_character_yaml_refuses_other_than_nul_is_named_by_its_code(tmp_path):
    path = write(tmp_path, "a: 1\n\nb: 2\x07\n")
    with pytest.raises(UserError) as e:
        params.read(path)
    assert str(e.value) == (
        f"{path}: cannot read params (line 3, column 5: character U+0007, which YAML does not "
        "allow: delete it)"
    )


def test_a_folder_is_no_params_file(tmp_path):
    """In this process, where a change to `read` shows (the no-regular-file test above runs
    each reader in a process of its own)."""
    with pytest.raises(UserError) as e:
        params.read(tmp_path)
    assert str(e.value) == f"{tmp_path}: a folder, not a regular file: cannot read params from it"
