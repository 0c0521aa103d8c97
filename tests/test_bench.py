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
        fig = out[arch]
        assert keys <= fig.keys()
        assert fig["project_images_per_s"] > 0 and fig["naive_images_per_s"] > 0
        # the speedup is the ratio of the two rates (each rounded to 0.1 image/s)
        ratio = fig["project_images_per_s"] / fig["naive_images_per_s"]
        assert fig["speedup"] == pytest.approx(ratio, rel=0.01, abs=0.01)
        assert fig["gflops"] > 0 and fig["peak_gflops"] > 0 and fig["peak_rss_mb"] > 100


@pytest.mark.slow  # runs the benchmark script: three short epochs, one beside a busy process
def test_contention_script_prints_its_figures(real_mnist):
    cmd = ["python", str(REPO / "bench/contention.py"), "--images", "256"]
    out = json.loads(run([*cmd, "--source", str(real_mnist)], REPO).stdout)
    assert out["cpu"] and out["images"] == 256
    for name in ("alone_threads_null", "busy_threads_null", "busy_threads_1"):
        assert out[name]["seconds"] > 0 and out[name]["line"].startswith("epoch 1/1: d_loss ")
    assert out["busy_threads_1"]["threads"] == 1
