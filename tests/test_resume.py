"""Code outside training (bench/screen.py) reads the resume checkpoint through its module."""

from dataclasses import replace

import torch
from conftest import SMALL

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
