"""The explorer page's speed: how long a 10x10 grid takes to redraw in headless Chromium.

    PYTHONPATH=src python bench/explorer.py [--model models/generator.pt] [-S model.arch=mlp]

Without --model, a generator of params.yaml's model section, untrained: the same layers and
work as a trained one. Prints the page's size, then for the page's WebAssembly SIMD kernels
and for its plain JavaScript layers, the median over the redraws after the first (which warms
up the JIT) of each redraw's wall time and of the CPU time the page's main thread spent on it
(Chrome's threadTicks), which other processes on a busy machine do not inflate. Needs
Playwright and Chromium (MNISTGAN_CHROMIUM, else /usr/bin/chromium), as the browser tests do.
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
from mnistgan.explorer import export
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
    page = export.page(g, Path("explorer/page.in.html").read_text(), p.sample.temperature)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        path = Path(tmp) / "index.html"
        path.write_text(page, encoding="utf-8")
        print(f"page: {path.stat().st_size / 1e6:.2f} MB ({g.config})")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(path.as_uri())
        tab.wait_for_function("window.explorer && explorer.ready")
        cdp = tab.context.new_cdp_session(tab)
        cdp.send("Performance.enable", {"timeDomain": "threadTicks"})

        def cpu_s() -> float:
            metrics = cdp.send("Performance.getMetrics")["metrics"]
            return next(m["value"] for m in metrics if m["name"] == "TaskDuration")

        for simd in (True, False):
            tab.evaluate(f"explorer.simd = {'true' if simd else 'false'} && explorer.simd")
            walls, cpus = [], []
            for _ in range(args.redraws):
                before = cpu_s()
                walls.append(tab.evaluate("explorer.redrawGrid()"))
                cpus.append((cpu_s() - before) * 1000)
            name = "WebAssembly SIMD" if simd else "plain JavaScript"
            print(
                f"{name}: 10x10 grid redraw, median of {args.redraws - 1}: "
                f"{statistics.median(walls[1:]):.0f} ms wall, "
                f"{statistics.median(cpus[1:]):.0f} ms main-thread CPU"
            )
        browser.close()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
