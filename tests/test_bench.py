"""bench/throughput.py runs end to end and prints the figures it promises (not a timed test)."""

import json

import pytest
from conftest import REPO, run


@pytest.mark.slow  # runs the benchmark script
def test_throughput_script_prints_its_figures(idx_folder):  # idx_folder: skip without digits
    result = run(["python", str(REPO / "bench/throughput.py"), "--images", "256"], REPO)
    out = json.loads(result.stdout)
    keys = {
        "project_images_per_s",
        "naive_images_per_s",
        "speedup",
        "gflops",
        "peak_gflops",
        "peak_rss_mb",
    }
    for arch in ("mlp", "dcgan"):
        assert keys <= out[arch].keys()
        assert out[arch]["project_images_per_s"] > 0 and out[arch]["gflops"] > 0
