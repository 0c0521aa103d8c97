"""The explorer page's forward pass, without a browser: a NumPy copy of the page's two
engines (explorer/page.in.html: `forward` and the layers it calls, same memory layout, same
offsets into the weights) runs on the weights the page holds, and must draw what PyTorch's
generator draws, for every combination of the options the generator's architecture takes.

The two engines round as the page does: the plain JavaScript layers add in float64 and store
float32 (a Float32Array) after each sum the page writes; the WebAssembly SIMD kernels
(mnistgan.explorer.kernels: f32x4.mul then f32x4.add, tap after tap) round every product and
every sum to float32, in the kernels' order. Batch norms get statistics and affine weights
far from identity, so a fold that drops a term (the scale on the running mean, the shift,
the variance's eps) changes the pictures; the browser tests (tests/test_explorer.py, slow)
check the page itself.
"""

import base64
import itertools
import json
import re
import shutil
import subprocess
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


f32 = np.float32


def stored(x):
    """What a Float32Array keeps of a float64 value: the nearest float32 (back in float64)."""
    return np.asarray(x, dtype=np.float64).astype(f32).astype(np.float64)


def linear(x, n, fin, fout, W, wo, bo):
    w = W[wo : wo + fout * fin].reshape(fout, fin)  # y[i, o] = b[o] + sum_k W[o * fin + k] x[i, k]
    return stored(x.reshape(n, fin) @ w.T + W[bo : bo + fout]).ravel()


def linear_simd(x, n, fin, fout, W, wo, bo):
    """linearSimd: y starts at the bias, then one axpy1 per nonzero input, in float32."""
    w = W[wo : wo + fout * fin].reshape(fout, fin).astype(f32)
    xs, y = x.reshape(n, fin).astype(f32), np.tile(W[bo : bo + fout].astype(f32), (n, 1))
    for k in range(fin):
        v = xs[:, k : k + 1]
        y = np.where(v != 0, y + v * w[:, k], y)  # f32 products, f32 sums
    return y.astype(np.float64).ravel()


def mixture(x, n, f, k, scale):
    rows = x.reshape(n, f)
    best = rows[:, :k].argmax(1)  # the first of equal maxima, as the page's strict >
    rows[:, :k] = 0
    rows[np.arange(n), best] = scale


def embed(x, n, f, y, W, wo):
    e = stored(y.reshape(n, 10) @ W[wo : wo + 100].reshape(10, 10))
    return np.concatenate([x.reshape(n, f), e], 1).ravel(), e.ravel()


def film(x, n, f, planes, c, e, W, wo, bo):
    out = linear(e, n, 10, 2 * c, W, wo, bo).reshape(n, 2 * c)
    gain, shift = 1 + out[:, :c], out[:, c:]
    if planes is None:
        rows = x.reshape(n, f)
        rows[:, :c] = stored(rows[:, :c] * gain + shift)
        return
    h, w = planes
    inner = x.reshape(c, n, h + 2, w + 2)[:, :, 1 : h + 1, 1 : w + 1]  # the border stays 0
    inner[...] = stored(inner * gain.T[:, :, None, None] + shift.T[:, :, None, None])


def to_planes(x, n, c, h, w):
    out = np.zeros((c, n, h + 2, w + 2))
    out[:, :, 1 : h + 1, 1 : w + 1] = x.reshape(n, c, h, w).transpose(1, 0, 2, 3)
    return out.ravel()


def accumulate(q, taps, x, lo, hi, simd):
    """q[lo:hi] += sum over taps of w * x[shift + lo : shift + hi], as the page sums one input
    channel's taps: plain JavaScript adds them in float64 and stores q as float32 once; the
    kernels (axpy4, axpy4x2, axpy1) round each product and each sum to float32, tap by tap."""
    if simd:
        acc = q[lo:hi].astype(f32)
        for w, shift in taps:
            acc = acc + f32(w) * x[shift + lo : shift + hi].astype(f32)
        q[lo:hi] = acc
    else:
        q[lo:hi] = stored(q[lo:hi] + sum(w * x[shift + lo : shift + hi] for w, shift in taps))


