"""Model files outlive the params: a generator file holds only what builds the generator,
files of older formats load (keys added since take their defaults), and a format this code
does not know is one clear error. tests/data holds tiny generator files as written by
earlier code; `PYTHONPATH=src python tests/test_model_files.py` wrote them."""

import hashlib
from dataclasses import fields
from pathlib import Path

import pytest
import torch

import mnistgan
from mnistgan.core import atomic, checkpoint
from mnistgan.core.checkpoint import load_model, save_model
from mnistgan.core.errors import UserError
from mnistgan.gan.models import (
    DiscriminatorConfig,
    GeneratorConfig,
    build_discriminator,
    build_generator,
)
from mnistgan.gan.sampling import generate, latents

DATA = Path(__file__).resolve().parent / "data"
# A tiny generator as it was saved before model files had a format number: the whole model:
# section (format 0), and the same weights in format 1
FORMAT_0 = {
    "arch": "dcgan",
    "z_dim": 8,
    "features": 1,
    "d_features": 1,
    "conditional": False,
    "spectral_norm": False,
    "d_norm": "batch",
    "supervised_d": False,
    "g_refine": 1,
    "g_taper": True,
    "mixture": 2,
}
WEIGHTS_SHA256 = "1021fe457d9d9f83b9f4f7d23dd341056bc6a8a6f6f3fe5bbc5ffd5ad524fe38"
MEAN_PIXEL = 205.25  # of the 16 images below, to within 1 (another CPU may round a pixel apart)


def write_data_files() -> None:
    """The committed files: seeded weights, wider than an initialised G's, so it draws more
    than grey."""
    torch.manual_seed(0)
    g = build_generator(
        GeneratorConfig(**{f.name: FORMAT_0[f.name] for f in fields(GeneratorConfig)})
    )
    with torch.no_grad():
        for t in g.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t).abs() if t.dim() == 1 else torch.randn_like(t) * 0.5)
    state = {k: v.detach().cpu() for k, v in g.state_dict().items()}  # as save_model did
    format_0 = {"kind": "generator", "config": FORMAT_0, "state_dict": state}
    atomic.write_torch(DATA / "generator-format0.pt", format_0)
    save_model(DATA / "generator-format1.pt", "generator", g)


def weights_sha256(g: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, t in g.state_dict().items():
        h.update(name.encode() + t.numpy().tobytes())
    return h.hexdigest()


def samples(g: torch.nn.Module) -> torch.Tensor:
    return generate(g, latents(16, g.config.z_dim, seed=0))


def load_generator(path: Path):
    return load_model(path, "generator", build_generator, GeneratorConfig)


def test_generator_files_of_formats_0_and_1_load_and_draw_the_same_images():
    drawn = []
    for fmt in (0, 1):
        g = mnistgan.load_generator(DATA / f"generator-format{fmt}.pt")
        assert g.config.z_dim == 8 and g.config.mixture == 2 and not g.config.conditional
        assert weights_sha256(g) == WEIGHTS_SHA256
        drawn.append(samples(g))
        assert drawn[-1].shape == (16, 1, 28, 28) and drawn[-1].dtype == torch.uint8
        assert abs(drawn[-1].float().mean().item() - MEAN_PIXEL) < 1
    assert torch.equal(*drawn)


def test_a_generator_file_holds_no_discriminator_key_and_the_reverse(tmp_path):
    g0, _ = load_generator(DATA / "generator-format0.pt")
    save_model(tmp_path / "g.pt", "generator", g0)
    d = build_discriminator(
        DiscriminatorConfig(**{f.name: FORMAT_0[f.name] for f in fields(DiscriminatorConfig)})
    )
    save_model(tmp_path / "d.pt", "discriminator", d)
    g_keys = torch.load(tmp_path / "g.pt", weights_only=True)["config"].keys()
    d_keys = torch.load(tmp_path / "d.pt", weights_only=True)["config"].keys()
    assert not g_keys & {"d_features", "d_norm", "spectral_norm", "supervised_d"}
    assert not d_keys & {"z_dim", "features", "g_refine", "g_taper", "mixture"}
    assert g_keys | d_keys == FORMAT_0.keys()


def rewritten(tmp_path: Path, fmt: int, drop: str = "") -> Path:
    """The committed file of format `fmt`, relabelled or less one config key."""
    ckpt = torch.load(DATA / f"generator-format{fmt}.pt", weights_only=True)
    ckpt["config"].pop(drop, None)
    path = tmp_path / "g.pt"
    torch.save(ckpt, path)
    return path


def test_a_format_too_new_or_too_old_is_one_clear_error(tmp_path, monkeypatch):
    path = rewritten(tmp_path, 0)  # weights and config that would load, under a new number
    ckpt = torch.load(path, weights_only=True)
    torch.save(ckpt | {"format": checkpoint.FORMAT + 1}, path)
    with pytest.raises(UserError, match=rf"^{path}: model file format 2 is too new: .*0 to 1"):
        load_generator(path)
    monkeypatch.setattr(checkpoint, "OLDEST_FORMAT", 1)  # the day format 0 is dropped
    with pytest.raises(UserError, match=rf"^{DATA}/generator-format0.pt: .* format 0 is too old"):
        load_generator(DATA / "generator-format0.pt")


def test_an_older_file_without_a_key_added_since_loads_with_its_default(tmp_path):
    g, cfg = load_generator(rewritten(tmp_path, 0, drop="mixture"))
    assert cfg.mixture == 0 and g.config == cfg
    # today's format has every key: one missing means a broken file, not an old one
    with pytest.raises(
        UserError, match=r"bad model config in checkpoint: config\.mixture: missing"
    ):
        load_generator(rewritten(tmp_path, 1, drop="mixture"))


if __name__ == "__main__":
    write_data_files()
