"""The explorer page's forward pass, without a browser: a NumPy copy of the page's plain
JavaScript layers (explorer/page.in.html: `forward` and the layers it calls, same memory
layout, same offsets into the weights) runs on the weights the page holds, and must draw
what PyTorch's generator draws, for every generator the params can build.

Batch norms get statistics and affine weights far from identity, so a fold that drops a
term (the scale on the running mean, the shift, the variance's eps) changes the pictures;
the browser tests (tests/test_explorer.py, slow) check the page itself, kernels included.
"""

import base64
import json
import re
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import REPO, SMALL
from torch import nn

from mnistgan.explorer import export
from mnistgan.gan.models import BATCH_NORMS, build_generator

TEMPLATE = (REPO / "explorer/page.in.html").read_text(encoding="utf-8")
TAPS = [[[0, 1], [-1, 3]], [[0, 2], [1, 0]]]  # the page's TAPS: [phase][tap] = [offset, kernel]


def page_model(html: str) -> tuple[dict, np.ndarray]:
    """The spec and float32 weights a page holds, checked as loadModel checks them."""
    spec = re.search(r'<script type="application/json" id="model">(.*?)</script>', html, re.S)
    blob = re.search(r'id="weights">(.*?)</script>', html, re.S)
    model, data = json.loads(spec[1]), base64.b64decode(blob[1])
    assert len(data) == model["bytes"] and zlib.crc32(data) == model["crc32"]
    return model, np.frombuffer(data, dtype="<f4").astype(np.float64)


def linear(x, n, fin, fout, W, wo, bo):
    w = W[wo : wo + fout * fin].reshape(fout, fin)  # y[i, o] = b[o] + sum_k W[o * fin + k] x[i, k]
    return (x.reshape(n, fin) @ w.T + W[bo : bo + fout]).ravel()


def mixture(x, n, f, k, scale):
    rows = x.reshape(n, f)
    best = rows[:, :k].argmax(1)  # the first of equal maxima, as the page's strict >
    rows[:, :k] = 0
    rows[np.arange(n), best] = scale


def embed(x, n, f, y, W, wo):
    e = y.reshape(n, 10) @ W[wo : wo + 100].reshape(10, 10)
    return np.concatenate([x.reshape(n, f), e], 1).ravel(), e.ravel()


def film(x, n, f, planes, c, e, W, wo, bo):
    out = linear(e, n, 10, 2 * c, W, wo, bo).reshape(n, 2 * c)
    gain, shift = 1 + out[:, :c], out[:, c:]
    if planes is None:
        rows = x.reshape(n, f)
        rows[:, :c] = rows[:, :c] * gain + shift
        return
    h, w = planes
    inner = x.reshape(c, n, h + 2, w + 2)[:, :, 1 : h + 1, 1 : w + 1]  # the border stays 0
    inner[...] = inner * gain.T[:, :, None, None] + shift.T[:, :, None, None]


def to_planes(x, n, c, h, w):
    out = np.zeros((c, n, h + 2, w + 2))
    out[:, :, 1 : h + 1, 1 : w + 1] = x.reshape(n, c, h, w).transpose(1, 0, 2, 3)
    return out.ravel()


def conv_t(x, n, p, cin, cout, W, wo, bo):
    """Four 2x2 convs, one per output phase, over whole zero-bordered planes at once."""
    h, w = p
    wp, s, wp2, s2 = w + 2, (h + 2) * (w + 2), 2 * w + 2, (2 * h + 2) * (2 * w + 2)
    out, lo, hi = np.zeros(cout * n * s2), wp + 1, n * s - wp - 1
    for py in range(2):
        for px in range(2):
            taps = [(dy * wp + dx, ky * 4 + kx) for dy, ky in TAPS[py] for dx, kx in TAPS[px]]
            for co in range(cout):
                q = np.zeros(n * s)
                for ci in range(cin):
                    k, base = wo + (ci * cout + co) * 16, ci * n * s
                    for shift, kernel in taps:
                        q[lo:hi] += W[k + kernel] * x[base + shift + lo : base + shift + hi]
                planes = out.reshape(cout, n, 2 * h + 2, wp2)
                inner = q.reshape(n, h + 2, wp)[:, 1 : h + 1, 1 : w + 1] + W[bo + co]
                planes[co, :, 1 + py : 2 * h + 1 : 2, 1 + px : 2 * w + 1 : 2] = inner
    return out


