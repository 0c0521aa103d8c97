"""The search loop against a faked DVC queue, whose experiments end in an order a seed picks:
the same seed proposes the same trials whatever that order and however often the search is
stopped; a failed trial is told as failed with its reason and the search goes on; a trial
lost in flight is queued again, and no finished one runs twice."""

import argparse
import math
import random

import optuna
import pytest
import yaml
from conftest import small_raw
from optuna.trial import TrialState

from mnistgan.core.errors import UserError
from mnistgan.search import cli, experiments, report, space, study
from mnistgan.search.experiments import Experiment

SPEC_FLAGS = ["train.lr_g=log:1e-4..1e-1", "train.batch_size=int:16..256"]
SPEC = space.load(None, SPEC_FLAGS, ["val_fid=min"], ["train.threads=1"])
TWO = space.load(None, SPEC_FLAGS, ["val_fid=min", "train_seconds=min"], ["train.threads=1"])


def fid(values: dict) -> float:
    """A made-up FID: best at lr_g 1e-3, batch 64."""
    return (math.log10(values["train.lr_g"]) + 3) ** 2 + abs(values["train.batch_size"] - 64) / 64


class FakeDVC:
    """DVC's queue: each look, every experiment in flight ends with probability 1/2; one with
    lr_g above `diverges` fails, as a diverged training would."""

    def __init__(self, order: int, diverges: float = 1.0):
        self.exps: dict[str, Experiment] = {}
        self.runs: list[str] = []  # names, in the order they were queued
        self.rng, self.diverges = random.Random(order), diverges
        self.looks = 0
        self.interrupt_at = None  # a look at which Ctrl-C comes
        self.removed: list[str] = []  # experiments removed from the queue

    def queue(self, name: str, values: dict) -> None:
        assert name not in self.exps
        self.exps[name] = Experiment(name, "queued", dict(values), {})
        self.runs.append(name)

    def show(self, baselines: list[str]) -> dict[str, Experiment]:
        assert baselines and set(baselines) == {"c0ffee"}
        self.looks += 1
        assert self.looks < 1000, "the search looks on and on"
        if self.looks == self.interrupt_at:
            raise KeyboardInterrupt
        for name, e in self.exps.items():
            if e.state in ("queued", "running") and self.rng.random() < 0.5:
                failed = e.params["train.lr_g"] > self.diverges
                metrics = (
                    {}
                    if failed
                    else {
                        "val_fid": fid(e.params) + e.params.get("train.seed", 0) / 4,
                        "train_seconds": e.params["train.batch_size"],
                    }
                )
                self.exps[name] = Experiment(
                    name, "failed" if failed else "success", e.params, metrics
                )
        return dict(self.exps)

    def stop(self, running: list[str], queued: list[str]) -> None:
        """`dvc queue remove` the queued ones, then `dvc queue kill` the rest: failed rows."""
        for name in queued:
            if self.exps[name].state == "queued":
                del self.exps[name]
        for name in running:
            if name in self.exps and self.exps[name].state in ("queued", "running"):
                self.exps[name] = Experiment(name, "failed", self.exps[name].params, {})

    def remove(self, names: list[str]) -> None:
        for name in names:
            assert self.exps[name].state in ("queued", "failed"), name
            self.removed.append(name)
            del self.exps[name]


@pytest.fixture
def fake(monkeypatch, tmp_path):
    def install(dvc: FakeDVC) -> FakeDVC:
        monkeypatch.setattr(experiments, "queue", dvc.queue)
        monkeypatch.setattr(experiments, "show", dvc.show)
        monkeypatch.setattr(experiments, "stop", dvc.stop)
        monkeypatch.setattr(experiments, "remove", dvc.remove)
        monkeypatch.setattr(experiments, "head", lambda: "c0ffee")
        monkeypatch.setattr(experiments, "start_workers", lambda jobs: None)
        monkeypatch.setattr(experiments, "workers", lambda: 2)
        monkeypatch.setattr(experiments, "failure", lambda name: "train: loss is nan")
        return dvc

    monkeypatch.setattr(study, "FOLDER", tmp_path / "search")
    monkeypatch.setattr(study, "POLL", 0)
    return install


def search(name: str, seed: int = 0, jobs: int = 3) -> study.Search:
    return study.Search(study.create(name, SPEC), SPEC, seed, jobs, log_line=lambda line: None)


def proposals(name: str) -> list[dict]:
    return [t.params for t in search(name).trials()]


def test_the_same_seed_proposes_the_same_trials_whatever_order_they_end_in(fake):
    for order in (1, 2):
        fake(FakeDVC(order))
        search(f"order{order}").run(14)  # past TPE's 10 random trials: the model proposes too
    assert proposals("order1") == proposals("order2")
    fake(FakeDVC(1))
    search("other", seed=1).run(14)
    assert proposals("other") != proposals("order1")


def test_each_trial_is_an_experiment_with_its_params_and_metrics(fake):
    dvc = fake(FakeDVC(0))
    search("s").run(5)
    trials = search("s").trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert dvc.runs == [f"s-{n}" for n in range(5)]
    for t in trials:
        exp = dvc.exps[t.user_attrs["experiment"]]
        assert exp.params == {"train.threads": 1} | t.params
        assert t.values == [fid(exp.params)]
    # a second run with more trials runs only those
    search("s").run(7)
    assert dvc.runs == [f"s-{n}" for n in range(7)]


def test_a_failed_trial_is_told_with_its_reason_and_the_search_goes_on(fake):
    fake(FakeDVC(0, diverges=0.01))
    search("f").run(12)
    trials = search("f").trials()
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and len(trials) == 12
    assert all(t.params["train.lr_g"] > 0.01 for t in failed)
    assert all(t.user_attrs["error"] == "train: loss is nan" for t in failed)
    table = report.table(search("f").study, SPEC.objectives)
    assert f"({12 - len(failed)} done, {len(failed)} failed, 0 in flight)" in table


