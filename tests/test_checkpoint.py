"""Checkpoints are loaded without unpickling: a file that would run code is refused."""

import pickle
import resource
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from conftest import SMALL, run
from zip_bombs import MIB, bomb

from mnistgan.core import atomic, checkpoint, params
from mnistgan.core.checkpoint import load_model, save_model
from mnistgan.core.errors import UserError
from mnistgan.gan.models import (
    DiscriminatorConfig,
    GeneratorConfig,
    build,
    build_discriminator,
    build_generator,
    narrow,
)

MODEL = SMALL.model
BUILDERS = {
    "generator": (build_generator, GeneratorConfig),
    "discriminator": (build_discriminator, DiscriminatorConfig),
}


def load_generator(path: Path):
    return load_model(path, "generator", build_generator, GeneratorConfig)


class Evil:
    """Unpickling this runs `open(marker, "w")`: the code a hostile checkpoint would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.slow  # runs python -m mnistgan in a fresh process
def test_generate_refuses_a_pickle_that_runs_code(tmp_path):
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"kind": "generator", "config": {}, "state_dict": Evil(marker)}, evil)
    result = run(
        [
            "python",
            "-m",
            "mnistgan",
            "generate",
            "--checkpoint",
            str(evil),
            "--out",
            str(tmp_path / "x.png"),
        ],
        tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "refused to load" in result.stderr and str(evil) in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "x.png").exists()


def test_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(Evil(tmp_path / "pwned")))
    with pytest.raises(UserError, match="refused to load: it holds objects other than tensors"):
        load_generator(path)
    assert not (tmp_path / "pwned").exists()


def test_roundtrip(tmp_path):
    g, d = build(MODEL, seed=0)
    save_model(tmp_path / "g.pt", "generator", g)
    loaded, cfg = load_generator(tmp_path / "g.pt")
    assert cfg == narrow(GeneratorConfig, MODEL)
    for a, b in zip(g.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_spectral_norm_roundtrip(tmp_path, arch):
    cfg = replace(MODEL, arch=arch, features=4, d_features=4, conditional=True, spectral_norm=True)
    g, d = build(cfg, seed=0)
    x, y = torch.zeros(2, 1, 28, 28), torch.tensor([3, 4])
    d(x, y)  # one power iteration in train mode moves the spectral norm's u and v buffers
    for kind, model in (("generator", g), ("discriminator", d)):
        save_model(tmp_path / f"{kind}.pt", kind, model)
        loaded, loaded_cfg = load_model(tmp_path / f"{kind}.pt", kind, *BUILDERS[kind])
        assert loaded_cfg == model.config
        a, b = model.state_dict(), loaded.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any("parametrizations" in k for k in d.state_dict())
    torch.testing.assert_close(loaded.eval()(x, y), d.eval()(x, y))


def test_wrong_kind_is_refused(tmp_path):
    _, d = build(MODEL, seed=0)
    save_model(tmp_path / "d.pt", "discriminator", d)
    with pytest.raises(UserError, match="not a mnistgan generator checkpoint"):
        load_generator(tmp_path / "d.pt")


def test_wrong_shapes_are_a_clear_error(tmp_path):
    g, _ = build(MODEL, seed=0)
    other = replace(MODEL, features=MODEL.features * 2)
    atomic.write_torch(
        tmp_path / "g.pt",
        {
            "format": 1,
            "kind": "generator",
            "config": asdict(narrow(GeneratorConfig, other)),
            "state_dict": g.state_dict(),
        },
    )
    with pytest.raises(UserError, match="weights do not fit a dcgan generator"):
        load_generator(tmp_path / "g.pt")


def test_foreign_tensor_file_is_refused(tmp_path):
    atomic.write_torch(tmp_path / "t.pt", {"images": torch.zeros(2)})
    with pytest.raises(UserError, match="not a mnistgan generator checkpoint"):
        load_generator(tmp_path / "t.pt")


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_generator(tmp_path / "nope.pt")


# Runs its arguments as a child process under a 2 GiB data limit (a machine's guard while
# testing code that would allocate without one), echoes the child's stderr and exit status,
# and prints its peak resident memory in KiB.
PEAK_RSS = """
import resource, subprocess, sys
cap = lambda: resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))
child = subprocess.run(sys.argv[1:], preexec_fn=cap, capture_output=True, text=True, timeout=300)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(child.stderr)
sys.exit(child.returncode)
"""


def lying_generator(path: Path, lie: str) -> None:
    """A small generator whose config claims a huge one: its weights keep their real shapes,
    or ("stride 0") take the claimed shapes as views of a single number each."""
    g, _ = build(MODEL, seed=0)
    sizes = {"features": {"features": 3000}, "z_dim": {"z_dim": 10**9}}
    # within params' bounds, so only the weights' own size can give the lie away
    claimed = replace(MODEL, **sizes.get(lie, {"features": 1024}))
    state = g.state_dict()
    if lie == "stride 0":
        with torch.device("meta"):
            shapes = {k: v.shape for k, v in build_generator(claimed).state_dict().items()}
        state = {k: v.flatten()[:1].view(()).expand(shapes[k]) for k, v in state.items()}
    config = asdict(narrow(GeneratorConfig, claimed))
    torch.save({"format": 1, "kind": "generator", "config": config, "state_dict": state}, path)


@pytest.mark.slow  # a fresh process
@pytest.mark.parametrize("lie", ["features", "z_dim", "stride 0"])
def test_config_that_lies_about_the_size_fails_fast_in_bounded_memory(tmp_path, lie):
    lying_generator(tmp_path / "g.pt", lie)
    cmd = ["python", "-m", "mnistgan", "generate", "--checkpoint", "g.pt", "--out", "x.png"]
    result = run(["python", "-c", PEAK_RSS, *cmd], tmp_path, check=False, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: g.pt: ") and len(result.stderr.splitlines()) == 1
    assert int(result.stdout) < 1_500_000  # KiB; importing torch alone takes about 0.8 GiB
    assert not (tmp_path / "x.png").exists()


def test_weights_that_claim_more_than_they_hold_are_refused(tmp_path):
    lying_generator(tmp_path / "g.pt", "stride 0")
    with pytest.raises(UserError, match=r"weights do not fit .*stored in fewer bytes"):
        load_generator(tmp_path / "g.pt")


def test_a_model_file_bound_holds_the_largest_model_params_allow():
    """MODEL_FILE_BYTES and RESUME_FILE_BYTES are derived from params' MAX_*: the biggest
    generator and discriminator they allow (built on the meta device: nothing allocated)."""
    biggest = replace(
        MODEL,
        arch="dcgan",
        z_dim=params.MAX_Z_DIM,
        features=params.MAX_WIDTH,
        d_features=params.MAX_WIDTH,
        g_refine=params.MAX_REFINE,
        g_taper=False,
        conditional=True,
        spectral_norm=True,
        supervised_d=True,
        mixture=params.MAX_Z_DIM - 1,
    )
    with torch.device("meta"):
        g, d = (build_generator(biggest), build_discriminator(biggest))
    g_bytes, d_bytes = (sum(t.nbytes for t in net.state_dict().values()) for net in (g, d))
    assert 1 << 30 < g_bytes < checkpoint.MODEL_FILE_BYTES  # 1.14 GiB
    # G, its EMA, D, and Adam's two moments of G and D; a 100-image grid per epoch
    grids = params.MAX_EPOCHS * 100 * 28 * 28
    assert 4 * g_bytes + 3 * d_bytes + grids < checkpoint.RESUME_FILE_BYTES
    assert params.MAX_IMAGES * (28 * 28 + 8) < checkpoint.DATA_FILE_BYTES


@pytest.mark.parametrize("mib", [1000, 3900])
def test_a_deflate_bomb_is_refused_by_its_zip_directory_before_anything_inflates(tmp_path, mib):
    """A few MB that would inflate to 1 or 3.9 GB: refused by the ratio of its entry's sizes
    (1000: under the model file bound) or by its declared size (3900), in milliseconds."""
    path = tmp_path / "g.pt"
    bomb(path, {"kind": "generator", "blob": torch.zeros(MIB, dtype=torch.uint8)}, "blob", mib)
    assert path.stat().st_size < 5 * MIB
    began = time.perf_counter()
    why = "a zip bomb" if mib == 1000 else "more than a model file holds"
    with pytest.raises(UserError, match=f"^{path}: refused: .*{why}"):
        load_generator(path)
    assert time.perf_counter() - began < 0.5  # inflating a GB takes seconds


def test_torch_never_inflates_an_entry_past_its_declared_size(tmp_path):
    """What makes the directory's sizes a bound: torch's zip reader inflates an entry into a
    buffer of its declared size and stops there, however far the data would go on."""
    path = tmp_path / "t.pt"
    bomb(path, {"blob": torch.zeros(MIB, dtype=torch.uint8)}, "blob", 2000, declared_mib=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    began = time.perf_counter()
    blob = checkpoint.load_safely(path, what="test file")["blob"]
    assert blob.shape == (MIB,) and not blob.any()
    assert time.perf_counter() - began < 1  # inflating 2 GB takes seconds
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 500 * MIB // 1024


@pytest.mark.parametrize("layout", ["sparse", "sparse CSR", "nested"])
def test_sparse_or_nested_weights_are_one_clear_error(tmp_path, layout):
    g, _ = build(MODEL, seed=0)
    state = g.state_dict()
    name = next(k for k, v in state.items() if v.dim() == 2)
    w = state[name]
    state[name] = {
        "sparse": w.to_sparse(),
        "sparse CSR": w.to_sparse_csr(),
        "nested": torch.nested.nested_tensor([w[0], w[1]]),
    }[layout]
    config = asdict(narrow(GeneratorConfig, MODEL))
    torch.save(
        {"format": 1, "kind": "generator", "config": config, "state_dict": state},
        path := tmp_path / "g.pt",
    )
    layout_name = {"sparse": "sparse_coo", "sparse CSR": "sparse_csr", "nested": "nested"}[layout]
    with pytest.raises(
        UserError,
        match=f"^{path}: weights do not fit .*{name}: a {layout_name} tensor, expected a dense one",
    ):
        load_generator(path)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + bytes(64), b"hello\n", b"", b"PK\x03\x04junk"],
    ids=["png", "text", "empty", "broken zip"],
)
def test_a_file_that_is_no_pytorch_file_is_not_a_model_file(tmp_path, content):
    path = tmp_path / "g.png"
    path.write_bytes(content)
    with pytest.raises(UserError, match=f"^{path}: not a model file \\("):
        load_generator(path)


@pytest.mark.slow  # a fresh process
def test_generate_refuses_a_deflate_bomb_in_bounded_memory(tmp_path):
    bomb(tmp_path / "g.pt", {"blob": torch.zeros(MIB, dtype=torch.uint8)}, "blob", 1000)
    cmd = ["python", "-m", "mnistgan", "generate", "--checkpoint", "g.pt", "--out", "x.png"]
    result = run(["python", "-c", PEAK_RSS, *cmd], tmp_path, check=False, timeout=300)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: g.pt: refused: its entry ")
    assert "(a zip bomb)" in result.stderr and len(result.stderr.splitlines()) == 1
    assert int(result.stdout) < 1_500_000  # KiB; inflating it would take 1 GiB more
