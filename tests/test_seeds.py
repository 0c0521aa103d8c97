"""python -m mnistgan seeds: recipes from -S choices, runs found by their params, each
metric's mean and spread by hand, targets judged on the mean, and only missing runs queued."""

import os

import pytest

from mnistgan.core import params
from mnistgan.core.errors import UserError
from mnistgan.search import experiments, seeds
from mnistgan.search.experiments import Experiment

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_recipes_are_every_combination_of_the_choices():
    assert seeds.recipes([]) == [{}]
    assert seeds.recipes(["model.conditional=false,true", "train.amp=null"]) == [
        {"model.conditional": False, "train.amp": None},
        {"model.conditional": True, "train.amp": None},
    ]
    assert len(seeds.recipes(["a=1,2,3", "b=x,y"])) == 6


def test_spread_is_the_mean_the_sample_deviation_and_the_range():
    mean, sd, lo, hi = seeds.spread([1.0, 2.0, 6.0])
    assert mean == 3.0 and (lo, hi) == (1.0, 6.0)
    assert sd == pytest.approx(((4 + 1 + 9) / 2) ** 0.5)  # n - 1 = 2
    assert seeds.spread([4.0]) == (4.0, 0.0, 4.0, 4.0)
    assert seeds.cell([1.0, 2.0, 6.0]) == "3 ± 2.6 [1, 6]"


def run(name, state="success", seed=0, fid=4.0, real_fid=2.0, **values) -> Experiment:
    metrics = {"fid": fid, "val_fid": fid + 0.1, "real_fid": real_fid, "precision": 0.9}
    values = {"train.seed": seed, "train.lr_g": 0.001} | values
    return Experiment(name, state, values, metrics if state == "success" else {})


def test_a_run_matches_on_every_param_and_a_finished_one_comes_first():
    want = {"train.seed": 1, "train.lr_g": 0.001}
    found = {
        "a": run("a", seed=0),
        "b": run("b", state="queued", seed=1),
        "c": run("c", seed=1),
        "d": run("d", seed=1, **{"train.lr_g": 0.002}),
        "e": run("e", state="failed", seed=1),
    }
    assert seeds.match(found, want).name == "c"
    del found["c"]
    assert seeds.match(found, want).name == "b"
    del found["b"]
    assert seeds.match(found, want) is None  # a failed run is no run


def test_targets_are_judged_on_the_mean_with_the_spread_beside():
    # FID target 3x the floor: 6.0 on the mean floor 2.0; the mean 5.5 holds, one seed does not
    runs = [run(f"s{s}", seed=s, fid=f) for s, f in enumerate((4.5, 5.5, 6.5))]
    text = seeds.table([({"model.conditional": False}, runs)])
    assert "model.conditional=False, targets on the mean:" in text
    assert "FID: mean 5.5 ± 1 <= 6: yes (not on every seed)" in text
    assert "precision: mean 0.9 ± 0 >= 0.85: yes" in text
    lines = text.splitlines()
    assert lines[1].split() == ["seeds", "3"]
    assert lines[2].startswith("val_fid") and "5.6 ± 1 [4.6, 6.6]" in lines[2]
    worse = [run(f"s{s}", seed=s, fid=f) for s, f in enumerate((6.5, 6.1, 5.9))]
    assert "FID: mean 6.167 ± 0.31 <= 6: NO" in seeds.table([({}, worse)])


def flat_params() -> dict:
    raw = params.read(os.path.join(REPO, "params.yaml"))
    return {k.rstrip("."): v for k, v in experiments.flat(raw).items()}


class FakeQueue:
    """Experiments as `dvc exp show` lists them, with every param; a queued one ends at the
    next look."""

    def __init__(self, found):
        self.found, self.queued = dict(found), []

    def queue(self, name, values):
        self.queued.append((name, values))
        self.found[name] = run(name, state="queued", **(flat_params() | values))

    def show(self, baselines):
        shown = dict(self.found)
        ended = {n: run(n, **e.params) for n, e in shown.items() if e.state == "queued"}
        self.found |= ended
        return shown


def test_only_missing_runs_are_queued_and_every_run_is_reported(monkeypatch, tmp_path):
    (tmp_path / "params.yaml").write_text(open(os.path.join(REPO, "params.yaml")).read())
    monkeypatch.chdir(tmp_path)
    base = flat_params()
    done = run("old", **base)  # seed 0 of the default, trained before
    other = run("other", **(base | {"train.seed": 1, "train.lr_g": 0.5}))
    fake = FakeQueue({"old": done, "other": other})
    monkeypatch.setattr(experiments, "head", lambda: "abc")
    monkeypatch.setattr(experiments, "queue", fake.queue)
    monkeypatch.setattr(experiments, "show", fake.show)
    monkeypatch.setattr(experiments, "start_workers", lambda jobs: None)
    monkeypatch.setattr(seeds, "LOOK_EVERY", 0)
    lines = []
    text = seeds.run(["model.conditional=false"], [0, 1, 2], 2, True, lines.append)
    assert [v["train.seed"] for _, v in fake.queued] == [1, 2]  # not 0, nor "other"'s seed 1
    assert all(v["model.conditional"] is False for _, v in fake.queued)
    assert text.splitlines()[1].split() == ["seeds", "3"]
    with pytest.raises(UserError, match=r"^--seeds: got \[1, 1\], expected distinct"):
        seeds.run([], [1, 1], 1, True, lines.append)
    with pytest.raises(UserError, match=r"^-S train\.nope: not a params\.yaml key$"):
        seeds.run(["train.nope=1"], [0], 1, True, lines.append)
