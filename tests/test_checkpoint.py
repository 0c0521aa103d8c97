"""Checkpoints are loaded without unpickling: a file that would run code is refused."""

import pickle
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from conftest import SMALL, run

from mnistgan.core import atomic
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
