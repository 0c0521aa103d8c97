"""The explorer page's speed: how long a 10x10 grid takes to redraw in headless Chromium.

    PYTHONPATH=src python bench/explorer.py [--model models/generator.pt] [-S model.arch=mlp]

Without --model, a generator of params.yaml's model section, untrained: the same layers and
work as a trained one. Prints the page's size and each redraw's time (the first one warms up
the JIT), then the median of the rest. Needs Playwright and Chromium (MNISTGAN_CHROMIUM, else
/usr/bin/chromium), as the browser tests do.
"""

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import torch
import yaml

from mnistgan.core import params
from mnistgan.core.checkpoint import load_model
from mnistgan.gan import explorer
from mnistgan.gan.models import GeneratorConfig, build_generator

CHROMIUM = os.environ.get("MNISTGAN_CHROMIUM", "/usr/bin/chromium")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a generator file (default: untrained, from params)")
    parser.add_argument("-S", dest="overrides", action="append", default=[])
    parser.add_argument("--redraws", type=int, default=11)
    args = parser.parse_args()
    raw = yaml.load(open("params.yaml"), params.Loader)
    for item in args.overrides:
        key, value = item.split("=", 1)
        section, name = key.split(".")
        raw[section][name] = yaml.safe_load(value)
    p = params.parse(raw)
    if args.model:
        g, _ = load_model(args.model, "generator", build_generator, GeneratorConfig)
    else:
        torch.manual_seed(0)
        g = build_generator(p.model)
    page = explorer.page(g, Path("explorer/page.in.html").read_text(), p.sample.temperature)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        path = Path(tmp) / "index.html"
        path.write_text(page, encoding="utf-8")
        print(f"page: {path.stat().st_size / 1e6:.2f} MB ({g.config})")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(path.as_uri())
        tab.wait_for_function("window.explorer && explorer.ready")
        times = [tab.evaluate("explorer.redrawGrid()") for _ in range(args.redraws)]
        browser.close()
    print("10x10 grid redraws, ms:", " ".join(f"{t:.0f}" for t in times))
    print(f"median after the first: {statistics.median(times[1:]):.0f} ms")


if __name__ == "__main__":
    main()