def conv_t(x, n, p, cin, cout, W, wo, bo, simd=False):
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
                    accumulate(q, [(W[k + t], base + sh) for sh, t in taps], x, lo, hi, simd)
                planes = out.reshape(cout, n, 2 * h + 2, wp2)
                inner = stored(q.reshape(n, h + 2, wp)[:, 1 : h + 1, 1 : w + 1] + W[bo + co])
                planes[co, :, 1 + py : 2 * h + 1 : 2, 1 + px : 2 * w + 1 : 2] = inner
    return out


def conv3(x, n, p, cin, cout, W, wo, bo, simd=False):
    h, w = p
    wp, s = w + 2, (h + 2) * (w + 2)
    out, lo, hi = np.zeros(cout * n * s), wp + 1, n * s - wp - 1
    shifts = [(ky - 1) * wp + kx - 1 for ky in range(3) for kx in range(3)]
    for co in range(cout):
        q = np.zeros(n * s)
        for ci in range(cin):
            k, base = wo + (co * cin + ci) * 9, ci * n * s
            accumulate(q, [(W[k + t], base + sh) for t, sh in enumerate(shifts)], x, lo, hi, simd)
        inner = stored(q.reshape(n, h + 2, wp)[:, 1 : h + 1, 1 : w + 1] + W[bo + co])
        out.reshape(cout, n, h + 2, wp)[co, :, 1 : h + 1, 1 : w + 1] = inner
    return out


def page_forward(
    spec: dict, W: np.ndarray, z: np.ndarray, y: np.ndarray | None, simd: bool = False
) -> np.ndarray:
    """The page's `forward`, its plain JavaScript layers or (`simd`) its WebAssembly SIMD
    kernels where it uses them: z (N, z_dim), y (N, 10) or None -> images (N, 784)."""
    n, f = len(z), spec["z_dim"]
    x, p, e = stored(z).ravel().copy(), None, None
    for op in spec["ops"]:
        kind = op["op"]
        if kind == "mixture":
            mixture(x, n, f, op["k"], op["scale"])
        elif kind == "embed":
            x, e = embed(x, n, f, y, W, op["w"])
            f += 10
        elif kind == "linear":  # the page's kernel needs whole 4-lane rows
            layer = linear_simd if simd and op["out"] % 4 == 0 else linear
            x, f = layer(x, n, op["in"], op["out"], W, op["w"], op["b"]), op["out"]
        elif kind == "film":
            film(x, n, f, p, op["c"], e, W, op["w"], op["b"])
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind == "tanh":
            x = stored(np.tanh(x))
        elif kind == "planes":
            x, p = to_planes(x, n, op["c"], op["height"], op["width"]), (op["height"], op["width"])
        elif kind == "convT":
            x = conv_t(x, n, p, op["cin"], op["cout"], W, op["w"], op["b"], simd)
            p = (2 * p[0], 2 * p[1])
        elif kind == "conv3":
            x = conv3(x, n, p, op["cin"], op["cout"], W, op["w"], op["b"], simd)
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


def combinations() -> dict[str, dict]:
    """Every combination of the options that shape the generator the page runs: dcgan with
    each g_refine, g_taper, conditional and mixture (a width of 5 makes its first linear's
    rows a length the kernels cannot take whole, so the plain layer runs there too), mlp with
    each conditional and mixture."""
    out = {}
    for features, refine, taper, conditional, mixture in itertools.product(
        [4, 5], [0, 1, 2], [False, True], [False, True], [0, 10]
    ):
        name = f"dcgan f{features} refine {refine} taper {taper} cond {conditional} mix {mixture}"
        out[name] = dict(
            arch="dcgan",
            features=features,
            g_refine=refine,
            g_taper=taper,
            conditional=conditional,
            mixture=mixture,
        )
    for conditional, mixture in itertools.product([False, True], [0, 10]):
        out[f"mlp cond {conditional} mix {mixture}"] = dict(
            arch="mlp", conditional=conditional, mixture=mixture
        )
    return out


GENERATORS = combinations()


