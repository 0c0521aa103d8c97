"""The explorer page: a generator inlined into one HTML file that draws digits in the browser.

The page runs G with its own small forward pass of this package's layers
(explorer/page.in.html; WebAssembly SIMD kernels from mnistgan.explorer.kernels, plain
JavaScript where those are missing), not a runtime library: ONNX Runtime Web is on npm, not
PyPI, so it could not reach users through `pip install -r requirements.txt` hash-pinned
without Node (docs/design.md). Here G becomes a list of ops (linear, transposed conv, 3x3
conv, relu, tanh, the mixture latent, the label embedding and its per-channel scale and
shift), every eval-mode batch norm folded into the layer before it, and its weights one
base64 float32 blob with its CRC-32, which the page checks before it draws: a corrupted page
says so instead of drawing noise.
"""

import base64
import json
import zlib
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from mnistgan.core import files
from mnistgan.core.errors import UserError
from mnistgan.explorer import card as model_card
from mnistgan.explorer.kernels import kernels
from mnistgan.gan.models import BATCH_NORMS, Generator, MixtureLatent

SPEC, WEIGHTS, KERNELS = "__MODEL_SPEC__", "__MODEL_WEIGHTS__", "__KERNELS__"  # once each


def fold(layer: nn.Module, norm: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
    """`layer`'s weight and bias with eval-mode batch norm `norm` (or None) folded in: the
    norm is a per-channel a * x + c, so it scales the layer's output channels. Computed in
    float64, stored as float32."""
    w = layer.weight.detach().double()
    out_dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # its (in, out, kh, kw) weight
    channels = w.shape[out_dim]
    b = layer.bias.detach().double() if layer.bias is not None else torch.zeros(channels).double()
    if norm is not None:
        a = norm.weight.detach().double() / (norm.running_var.double() + norm.eps).sqrt()
        c = norm.bias.detach().double() - norm.running_mean.double() * a
        w = w * a.view([-1 if d == out_dim else 1 for d in range(w.dim())])
        b = b * a + c
    return w.float(), b.float()


def ops(g: Generator) -> tuple[list[dict], list[torch.Tensor]]:
    """G as the page's list of ops, and the tensors they index (`w`, `b`: their order)."""
    out: list[dict] = []
    tensors: list[torch.Tensor] = []

    def put(t: torch.Tensor) -> int:
        tensors.append(t.detach().float().contiguous())
        return len(tensors) - 1

    if isinstance(g.mixture, MixtureLatent):
        out.append({"op": "mixture", "k": g.mixture.k, "scale": g.mixture.scale})
    if g.embed is not None:
        out.append({"op": "embed", "w": put(g.embed.weight)})
    body, films = list(g.body), iter(g.films)
    for i, layer in enumerate(body):
        after = body[i + 1] if i + 1 < len(body) else None
        norm = after if isinstance(after, BATCH_NORMS) else None
        if isinstance(layer, (nn.Linear, nn.ConvTranspose2d, nn.Conv2d)):
            w, b = fold(layer, norm)
            if isinstance(layer, nn.Linear):
                op = {"op": "linear", "in": layer.in_features, "out": layer.out_features}
            elif isinstance(layer, nn.ConvTranspose2d):
                assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
                op = {"op": "convT", "cin": layer.in_channels, "cout": layer.out_channels}
            else:
                assert (layer.kernel_size, layer.stride, layer.padding) == ((3, 3), (1, 1), (1, 1))
                op = {"op": "conv3", "cin": layer.in_channels, "cout": layer.out_channels}
            out.append(op | {"w": put(w), "b": put(b)})
        elif isinstance(layer, BATCH_NORMS):  # folded above; a conditional G's shift follows
            if g.embed is not None:
                film = next(films)
                out.append({"op": "film", "c": layer.num_features})
                out[-1] |= {"w": put(film.weight), "b": put(film.bias)}
        elif isinstance(layer, nn.ReLU):
            out.append({"op": "relu"})
        elif isinstance(layer, nn.Tanh):
            out.append({"op": "tanh"})
        elif isinstance(layer, nn.Unflatten):
            if after is not None:  # dcgan's 7x7 maps; mlp's last one leaves pixels as they are
                c, h, w_ = layer.unflattened_size
                out.append({"op": "planes", "c": c, "height": h, "width": w_})
        else:
            raise ValueError(f"the explorer page cannot run a {type(layer).__name__} layer")
    return out, tensors


def read_template(path: str | Path) -> str:
    """The page template at `path`, UTF-8 text holding each marker once, or a UserError
    naming it (as the plots page's template is read: mnistgan.core.plots_page)."""
    restore = f": restore it with `git checkout -- {path}`"
    template = files.read_text(path, "the explorer template", missing=restore)
    for marker in (SPEC, WEIGHTS, KERNELS):
        if (count := template.count(marker)) != 1:
            raise UserError(f"{path}: holds {marker} {count} times, expected once{restore}")
    return template


def page(g: Generator, template: str, temperature: float, card: dict | None = None) -> str:
    """The explorer page of generator `g` (eval mode): `template` with SPEC and WEIGHTS
    filled in, SPEC holding `card` (mnistgan.explorer.card; None: one from g's config alone);
    the same inputs give the same bytes."""
    for marker in (SPEC, WEIGHTS, KERNELS):
        if template.count(marker) != 1:
            raise ValueError(f"the explorer template must contain {marker} exactly once")
    g.eval()
    layer_ops, tensors = ops(g)
    offsets, at = [], 0
    for t in tensors:
        offsets.append(at)
        at += t.numel()
    for op in layer_ops:  # tensor numbers -> offsets into the blob, in floats
        for key in ("w", "b"):
            if key in op:
                op[key] = offsets[op[key]]
    blob = torch.cat([t.flatten() for t in tensors]).numpy().astype("<f4").tobytes()
    spec = {
        "arch": g.config.arch,
        "z_dim": g.config.z_dim,
        "conditional": g.config.conditional,
        "temperature": temperature,
        "ops": layer_ops,
        "bytes": len(blob),
        "crc32": zlib.crc32(blob),
        "card": card if card is not None else model_card.card(asdict(g.config)),
    }
    # inside <script>, a "<" could end the element (</script>): JSON's own \u003c reads back as "<"
    text = json.dumps(spec, sort_keys=True, separators=(",", ":")).replace("<", "\\u003c")
    page = template.replace(KERNELS, base64.b64encode(kernels()).decode("ascii"))
    return page.replace(SPEC, text).replace(WEIGHTS, base64.b64encode(blob).decode("ascii"))
