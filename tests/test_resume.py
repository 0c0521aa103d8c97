"""Code outside training (bench/screen.py) reads the resume checkpoint through its module."""

from dataclasses import replace

import torch
from conftest import SMALL
from zip_bombs import MIB, bomb

from mnistgan.gan import resume, training

P = SMALL
MODEL = replace(P.model, features=4, d_features=4)
TRAIN = replace(P.train, epochs=1, batch_size=16, device="cpu", ema=0.9)


def test_the_checkpoint_gives_the_generator_a_run_would_ship_its_ema(tmp_path):
    x = torch.randint(0, 256, (32, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 10
    result = training.train(x.to(torch.uint8), MODEL, TRAIN, tmp_path / "c.pt", y)
    weights = resume.sampled_generator(tmp_path / "c.pt")
    for shipped, same in ((result.generator_ema, True), (result.generator, False)):
        state = shipped.state_dict()
        assert weights.keys() == state.keys()
        assert all(torch.equal(weights[k], state[k]) for k in weights) == same


def digits_data() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(0, 256, (32, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    return x.to(torch.uint8), torch.arange(32) % 10


def test_a_bad_checkpoint_that_cannot_be_moved_aside_is_ignored_and_replaced(tmp_path, capsys):
    """checkpoint.pt.bad is a folder (of the user's): the bad checkpoint stays where it is, the
    run trains from scratch, and its first epoch's checkpoint replaces it."""
    ckpt, aside = tmp_path / "c.pt", tmp_path / "c.pt.bad"
    ckpt.write_bytes(b"not a checkpoint")
    aside.mkdir()
    (aside / "kept").write_text("mine")
    x, y = digits_data()
    result = training.train(x, MODEL, TRAIN, ckpt, y)
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith(f"warning: ignoring {ckpt} (not a training checkpoint")
    assert warning.endswith(f"could not move it to {aside} (Is a directory), training from scratch")
    assert result.images_seen == 32 and (aside / "kept").read_text() == "mine"
    assert resume.sampled_generator(ckpt).keys() == result.generator_ema.state_dict().keys()


def test_a_checkpoint_that_is_a_deflate_bomb_is_moved_aside_unread(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    bomb(ckpt, {"fingerprint": "x", "g": torch.zeros(MIB, dtype=torch.uint8)}, "g", 500)
    x, y = digits_data()
    training.train(x, MODEL, TRAIN, ckpt, y)
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith(f"warning: ignoring {ckpt} (refused: its entry ")
    assert "(a zip bomb)): moved it to" in warning
    assert (tmp_path / "c.pt.bad").stat().st_size < MIB


def test_the_fingerprint_changes_with_one_pixel_or_one_label_and_only_then():
    """A checkpoint trained on other digits must not be resumed: the fingerprint reads every
    pixel and every label, not only their shapes."""
    x, y = digits_data()
    other_x, other_y = x.clone(), y.clone()
    other_x[31, 0, 27, 27] ^= 1  # the last pixel of the last image, one grey level
    other_y[0] = 1

    def fp(images: torch.Tensor, labels: torch.Tensor | None) -> str:
        return resume.fingerprint(MODEL, TRAIN, images, labels, (), "cpu in fp32")

    assert fp(x.clone(), y.clone()) == fp(x, y)
    assert fp(other_x, y) != fp(x, y)
    assert fp(x, other_y) != fp(x, y)
    assert fp(x, None) != fp(x, y)


def test_a_checkpoint_trained_on_other_images_is_ignored(tmp_path, capsys):
    """Constant rates: the epoch count is then no part of the fingerprint, the images are."""
    x, y = digits_data()
    other = x.clone()
    other[0, 0, 0, 0] ^= 1
    constant = replace(TRAIN, lr_decay=0.0)
    training.train(x, MODEL, constant, tmp_path / "c.pt", y)
    result = training.train(other, MODEL, replace(constant, epochs=2), tmp_path / "c.pt", y)
    err = capsys.readouterr().err
    assert f"ignoring {tmp_path / 'c.pt'}: it was trained on other data or with other code" in err
    assert result.images_seen == 2 * 32  # both epochs trained, none resumed