@pytest.mark.parametrize("options", GENERATORS.values(), ids=GENERATORS.keys())
def test_the_page_draws_what_pytorch_draws_from_the_folded_weights(options):
    n, z_dim = 6, SMALL.model.z_dim
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(2))
    y = None
    if options["conditional"]:  # one-hot digits, and blends of two as the page's frames draw
        y = torch.nn.functional.one_hot(torch.tensor([0, 3, 7, 9, 2, 5]), 10).float()
        y[4:] = 0.25 * y[4:] + 0.75 * y[:2]
    for seed in range(20):  # the first init whose pictures vary: a narrow G's relus may all die
        torch.manual_seed(seed)
        g = build_generator(replace(SMALL.model, **options))
        g = with_batch_norms_far_from_identity(g, seed=1)
        with torch.no_grad():
            expected = g(z, y).view(n, 784).double().numpy()
        if expected.std() > 0.02 and (np.abs(expected) < 0.99).mean() > 0.5:  # nor saturated
            break
    else:
        raise AssertionError("no init of 20 draws pictures that vary")
    spec, weights = page_model(export.page(g, TEMPLATE, 1.0))
    yn = None if y is None else y.numpy()
    plain = page_forward(spec, weights, z.numpy(), yn)
    simd = page_forward(spec, weights, z.numpy(), yn, simd=True)
    np.testing.assert_allclose(plain, expected, atol=2e-5, rtol=0)
    np.testing.assert_allclose(simd, expected, atol=2e-5, rtol=0)
    # uint8 pixels as the page draws them: at most 1 apart from PyTorch's
    for drawn in (plain, simd):
        assert np.abs(np.round((drawn + 1) * 127.5) - np.round((expected + 1) * 127.5)).max() <= 1


# The page's own script under Node, where Node is installed: the NumPy copy above must be the
# page's arithmetic to the bit, both engines, every combination (one Node process for all).
NODE_HARNESS = """
const fs = require("fs");
let input = null;
const document = { getElementById: id => ({ textContent: input.tags[id] }) };
%s
const explorer = { simd: false };
const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8")), out = [];
for (input of cases) {
  explorer.simd = input.simd && wasm !== null;
  const model = loadModel();
  if (explorer.simd) prepare(model);
  const y = input.y && Float32Array.from(input.y);
  const x = forward(model, Float32Array.from(input.z), y, input.n);
  out.push({ simd: explorer.simd, x: Array.from(x) });
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.mark.slow
def test_node_running_the_pages_script_draws_the_numpy_copys_bits(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH (the NumPy copy is the guard; this checks the copy itself)")
    cases, expected, script = [], [], None
    z = torch.randn(6, SMALL.model.z_dim, generator=torch.Generator().manual_seed(2)).numpy()
    for options in GENERATORS.values():
        torch.manual_seed(0)
        g = with_batch_norms_far_from_identity(build_generator(replace(SMALL.model, **options)), 1)
        html = export.page(g, TEMPLATE, 1.0)
        script = html[html.index("const COLS") : html.index("// ---- drawing")]  # the template's
        tags = {
            k: re.search(rf'id="{k}">(.*?)</script>', html, re.S)[1] for k in ("model", "weights")
        }
        y = np.eye(10, dtype=np.float32)[[0, 3, 7, 9, 2, 5]] if options["conditional"] else None
        spec, weights = page_model(html)
        for simd in (False, True):
            cases.append(
                {"tags": tags, "z": z.ravel().tolist(), "n": len(z), "simd": simd}
                | {"y": None if y is None else y.ravel().tolist()}
            )
            expected.append(page_forward(spec, weights, z, y, simd=simd))
    (tmp_path / "run.js").write_text(NODE_HARNESS % script)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    result = subprocess.run(
        [node, str(tmp_path / "run.js"), str(tmp_path / "cases.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    for case, drawn, want in zip(cases, json.loads(result.stdout), expected, strict=True):
        assert drawn["simd"] == case["simd"]  # Node has WebAssembly SIMD: both engines ran
        np.testing.assert_array_equal(np.array(drawn["x"]).reshape(want.shape), want)