def conv3(x, n, p, cin, cout, W, wo, bo):
    h, w = p
    wp, s = w + 2, (h + 2) * (w + 2)
    out, lo, hi = np.zeros(cout * n * s), wp + 1, n * s - wp - 1
    shifts = [(ky - 1) * wp + kx - 1 for ky in range(3) for kx in range(3)]
    for co in range(cout):
        q = np.zeros(n * s)
        for ci in range(cin):
            k, base = wo + (co * cin + ci) * 9, ci * n * s
            for t, shift in enumerate(shifts):
                q[lo:hi] += W[k + t] * x[base + shift + lo : base + shift + hi]
        inner = q.reshape(n, h + 2, wp)[:, 1 : h + 1, 1 : w + 1] + W[bo + co]
        out.reshape(cout, n, h + 2, wp)[co, :, 1 : h + 1, 1 : w + 1] = inner
    return out


def page_forward(spec: dict, W: np.ndarray, z: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """The page's `forward` (plain JavaScript layers): z (N, z_dim), y (N, 10) or None ->
    images (N, 784)."""
    n, f = len(z), spec["z_dim"]
    x, p, e = z.astype(np.float64).ravel().copy(), None, None
    for op in spec["ops"]:
        kind = op["op"]
        if kind == "mixture":
            mixture(x, n, f, op["k"], op["scale"])
        elif kind == "embed":
            x, e = embed(x, n, f, y, W, op["w"])
            f += 10
        elif kind == "linear":
            x, f = linear(x, n, op["in"], op["out"], W, op["w"], op["b"]), op["out"]
        elif kind == "film":
            film(x, n, f, p, op["c"], e, W, op["w"], op["b"])
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "tanh":
            x = np.tanh(x)
        elif kind == "planes":
            x, p = to_planes(x, n, op["c"], op["height"], op["width"]), (op["height"], op["width"])
        elif kind == "convT":
            x, p = conv_t(x, n, p, op["cin"], op["cout"], W, op["w"], op["b"]), (2 * p[0], 2 * p[1])
        elif kind == "conv3":
            x = conv3(x, n, p, op["cin"], op["cout"], W, op["w"], op["b"])
        else:
            raise AssertionError(f"unknown op {kind}")
    if p is None:
        return x.reshape(n, 784)
    h, w = p
    return x[: n * (h + 2) * (w + 2)].reshape(n, h + 2, w + 2)[:, 1:29, 1:29].reshape(n, 784)


def with_batch_norms_far_from_identity(g: nn.Module, seed: int) -> nn.Module:
    """Running means and variances, scales and shifts of every batch norm drawn at random,
    none near 0 or 1, and a large eps: the fold's every term moves the pictures."""
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, BATCH_NORMS):
                c, m.eps = m.num_features, 0.25  # an eps that counts beside the variances
                m.running_mean.copy_(0.5 * torch.randn(c, generator=rng))
                m.running_var.copy_(torch.rand(c, generator=rng) + 0.3)
                m.weight.copy_(torch.rand(c, generator=rng) + 0.5)
                m.bias.copy_(0.3 * torch.randn(c, generator=rng))
    return g.eval()


GENERATORS = {  # every option the page's ops cover, each in at least one
    "dcgan": dict(arch="dcgan", conditional=False, g_refine=0, g_taper=True, mixture=0),
    "dcgan conditional refine taper mixture": dict(
        arch="dcgan", conditional=True, g_refine=1, g_taper=True, mixture=10
    ),
    "dcgan refine 2 no taper mixture": dict(
        arch="dcgan", conditional=False, g_refine=2, g_taper=False, mixture=4
    ),
    "dcgan conditional no taper": dict(
        arch="dcgan", conditional=True, g_refine=0, g_taper=False, mixture=0
    ),
    "mlp": dict(arch="mlp", conditional=False, mixture=0),
    "mlp conditional mixture": dict(arch="mlp", conditional=True, mixture=10),
}


@pytest.mark.parametrize("options", GENERATORS.values(), ids=GENERATORS.keys())
def test_the_page_draws_what_pytorch_draws_from_the_folded_weights(options):
    torch.manual_seed(0)
    g = build_generator(replace(SMALL.model, features=4, **options))
    g = with_batch_norms_far_from_identity(g, seed=1)
    n, z_dim = 6, g.config.z_dim
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(2))
    y = None
    if g.config.conditional:  # one-hot digits, and blends of two as the page's frames draw
        y = torch.nn.functional.one_hot(torch.tensor([0, 3, 7, 9, 2, 5]), 10).float()
        y[4:] = 0.25 * y[4:] + 0.75 * y[:2]
    with torch.no_grad():
        expected = g(z, y).view(n, 784).double().numpy()
    spec, weights = page_model(export.page(g, TEMPLATE, 1.0))
    drawn = page_forward(spec, weights, z.numpy(), None if y is None else y.numpy())
    assert expected.std() > 0.05 and (np.abs(expected) < 0.99).mean() > 0.5  # not saturated
    np.testing.assert_allclose(drawn, expected, atol=2e-5, rtol=0)