def test_a_stopped_search_continues_as_if_never_stopped(fake):
    fake(FakeDVC(3))
    search("whole").run(9)
    dvc = fake(FakeDVC(3))
    dvc.interrupt_at = 4
    stopped = search("cut")
    with pytest.raises(KeyboardInterrupt):
        stopped.run(9)
    in_flight = stopped.stop()
    killed = [n for n in in_flight if n not in dvc.exps]  # removed; the rest had ended
    assert killed and all(dvc.exps[n].state == "success" for n in set(in_flight) - set(killed))
    search("cut").run(9)  # the same command again
    assert proposals("cut") == proposals("whole")
    assert [t.state for t in search("cut").trials()] == [TrialState.COMPLETE] * 9
    # the killed ones ran again under new names; none that had ended ran twice
    assert sorted(n for n in dvc.runs if n.endswith("-r1")) == sorted(f"{n}-r1" for n in killed)
    assert len(dvc.runs) == 9 + len(killed)


def test_a_trial_lost_from_the_queue_is_queued_again(fake):
    dvc = fake(FakeDVC(5))
    real_show = dvc.show

    def show(baselines):
        shown = real_show(baselines)
        if "lost-1" in dvc.exps and dvc.exps["lost-1"].state == "queued":
            del dvc.exps["lost-1"]  # `dvc queue remove`, or a broker wiped
            shown.pop("lost-1")
        return shown

    experiments.show = show  # the fixture's monkeypatch restores it
    search("lost", jobs=2).run(3)
    trials = search("lost").trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert trials[1].user_attrs["experiment"] == "lost-1-r1"
    assert dvc.runs == ["lost-0", "lost-1", "lost-1-r1", "lost-2"]


def test_a_study_keeps_its_spec(fake):
    fake(FakeDVC(0))
    search("kept").run(1)
    other = space.load(None, ["train.lr_g=log:1e-4..1e-2"], ["val_fid=min"], [])
    with pytest.raises(space.UserError, match="another space, objectives, set values or --rep"):
        study.create("kept", other)
    with pytest.raises(space.UserError, match="another space, objectives, set values or --rep"):
        study.create("kept", space.Spec(SPEC.space, SPEC.objectives, SPEC.fixed, repeats=2))


def test_looks_grow_sparse_while_no_trial_ends_and_frequent_after_one_does(fake, monkeypatch):
    """Each look is a `dvc exp show` taking CPU from the trials: 5 s after a trial ends, then
    each wait 1.5 times the last, up to 30 s."""
    monkeypatch.setattr(study, "POLL", 5.0)
    dvc = fake(FakeDVC(0))
    waits = []
    monkeypatch.setattr(study, "pause", lambda seconds, wake: waits.append(seconds))
    ends_at = {9, 11}  # the looks at which the one trial in flight ends
    show = dvc.show

    def slow_show(baselines):
        dvc.rng.random = lambda: 0.0 if dvc.looks + 1 in ends_at else 1.0
        return show(baselines)

    monkeypatch.setattr(experiments, "show", slow_show)
    search("sparse", jobs=1).run(2)
    assert waits == [5.0, 7.5, 11.25, 16.875, 25.3125, 30.0, 30.0, 5.0, 7.5]


def test_each_done_line_names_the_best_trial_so_far(fake):
    fake(FakeDVC(0, diverges=0.01))
    lines = []
    study.Search(study.create("log", SPEC), SPEC, 0, 3, log_line=lines.append).run(12)
    done = [line for line in lines if " done: " in line]
    told = []  # (fid, trial) in the order they were told
    for line in done:
        number = int(line.split()[1])
        trial = search("log").trials()[number]
        told.append((trial.values[0], number))
        fid_, best = min(told)
        assert line.endswith(f"; best so far: trial {best}, val_fid={fid_:.4g}"), line
    assert len(done) == len([t for t in search("log").trials() if t.values])


