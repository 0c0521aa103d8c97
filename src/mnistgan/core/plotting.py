"""Training curves as a static PNG, for people on a headless server with no browser.

Drawn on a bare `Figure` (the Agg canvas, no pyplot state) and saved without the "Software"
text chunk, so identical histories give byte-identical PNGs.
"""

import io

from matplotlib.figure import Figure


def losses_png(columns: list[str], rows: list[list[float]]) -> bytes:
    """Two panels over training steps: d_loss and g_loss; D(x) on real and D(G(z)) on fake."""
    col = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    fig = Figure(figsize=(8, 6), dpi=100, layout="constrained")
    losses, outputs = fig.subplots(2, 1, sharex=True)
    losses.plot(col["step"], col["d_loss"], label="d_loss")
    losses.plot(col["step"], col["g_loss"], label="g_loss")
    losses.set(title="Generator and discriminator loss", ylabel="loss")
    outputs.plot(col["step"], col["d_real"], label="D(x), real")
    outputs.plot(col["step"], col["d_fake"], label="D(G(z)), fake")
    outputs.set(title="Discriminator outputs", xlabel="step", ylabel="mean D", ylim=(0, 1))
    for ax in (losses, outputs):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