def test_with_two_objectives_each_done_line_counts_the_pareto_front_and_a_plot_is_drawn(fake):
    fake(FakeDVC(0))
    lines = []
    two = study.Search(study.create("two", TWO), TWO, 0, 3, log_line=lines.append)
    two.run(12)
    told = []  # (val_fid, train_seconds) in the order they were told
    for line in (line for line in lines if " done: " in line):
        told.append(two.trials()[int(line.split()[1])].values)
        front = [a for a in told if not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in told)]
        assert line.endswith(f"; trials on the Pareto front: {len(front)}"), line
    assert len(told) == 12 and 1 < len(front) < 12
    assert report.plot_png(two.study, TWO.objectives)[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_task_dvc_left_running_with_no_worker_is_stopped_and_queued_again(fake, monkeypatch):
    """DVC's queue can mark a task running that no worker runs; every `dvc exp show` then
    fails on its missing info file (experiments.Orphan) until it is killed."""
    dvc = fake(FakeDVC(0))
    show, lost = dvc.show, []

    def show_with_an_orphan(baselines):
        if dvc.looks == 3 and not lost:  # the 4th look: one in flight is the orphan
            lost.append(next(n for n, e in dvc.exps.items() if e.state in ("queued", "running")))
            raise experiments.Orphan("abc1234def")
        return show(baselines)

    monkeypatch.setattr(experiments, "show", show_with_an_orphan)
    monkeypatch.setattr(experiments, "task_name", lambda rev: {"abc1234def": lost[0]}[rev])
    lines = []
    study.Search(study.create("s", SPEC), SPEC, 0, 3, log_line=lines.append).run(5)
    orphan = lost[0]
    assert f"{orphan}: DVC's queue says it runs, but no worker runs it: stopped" in lines
    assert orphan in dvc.removed and orphan not in dvc.exps  # killed, then its failed row removed
    assert dvc.runs.count(f"{orphan}-r1") == 1 and len(dvc.runs) == 6
    trials = search("s").trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert trials[int(orphan.split("-")[1])].user_attrs["experiment"] == f"{orphan}-r1"


def test_trials_dvc_shows_running_after_their_workers_died_are_queued_again(fake, monkeypatch):
    """After a reboot, DVC's queue still says the trials in flight run, though no worker is
    alive: they are stopped and queued again once two checks in a row find no worker."""
    dvc = fake(FakeDVC(0))
    clock, checks, alive = [0.0], [], iter([0, 2, 0, 0])  # a worker between: a passing state
    monkeypatch.setattr(study.time, "monotonic", lambda: clock[0])
    show, stop = dvc.show, dvc.stop

    def show_as_after_a_reboot(baselines):
        clock[0] += 50
        if len(checks) < 4:  # nothing ends, what was queued shows as running
            for name, e in dvc.exps.items():
                dvc.exps[name] = Experiment(name, "running", e.params, {})
            return dict(dvc.exps)
        return show(baselines)

    def workers():
        checks.append(clock[0])
        return next(alive, 2)

    killed = []
    monkeypatch.setattr(experiments, "show", show_as_after_a_reboot)
    monkeypatch.setattr(experiments, "workers", workers)
    monkeypatch.setattr(
        experiments, "stop", lambda r, q: killed.append((clock[0], r)) or stop(r, q)
    )
    lines = []
    study.Search(study.create("s", SPEC), SPEC, 0, 3, log_line=lines.append).run(5)
    assert all(b - a >= study.WORKER_CHECK for a, b in zip(checks, checks[1:], strict=False))
    assert killed == [(checks[3], ["s-0", "s-1", "s-2"])]  # at the second check in a row
    for name in ("s-0", "s-1", "s-2"):
        assert f"{name}: DVC's queue says it runs, but no worker is alive: stopped" in lines
        assert f"{name}-r1" in dvc.runs
    trials = search("s").trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert [t.user_attrs["experiment"] for t in trials][:3] == ["s-0-r1", "s-1-r1", "s-2-r1"]


ORPHAN_ERROR = (  # DVC's last line, as the search saw it
    "dvc exp show: unexpected error - [Errno 2] No such file or directory: '/r/.dvc/tmp/exps/run/"
    "16185e38e1282f581aff97ff2ae8ccd94b613a48/16185e38e1282f581aff97ff2ae8ccd94b613a48.run'"
)


@pytest.mark.parametrize(
    "error, after",
    [
        (ORPHAN_ERROR, experiments.ORPHAN_AFTER),
        (ORPHAN_ERROR.replace("/", "\\\\"), experiments.ORPHAN_AFTER),  # Windows, as repr shows
        ("dvc exp show: Empty git repo", experiments.SHOW_PATIENCE),  # a worker setting up
    ],
)
def test_show_asks_again_until_a_missing_run_file_has_been_missing_a_minute(
    monkeypatch, error, after
):
    clock = [0.0]
    monkeypatch.setattr(experiments.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(experiments.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))

    def failing(args, timeout, check=True):
        raise UserError(error)

    monkeypatch.setattr(experiments, "dvc", failing)
    with pytest.raises((experiments.Orphan, UserError)) as raised:
        experiments.show(["c0ffee"])
    assert after < clock[0] <= after + 5
    if after == experiments.ORPHAN_AFTER:
        assert raised.value.rev == "16185e38e1282f581aff97ff2ae8ccd94b613a48"
    else:
        assert not isinstance(raised.value, experiments.Orphan)


def test_task_name_reads_the_queue_status(monkeypatch):
    status = (
        "Task     Name              Created    Status\n"
        "16185e3  unconditional-18  05:52 PM   Running\n"
        "f3d0408  unconditional-0   03:55 PM   Success\n"
        "\n"
        "Worker status: 0 active, 0 idle\n"
    )
    monkeypatch.setattr(experiments, "dvc", lambda args, timeout, check=True: status)
    assert experiments.task_name("16185e38e1282f58") == "unconditional-18"
    assert experiments.task_name("f3d0408aa") == "unconditional-0"
    assert experiments.task_name("0123456789") == "0123456789"
    assert experiments.workers() == 0
    status = status.replace("0 active, 0 idle", "2 active, 1 idle")
    assert experiments.workers() == 3


def hand_built(values: list, directions: list[str], params: list[dict] | None = None):
    """A study of finished trials with these objective values (a list each, or one number)."""
    found = optuna.create_study(directions=directions)
    dist = {"train.lr_g": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    for n, v in enumerate(values):
        p = params[n] if params else {"train.lr_g": 10 ** -(1 + n % 3)}
        trial = optuna.trial.create_trial(
            params=p, distributions=dist if params is None else space_of(p),
            values=v if isinstance(v, list) else [v],
        )  # fmt: skip
        found.add_trial(trial)
    return found


def space_of(p: dict) -> dict:
    return {k: optuna.distributions.CategoricalDistribution([v]) for k, v in p.items()}


def off_the_scale(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_text().startswith("off the scale")]


def test_the_plot_cuts_far_values_only_on_the_bad_side_and_keeps_the_best():
    # inclusive quartiles of the five: 4 and 5, so within [4 - 3, 5 + 3]; padded by 10%
    assert report.limits([3.5, 4, 4.5, 5, 252], "minimize") == pytest.approx((3.35, 5.15))
    assert report.limits([3.5, 4, 4.5, 5, 12], "minimize") == pytest.approx((3.35, 5.15))
    assert report.limits([3.5, 4, 4.5, 5, 6], "minimize") is None  # nothing far off
    assert report.limits([3.5, 252, 4], "minimize") is None  # too few to say what is far
    # far on the good side: kept (the best trial), nothing cut
    assert report.limits([-10, 3.5, 4, 4.5, 5], "minimize") is None
    # maximising, the bad side is the low one: quartiles 3.5, 4.5, so above 3.5 - 3
    assert report.limits([-10, 3.5, 4, 4.5, 5], "maximize") == pytest.approx((3.35, 5.15))
    assert report.limits([3.5, 4, 4.5, 5, 252], "maximize") is None
    # a value to keep (the Pareto front's) widens the limits
    assert report.limits([3.5, 4, 4.5, 5, 252], "minimize", [20]) == pytest.approx((1.85, 21.65))

    fids = [5.03, 7.48, 4.48, 252.2, 3.53, 3.47]  # trials 0-5, trial 3 collapsed
    ax = report.figure(hand_built(fids, ["minimize"]), [space.Objective("fid", "minimize")]).axes[0]
    low, high = report.limits(fids, "minimize")
    assert ax.get_ylim() == pytest.approx((low, high)) and high < 8
    assert off_the_scale(ax) == ["off the scale: 3 (252.2)"]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_the_best_trial_is_on_the_plot_even_far_from_the_others(direction):
    """A best trial far off on the good side was cut as an outlier: the answer, off the plot."""
    sign = 1 if direction == "minimize" else -1
    fids = [sign * v for v in [5.03, 7.48, 4.48, 252.2, 3.53, 4.1, -40.0, 4.6]]  # trial 6 best
    found = hand_built(fids, [direction])
    ax = report.figure(found, [space.Objective("val_fid", direction)]).axes[0]
    low, high = ax.get_ylim()
    assert low < fids[6] < high and found.best_trial.number == 6
    assert off_the_scale(ax) == [f"off the scale: 3 ({fids[3]:.4g})"]  # the bad one only
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["trial", "best so far", f"best: trial 6, {fids[6]:.4g}"]
    (best_so_far,) = [line for line in ax.lines if line.get_label() == "best so far"]
    pick = min if direction == "minimize" else max
    assert list(best_so_far.get_ydata()) == [pick(fids[: i + 1]) for i in range(len(fids))]


def test_the_pareto_front_stays_on_the_plot_and_each_param_gets_a_slice():
    # two objectives, both minimised; trial 3's train_seconds is far off but it is on the front
    values = [[5, 50], [6, 60], [4.5, 55], [3.9, 900], [5.5, 52], [4.8, 58], [300, 70]]
    found = hand_built(values, ["minimize", "minimize"])
    objectives = [
        space.Objective("val_fid", "minimize"),
        space.Objective("train_seconds", "minimize"),
    ]
    fig = report.figure(found, objectives)
    ax = fig.axes[0]
    assert {t.number for t in found.best_trials} >= {0, 3}
    assert ax.get_ylim()[0] < 50 and 900 < ax.get_ylim()[1]  # the front's 900 kept
    assert ax.get_xlim()[1] < 300  # trial 6, off on the bad side, cut
    assert off_the_scale(ax) == ["off the scale: 6 (300 / 70)"]
    # importance (one bar set per objective) and one slice of the one param
    assert [a.get_xlabel() for a in fig.axes[1:]] == ["importance (Optuna)", "train.lr_g"]


def test_with_fewer_than_two_trials_done_the_plot_is_the_history_alone():
    for values in ([], [3.0]):
        fig = report.figure(
            hand_built(values, ["minimize"]), [space.Objective("val_fid", "minimize")]
        )
        assert len(fig.axes) == 1
        assert report.plot_png(hand_built(values, ["minimize"]), SPEC.objectives)[:4] == b"\x89PNG"
    # two trials whose params never varied: importance says why, the slices still draw
    same = hand_built([3.0, 4.0], ["minimize"], params=[{"train.loss": "bce"}] * 2)
    fig = report.figure(same, [space.Objective("val_fid", "minimize")])
    assert [a.get_xlabel() for a in fig.axes] == ["trial", "", "train.loss"]


def test_the_study_names_its_objectives_for_optunas_dashboard(fake):
    fake(FakeDVC(0))
    assert search("named").study.metric_names == ["val_fid"]
    assert study.create("two", TWO).metric_names == ["val_fid", "train_seconds"]
    reloaded = optuna.load_study(study_name="two", storage=study.storage("two"))
    assert reloaded.metric_names == ["val_fid", "train_seconds"]


def test_each_seed_is_a_stream_of_its_own(fake):
    """Seeded by seed + trial number, --seed 3 proposed trials 3, 4, ... of --seed 0."""
    fake(FakeDVC(0))
    search("zero", seed=0).run(8)
    search("three", seed=3).run(8)
    zero, three = (
        {tuple(sorted(p.items())) for p in proposals(name)} for name in ("zero", "three")
    )
    assert len(zero) == len(three) == 8 and not zero & three


def test_a_trial_is_queued_again_only_once_gone_from_two_looks_in_a_row(fake, monkeypatch):
    """One look can fall between two of DVC's states; two in a row cannot."""
    dvc = fake(FakeDVC(0))
    gone = search("gone", jobs=1)
    gone.ask()
    queued = {"gone-0": Experiment("gone-0", "queued", {}, {})}
    runs = []  # experiments queued in all, after each look
    for present in (True, False, True, False, False):
        monkeypatch.setattr(experiments, "show", lambda b, shown=queued if present else {}: shown)
        gone.look(gone.trials(TrialState.RUNNING))
        runs.append(len(dvc.runs))
    assert runs == [1, 1, 1, 1, 2]  # not at the first absence, nor at a second one not in a row
    assert dvc.runs == ["gone-0", "gone-0-r1"]


def test_an_orphan_that_outlives_its_kills_stops_the_search_in_one_line(fake, monkeypatch):
    dvc = fake(FakeDVC(0))
    kills = []

    def show_with_a_stuck_orphan(baselines):
        if len(kills) > 10:
            raise AssertionError("the search kept killing it")
        raise experiments.Orphan("abc1234def")

    monkeypatch.setattr(experiments, "show", show_with_a_stuck_orphan)
    monkeypatch.setattr(experiments, "task_name", lambda rev: {"abc1234def": "s-0"}[rev])
    monkeypatch.setattr(experiments, "stop", lambda running, queued: kills.append(running))
    with pytest.raises(UserError) as e:
        search("s", jobs=1).run(2)
    assert kills == [["s-0"]] * study.ORPHAN_KILLS == [["s-0"]] * 3
    assert str(e.value) == (
        "s-0: DVC's queue says it runs, with no worker, and 3 kills did not end it; "
        "run `dvc queue kill --force s-0`, else `dvc exp remove s-0`, then this command again"
    )
    assert dvc.runs == ["s-0"]


@pytest.fixture
def workdir(fake, tmp_path, monkeypatch):
    """The fake queue, run from a folder with small params: the command as a user runs it."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small_raw()))
    monkeypatch.chdir(tmp_path)
    return fake


def command(*argv: str) -> argparse.Namespace:
    """`python -m mnistgan search` with SPEC's space and set values, and `argv`."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    flags = [arg for flag in SPEC_FLAGS for arg in ("-p", flag)]
    return parser.parse_args([*flags, "-S", "train.threads=1", *argv])


def test_a_misspelt_objective_is_refused_before_anything_is_queued(workdir):
    dvc = workdir(FakeDVC(0))
    with pytest.raises(UserError) as e:
        cli.main(command("-o", "fdi=min", "--trials", "2"))
    assert str(e.value) == "objective fdi: not a metric of the pipeline; did you mean val_fid?"
    assert dvc.runs == []


def test_a_study_of_the_test_fid_still_shows_but_no_search_continues_it(workdir, capsys):
    """Studies written before objectives had to be validation metrics: shown, not extended."""
    dvc = workdir(FakeDVC(0))
    old = space.Spec(SPEC.space, [space.Objective("fid", "minimize")], SPEC.fixed)
    params = {"train.lr_g": 0.001, "train.batch_size": 64}
    study.create("old", old).add_trial(
        optuna.trial.create_trial(
            params=params, distributions=SPEC.space, value=4.5, user_attrs={"experiment": "old-0"}
        )
    )
    cli.main(command("--name", "old", "--show"))
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].endswith("(1 done, 0 failed, 0 in flight); fid (lower is better)")
    assert shown[2].split() == ["0", "old-0", "4.5", "0.001", "64", "dvc", "exp", "apply", "old-0"]
    with pytest.raises(UserError, match="^objective fid: scored on the test split, which rep"):
        cli.main(command("--name", "old", "-o", "fid=min"))
    with pytest.raises(UserError, match="old.journal: this study searched another space, obj"):
        cli.main(command("--name", "old"))  # val_fid, the default objective now
    assert dvc.runs == []


@pytest.mark.parametrize(
    "name", ["../../docs/samples", "{tmp}/x", "a/b", ".hidden", "a..b", "", "x" * 101]
)
@pytest.mark.parametrize("show", [False, True])
def test_a_study_name_is_a_name_not_a_path(workdir, tmp_path, monkeypatch, name, show):
    """The journal and the plot stay in search/: nothing outside it is read or written."""
    dvc = workdir(FakeDVC(0))
    monkeypatch.setattr(study, "FOLDER", tmp_path / "a/b/search")  # a path's reach: tmp_path
    name = name.format(tmp=tmp_path)
    argv = ["--name", name, "--trials", "1", *(["--show"] if show else [])]
    with pytest.raises(UserError) as e:
        cli.main(command(*argv))
    assert str(e.value) == (
        f"--name {name}: a study's name, not a path: up to 100 letters, digits, '.', '_' or "
        "'-', the first a letter or digit, no '..'"
    )
    assert dvc.runs == [] and list(tmp_path.rglob("*.journal")) == []


def test_a_spec_file_whose_name_is_no_study_name_asks_for_one(workdir, tmp_path):
    workdir(FakeDVC(0))
    spec = tmp_path / "my search.yaml"
    spec.write_text(yaml.safe_dump({"space": {"train.lr_g": "log:1e-4..1e-2"}}))
    with pytest.raises(UserError, match=f"^{spec}: its name my search: a study's name, not a pa"):
        cli.main(command(str(spec)))
    for name in ("unconditional", "conditional-2", "lr_0.5"):
        assert study.check_name(name, "--name") == name


ENTRY = '{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}\n'  # a study made
JOURNALS = [  # what a journal file can hold instead
    ("hello\n", "line 1: not JSON"),
    ("\x00\x01\n", "line 1: not JSON"),
    ('{"a": 1}\n', "line 1: not an entry of Optuna's journal"),
    (ENTRY + "[1]\n" + ENTRY, "line 2: not an entry of Optuna's journal"),
]


@pytest.mark.parametrize("text, why", JOURNALS)
@pytest.mark.parametrize("show", [False, True])
def test_a_file_that_is_no_study_journal_is_one_line_naming_it(workdir, text, why, show):
    dvc = workdir(FakeDVC(0))
    path = study.journal("s")
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(UserError) as e:
        cli.main(command("--name", "s", *(["--show"] if show else [])))
    assert str(e.value) == f"{path}: not a study journal ({why})"
    assert path.read_text() == text and dvc.runs == []


def test_a_last_line_cut_short_is_read_by_show_and_refused_by_a_search(workdir, capsys):
    """--show may read while a search writes; a search would append after the cut line."""
    dvc = workdir(FakeDVC(0))
    search("s").run(2)
    with study.journal("s").open("a") as f:
        f.write('{"op_code":')
    cli.main(command("--name", "s", "--show"))
    assert "(2 done, 0 failed, 0 in flight)" in capsys.readouterr().out
    lines = len(study.journal("s").read_text().splitlines())
    with pytest.raises(UserError) as e:
        cli.main(command("--name", "s", "--trials", "3"))
    assert str(e.value) == f"{study.journal('s')}: not a study journal (line {lines}: not JSON)"
    assert dvc.runs == ["s-0", "s-1"]


@pytest.mark.parametrize("show", [False, True])
def test_a_journal_of_another_study_or_tool_is_refused(workdir, show):
    dvc = workdir(FakeDVC(0))
    search("other").run(1)
    study.journal("s").write_bytes(study.journal("other").read_bytes())  # renamed, say
    with pytest.raises(UserError) as e:
        cli.main(command("--name", "s", *(["--show"] if show else [])))
    assert str(e.value) == (
        f"{study.journal('s')}: holds the study other, not s: a journal renamed or copied; "
        "give it back its name, or move it away to start over"
    )
    foreign = optuna.create_study(study_name="t", storage=study.storage("t"))
    foreign.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(UserError, match="t.journal: a study this command did not write"):
        cli.main(command("--name", "t", *(["--show"] if show else [])))
    assert dvc.runs == ["other-0"]


def dead_pid() -> int:
    """The pid of a process that has ended."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    return int(child.stdout)


def test_a_second_search_of_a_study_at_once_is_refused_and_a_stale_lock_taken(workdir):
    import os

    dvc = workdir(FakeDVC(0))
    lock = study.FOLDER / "s.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{os.getppid()}\n")  # a live process: pytest's parent
    with pytest.raises(UserError) as e:
        cli.main(command("--name", "s", "--trials", "2"))
    assert str(e.value) == (
        f"search s: already running (pid {os.getppid()}, {lock}); wait for it, "
        f"or delete {lock} if no search of it runs"
    )
    assert dvc.runs == [] and not study.journal("s").exists()
    held, show = [], dvc.show
    experiments.show = lambda baselines: held.append(lock.read_text()) or show(baselines)
    lock.write_text(f"{dead_pid()}\n")  # a search that crashed
    cli.main(command("--name", "s", "--trials", "2"))
    assert dvc.runs == ["s-0", "s-1"] and set(held) == {f"{os.getpid()}\n"}
    assert not lock.exists()  # released at the end


def test_jobs_are_bounded_by_the_cores_and_the_trials(workdir, monkeypatch, capsys):
    assert study.jobs_bound(8, 20, 2) == (2, "--jobs 8: 2 at once, as many as the 2 cores this "
                                             "search may use")  # fmt: skip
    assert study.jobs_bound(8, 3, 16) == (3, "--jobs 8: 3 at once, as many as --trials 3")
    assert study.jobs_bound(2, 20, 2) == (2, "")
    assert study.jobs_bound(3, 1, 16, repeats=3) == (3, "")  # one trial, 3 seeds at once
    assert study.jobs_bound(8, 2, 16, repeats=3) == (6, "--jobs 8: 6 at once, as many as "
                                                      "--trials 2 x --repeats 3")  # fmt: skip
    workdir(FakeDVC(0))
    started = []
    monkeypatch.setattr(experiments, "start_workers", started.append)
    monkeypatch.setattr(cli, "cores", lambda: 2)
    cli.main(command("--name", "s", "--trials", "4", "--jobs", "6"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(" --jobs 6: 2 at once, as many as the 2 cores this search may use")
    assert set(started) == {2}


def test_the_lock_stays_out_of_git_and_so_of_every_experiment():
    import subprocess

    ignored = subprocess.run(["git", "check-ignore", "search/unconditional.lock"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ignored.stdout.strip() == "search/unconditional.lock"


def finished(number: int, queued_at: float, ended_at: float, failed: bool = False):
    return optuna.trial.create_trial(
        state=TrialState.FAIL if failed else TrialState.COMPLETE,
        value=None if failed else 4.0,
        user_attrs={"queued_at": queued_at, "ended_at": ended_at},
    )


def in_flight(queued_at: float):
    return optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={"queued_at": queued_at})


def test_the_progress_line_counts_trials_and_the_time_left():
    now = 10_000.0
    trials = [finished(0, 0, 600), finished(1, 0, 700), finished(2, 100, 900)]  # mean 700 s
    trials += [in_flight(now - 100), in_flight(now - 650)]  # 600 s and 50 s left
    # 2 slots free at 600 and 50 s; 5 trials of 700 s to come, each in the first free slot:
    # 50+700=750, 600+700=1300, 750+700=1450, 1300+700=2000, 1450+700=2150 s: 36 min
    assert study.time_left([100, 650], 5, 700, 2) == 2150
    assert study.progress(trials, 10, 2, now) == "3/10 done, 2 running, about 36 min left"
    # one slot: 600 + 5 * 700 s, in turn (a trial that ran past the mean: 0 s left)
    assert study.time_left([100], 5, 700, 1) == 4100
    assert study.time_left([900], 0, 700, 2) == 0
    # a failed trial counts as done; its duration is not a trial's
    failed = [*trials[:3], finished(3, 0, 5, failed=True), *trials[3:]]
    assert study.progress(failed, 10, 2, now) == (
        "4/10 done (1 failed), 2 running, about 34 min left"  # 4 to come: ... 2000 s
    )
    assert study.progress(trials[3:], 10, 2, now) == (
        "0/10 done, 2 running, time left: known once a trial is done"
    )
    assert study.progress(trials[:3], 3, 2, now) == "3/3 done, 0 running"
    # stopping: only the running trials' time (600 s), none for the trials not queued
    assert study.progress(trials, 10, 2, now, queueing=False) == (
        "3/10 done, 2 running, about 10 min left"
    )
    assert study.progress(trials[:3], 10, 2, now, queueing=False) == "3/10 done, 0 running"
    assert study.span(7199) == "2 h 00 min" and study.span(60 * 135) == "2 h 15 min"
    assert study.span(60 * 119) == "119 min" and study.span(61) == "2 min"


def test_a_progress_line_follows_each_event_and_a_heartbeat_each_silent_two_minutes(
    fake, monkeypatch
):
    """Trials that take long: a line says the search lives every HEARTBEAT s of silence."""
    monkeypatch.setattr(study, "POLL", 5.0)
    dvc = fake(FakeDVC(0))
    clock = [0.0]
    monkeypatch.setattr(study.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(study, "pause", lambda s, wake: clock.__setitem__(0, clock[0] + s))
    show = dvc.show
    ends_at = 20  # the look at which the one trial ends

    def slow_show(baselines):
        dvc.rng.random = lambda: 0.0 if dvc.looks + 1 == ends_at else 1.0
        return show(baselines)

    monkeypatch.setattr(experiments, "show", slow_show)
    lines = []
    study.Search(
        study.create("beat", SPEC), SPEC, 0, 1, log_line=lambda line: lines.append((clock[0], line))
    ).run(1)
    progress = [(t, line) for t, line in lines if line.startswith("0/1 done")]
    # waits 5, 7.5, 11.25, 16.875, 25.3125, then 30 s: silent from 0 s, past 120 s at
    # 125.9375, then 245.9375, 365.9375 (19 waits end at 485.9375)
    assert [t for t, _ in progress] == [0.0, 125.9375, 245.9375, 365.9375]
    assert progress[0][1] == "0/1 done, 1 running, time left: known once a trial is done"
    assert lines[-1][1].startswith("1/1 done, 0 running") and len(lines) == 7


def test_a_restarted_search_says_what_it_found_in_flight(fake):
    fake(FakeDVC(0))
    search("r", jobs=2).run(3)
    left = search("r", jobs=2)
    left.ask(), left.ask()  # queued by a search that was then killed
    lines = []
    study.Search(left.study, SPEC, 0, 2, log_line=lines.append).run(5)
    assert lines[0] == "resuming: 2 trials in flight (numbers 3, 4), 3 done"
    lines.clear()
    study.Search(left.study, SPEC, 0, 2, log_line=lines.append).run(5)
    assert lines == ["resuming: no trial in flight, 5 done"]


def test_the_plot_is_redrawn_after_each_finished_trial(fake):
    fake(FakeDVC(0, diverges=0.01))
    drawn = []
    told = (TrialState.COMPLETE, TrialState.FAIL)
    plot = lambda s: drawn.append(len(s.get_trials(states=told)))  # noqa: E731
    study.Search(study.create("p", SPEC), SPEC, 0, 3, log_line=lambda line: None, plot=plot).run(6)
    assert drawn == [1, 2, 3, 4, 5, 6]


def test_a_stop_queues_nothing_more_and_lets_the_running_trials_finish(fake):
    dvc = fake(FakeDVC(2))
    lines = []
    s = study.Search(study.create("g", SPEC), SPEC, 0, 3, log_line=lines.append)
    show = dvc.show

    def show_then_ctrl_c(baselines):
        if dvc.looks == 2:  # the third look: a Ctrl-C
            s.request_stop(study.CTRL_C)
        return show(baselines)

    experiments.show = show_then_ctrl_c  # the fixture's monkeypatch restores it
    s.run(12)
    queued_by_then = len(dvc.runs)
    trials = s.trials()
    assert len(trials) == queued_by_then < 12 and dvc.removed == []
    assert [t.state for t in trials] == [TrialState.COMPLETE] * len(trials)
    stop_line = next(line for line in lines if line.startswith("stopping"))
    running = int(stop_line.split("; ")[1].split()[0])
    assert stop_line == (
        f"stopping (Ctrl-C): no new trials; {running} running will finish; "
        "Ctrl-C again to kill them"
    )
    after = lines[lines.index(stop_line) :]
    assert running > 0 and not [line for line in after if " queued as " in line]
    # the same command again goes on to 12, as if never stopped
    search("g").run(12)
    fake(FakeDVC(2))
    search("whole").run(12)
    assert proposals("g") == proposals("whole")


def test_a_time_budget_stops_like_a_ctrl_c(fake, monkeypatch):
    dvc = fake(FakeDVC(2))
    monkeypatch.setattr(study, "POLL", 5.0)
    monkeypatch.setattr(study.time, "monotonic", lambda: dvc.looks * 10.0)
    waits = []
    monkeypatch.setattr(study, "pause", lambda seconds, wake: waits.append(seconds))
    lines = []
    s = study.Search(study.create("t", SPEC), SPEC, 0, 2, log_line=lines.append, deadline=35)
    s.run(12)
    assert min(waits) >= 5  # never a look at once after another, past the deadline too
    assert 2 <= len(s.trials()) < 12
    assert all(t.state == TrialState.COMPLETE for t in s.trials())
    stops = [line for line in lines if line.startswith("stopping")]
    assert len(stops) == 1 and stops[0].startswith("stopping (--timeout spent): no new trials; ")
    assert stops[0].endswith(" running will finish; Ctrl-C to kill them")
    queued_after = lines[lines.index(stops[0]) :]
    assert not [line for line in queued_after if " queued as " in line]


def test_a_hard_stop_removes_the_failed_rows_of_the_trials_it_killed(fake):
    """Killed, a trial's experiment shows as Failed with the baseline's metrics in `dvc exp
    show`: removed, and its trial queued again by the next run."""
    dvc = fake(FakeDVC(0))
    s = search("k", jobs=2)
    s.ask(), s.ask()
    dvc.exps["k-0"] = Experiment("k-0", "running", dvc.exps["k-0"].params, {})  # k-1 queued
    assert s.stop() == ["k-0", "k-1"]
    assert dvc.removed == ["k-0"] and dvc.exps == {}  # k-1: `dvc queue remove` as queued
    assert [t.user_attrs["stop"] for t in s.trials()] == [True, True]
    search("k", jobs=2).run(2)
    assert dvc.runs == ["k-0", "k-1", "k-0-r1", "k-1-r1"]
    assert {e.state for e in dvc.exps.values()} == {"success"}


def test_a_stopped_trial_whose_kill_had_not_landed_is_cleaned_by_the_next_run(fake, monkeypatch):
    dvc = fake(FakeDVC(0))
    s = search("late", jobs=1)
    s.ask()
    dvc.exps["late-0"] = Experiment("late-0", "running", dvc.exps["late-0"].params, {})
    monkeypatch.setattr(study, "STOP_WAIT", -1)  # gave up waiting for the kill
    monkeypatch.setattr(experiments, "stop", lambda running, queued: None)  # not yet failed
    s.stop()
    assert dvc.removed == [] and dvc.exps["late-0"].state == "running"
    dvc.exps["late-0"] = Experiment("late-0", "failed", dvc.exps["late-0"].params, {})  # landed
    search("late", jobs=1).run(1)
    assert dvc.removed == ["late-0"] and dvc.runs == ["late-0", "late-0-r1"]


def test_the_first_ctrl_c_asks_to_stop_and_the_second_kills(fake):
    """The handler as `python -m mnistgan search` installs it, with a real SIGINT."""
    import os
    import signal
    import threading

    fake(FakeDVC(0))
    s = search("sig", jobs=1)
    before = signal.signal(signal.SIGINT, lambda n, f: cli.gentle(s, n, f))
    try:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        started = study.time.monotonic()
        try:
            study.pause(30, s.wake)  # a wait between looks, cut short
        except KeyboardInterrupt:
            pytest.fail("the first Ctrl-C stopped the search")
        assert study.time.monotonic() - started < 10 and s.stopping == study.CTRL_C
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            study.time.sleep(5)  # the signal lands here
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_once_finishes_what_runs_and_twice_kills_it(workdir, capsys):
    """The command, with real SIGINTs at two looks at the queue."""
    import os
    import signal

    for second in (None, 4):
        dvc = workdir(FakeDVC(2))
        show = dvc.show

        def show_with_ctrl_c(baselines, dvc=dvc, show=show, second=second):
            if second and dvc.looks < second:  # nothing ends before the second Ctrl-C
                dvc.looks += 1
                shown = dict(dvc.exps)
            else:
                shown = show(baselines)
            if dvc.looks in (2, second):
                os.kill(os.getpid(), signal.SIGINT)
            return shown

        experiments.show = show_with_ctrl_c  # the fixture's monkeypatch restores it
        name = f"c{second}"
        with pytest.raises(SystemExit) as e:
            cli.main(command("--name", name, "--trials", "12", "--jobs", "3"))
        assert e.value.code == 130
        out = capsys.readouterr().out
        assert " stopping (Ctrl-C): no new trials; " in out
        trials = search(name).trials()
        if second is None:  # what ran finished and was told; the table follows
            assert [t.state for t in trials] == [TrialState.COMPLETE] * len(trials)
            assert " stopped: the same command continues the search\n" in out
            assert f"study {name}: best {len(trials)} of {len(trials)} trials" in out
        else:  # killed: queued again by the next run
            assert "stopped, and stopped what was in flight (" in out
            assert any(t.state == TrialState.RUNNING and t.user_attrs["stop"] for t in trials)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_time_budget_is_seconds(workdir):
    dvc = workdir(FakeDVC(0))
    for bad in ("0", "-5", "nan"):
        with pytest.raises(UserError, match=f"^--timeout {bad}: expected a number of seconds > 0"):
            cli.main(command("--timeout", bad))
    assert dvc.runs == []


REPEATED = space.load(None, SPEC_FLAGS, ["val_fid=min"], ["train.threads=1"], repeats=3)


def test_with_repeats_each_proposal_trains_on_k_seeds_and_is_told_their_mean(fake):
    dvc = fake(FakeDVC(4))
    lines = []
    run = study.Search(study.create("rep", REPEATED), REPEATED, 0, 2, log_line=lines.append)
    assert run.slots == 1  # 2 jobs, 3 runs a trial: one trial at a time
    run.run(3)
    assert dvc.runs == [f"rep-{n}-s{seed}" for n in range(3) for seed in range(3)]
    for t in run.trials():
        names = t.user_attrs["experiments"]
        assert [dvc.exps[n].params for n in names] == [
            {"train.threads": 1} | t.params | {"train.seed": seed} for seed in range(3)
        ]
        per_seed = [fid(t.params) + seed / 4 for seed in range(3)]  # each row its own FID
        assert [dvc.exps[n].metrics["val_fid"] for n in names] == per_seed
        assert t.user_attrs["seed_values"] == {"val_fid": per_seed}
        assert t.values == [pytest.approx(fid(t.params) + 0.25)]  # their mean
        assert t.user_attrs["experiment"] == names[0]
    done = [line for line in lines if " done: " in line]
    assert (
        done[0].startswith("trial 0 (3 seeds) done: val_fid=")
        and "(mean of 3 seeds, sd 0.25)" in done[0]
    )
    assert study.Search(run.study, REPEATED, 0, 4, log_line=print).slots == 2
    table = report.table(run.study, REPEATED.objectives).splitlines()
    assert table[1].split()[:4] == ["trial", "experiment", "val_fid", "val_fid"]  # then: sd
    best = min(run.trials(), key=lambda t: t.values[0])
    assert table[2].split()[:4] == [str(best.number), f"rep-{best.number}-s0",
                                    f"{best.values[0]:.4g}", "0.25"]  # fmt: skip


def test_with_repeats_a_lost_seed_is_queued_again_alone_and_a_failed_one_fails_the_trial(fake):
    dvc = fake(FakeDVC(1, diverges=0.01))
    real_show = dvc.show

    def show(baselines):
        shown = real_show(baselines)
        if "r-0-s1" in dvc.exps and dvc.exps["r-0-s1"].state == "queued":
            del dvc.exps["r-0-s1"]  # dropped from the queue
            shown.pop("r-0-s1")
        return shown

    experiments.show = show  # the fixture's monkeypatch restores it
    s = study.Search(study.create("r", REPEATED), REPEATED, 0, 3, log_line=lambda line: None)
    s.run(6)
    first = s.trials()[0]
    assert first.user_attrs["experiments"] == ["r-0-s0", "r-0-s1-r1", "r-0-s2"]
    assert first.user_attrs["attempts"] == [0, 1, 0]
    assert dvc.runs.count("r-0-s0") == 1 and dvc.runs.count("r-0-s1-r1") == 1
    failed = [t for t in s.trials() if t.state == TrialState.FAIL]
    assert failed and all(t.params["train.lr_g"] > 0.01 for t in failed)
    assert all(t.user_attrs["error"] == "train: loss is nan" for t in failed)


def test_with_repeats_a_hard_stop_queues_the_killed_seeds_again(fake):
    dvc = fake(FakeDVC(0))
    s = study.Search(study.create("h", REPEATED), REPEATED, 0, 3, log_line=lambda line: None)
    s.ask()
    dvc.exps["h-0-s0"] = Experiment(
        "h-0-s0", "success", dvc.exps["h-0-s0"].params, {"val_fid": 4.0}
    )
    dvc.exps["h-0-s1"] = Experiment("h-0-s1", "running", dvc.exps["h-0-s1"].params, {})
    assert s.stop() == ["h-0-s0", "h-0-s1", "h-0-s2"]
    assert dvc.removed == ["h-0-s1"] and sorted(dvc.exps) == ["h-0-s0"]
    study.Search(s.study, REPEATED, 0, 3, log_line=lambda line: None).run(1)
    assert dvc.runs == ["h-0-s0", "h-0-s1", "h-0-s2", "h-0-s1-r1", "h-0-s2-r1"]
    (trial,) = s.trials()
    assert trial.state == TrialState.COMPLETE
    assert trial.user_attrs["experiments"] == ["h-0-s0", "h-0-s1-r1", "h-0-s2-r1"]


@pytest.mark.parametrize(
    "flags, error",
    [
        ((["train.seed=int:0..9"], []), "train.seed: searched, and --repeats 3 sets it: 0..2"),
        (([], ["train.seed=1"]), "train.seed: set, and --repeats 3 sets it: 0..2"),
    ],
)
def test_repeats_own_the_seed(flags, error):
    space_flags, sets = flags
    with pytest.raises(UserError) as e:
        space.load(None, SPEC_FLAGS + space_flags, [], sets, repeats=3)
    assert str(e.value) == error
    with pytest.raises(UserError, match="^--repeats 0: expected at least 1$"):
        space.load(None, SPEC_FLAGS, [], [], repeats=0)
    assert space.load(None, SPEC_FLAGS + space_flags, [], sets, repeats=1).repeats == 1


def test_with_repeats_one_failed_seed_fails_the_trial(fake, monkeypatch):
    dvc = fake(FakeDVC(0))
    monkeypatch.setattr(experiments, "failure", lambda name: f"{name}: loss is nan")
    s = study.Search(study.create("one", REPEATED), REPEATED, 0, 3, log_line=lambda line: None)
    s.ask()
    for seed, state in enumerate(["success", "failed", "success"]):
        name = f"one-0-s{seed}"
        dvc.exps[name] = Experiment(name, state, dvc.exps[name].params, {"val_fid": 4.0})
    experiments.show = lambda baselines: dict(dvc.exps)  # the fixture's monkeypatch restores it
    s.run(1)
    (trial,) = s.trials()
    assert trial.state == TrialState.FAIL and trial.user_attrs["error"] == "one-0-s1: loss is nan"


def test_a_trial_stopped_before_its_experiment_was_queued_is_queued(fake):
    dvc = fake(FakeDVC(0))
    s = search("q", jobs=1)
    s.study.ask(SPEC.space)  # proposed, then the search was killed: no experiment
    s.run(1)
    (trial,) = s.trials()
    assert trial.state == TrialState.COMPLETE and dvc.runs == ["q-0-r1"]
