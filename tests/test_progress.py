"""What long stages print: readable epoch lines, a line a minute without a terminal, and the
advice a crowded-out CPU run gets."""

import re
import time
from dataclasses import replace

import pytest
import torch
from conftest import SMALL, images

from mnistgan.core import cpu, progress
from mnistgan.gan import training


def test_numbers_are_four_significant_digits_not_json():
    line = progress.numbers({"d_loss": 1.234567, "g_loss": 0.5, "d_real": 0.000123456})
    assert line == "d_loss 1.235, g_loss 0.5, d_real 0.0001235"


def test_heartbeat_is_due_once_a_minute_and_never_on_a_terminal():
    now = [0.0]
    beat = progress.Heartbeat(clock=lambda: now[0])
    beat.on = True  # as without a terminal
    due = []
    for now[0] in (30.0, 59.9, 60.0, 61.0, 119.0, 120.5):
        due.append(beat.due())
    assert due == [False, False, True, False, False, True]
    beat.on = False
    now[0] = 1000.0
    assert not beat.due()


def test_ticking_says_what_runs_while_it_runs_and_stops(capsys):
    with progress.ticking("evaluate: scoring", every=0.05):
        time.sleep(0.18)
    said = capsys.readouterr().err.splitlines()
    assert 2 <= len(said) <= 4
    assert all(re.fullmatch(r"evaluate: scoring: \d+ s so far", line) for line in said)
    time.sleep(0.1)
    assert capsys.readouterr().err == ""  # the thread ended with the block


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu, "load_average", lambda: None)  # as on Windows


def test_contention_is_silent_when_training_gets_its_cores(two_cores):
    assert cpu.contention(cpu_seconds=19.0, wall_seconds=10.0, threads=2) == ""
    assert cpu.contention(cpu_seconds=9.0, wall_seconds=10.0, threads=1) == ""


def test_contention_says_why_and_what_to_set(two_cores):
    said = cpu.contention(cpu_seconds=7.0, wall_seconds=10.0, threads=2)  # 35% of 2 threads
    assert said.startswith("; other programs are using this CPU (training got 35% of 2 threads")
    assert "train.threads: 1 runs faster" in said
    assert ", at least 2.9x slower than alone): train.threads: 1" in said  # 1 / 0.35
    alone = cpu.contention(cpu_seconds=3.0, wall_seconds=10.0, threads=1)
    assert alone == (
        "; other programs are using this CPU "
        "(training got 30% of its thread's time, at least 3.3x slower than alone)"
    )
    classifier = cpu.contention(2.0, 10.0, 2, who="the classifier", setting="evaluator.threads")
    assert "(the classifier got 10% of 2 threads' time, at least 10.0x slower" in classifier
    assert classifier.endswith(
        "evaluator.threads: 1 runs faster beside them (and changes results' last digits)"
    )


def test_contention_reads_the_load_average_where_there_is_one(monkeypatch):
    monkeypatch.setattr(cpu, "usable_cores", lambda: 2)
    monkeypatch.setattr(cpu.os, "getloadavg", lambda: (3.0, 1.0, 1.0), raising=False)
    said = cpu.contention(cpu_seconds=19.0, wall_seconds=10.0, threads=2)  # spinning threads
    assert "load 3.0 on 2 cores" in said and "train.threads: 1" in said
    monkeypatch.setattr(cpu.os, "getloadavg", lambda: (2.1, 1.0, 1.0), raising=False)
    assert cpu.contention(cpu_seconds=19.0, wall_seconds=10.0, threads=2) == ""


def test_epoch_line_is_readable_and_carries_the_pace(tmp_path, capsys):
    model = replace(SMALL.model, features=4, d_features=4)
    train = replace(SMALL.train, epochs=2, batch_size=16, device="cpu")
    training.train(images(), model, train, tmp_path / "c.pt", torch.arange(64) % 10)
    lines = [s for s in capsys.readouterr().err.splitlines() if s.startswith("epoch ")]
    number = r"-?[\d.]+(e-?\d+)?"
    means = ", ".join(f"{k} {number}" for k in training.COLUMNS[2:])
    for epoch, line in enumerate(lines, 1):
        assert re.match(rf"epoch {epoch}/2: {means} \(\d+ s/epoch, about \d+ min to go\)", line)
    assert len(lines) == 2 and "{" not in "".join(lines)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pace_is_told_once_after_the_first_look_with_the_time_left():
    wall, cpu_time, seen = Clock(), Clock(), []

    def why_slow(cpu_seconds, wall_seconds):
        seen.append((cpu_seconds, wall_seconds))
        return "; slow" if cpu_seconds < wall_seconds / 2 else ""

    pace = progress.Pace("training", 1000, why_slow, wall, cpu_time, terminal=False)
    wall.now = cpu_time.now = progress.FIRST_LOOK - 1
    assert [pace.step() for _ in range(9)] == [None] * 9  # not yet 20 s in
    wall.now, cpu_time.now = 25.0, 5.0
    line = pace.step()  # the 10th step, 25 s in: 0.4 steps/s, 990 steps left = 2475 s
    assert line == "training: 10/1000 steps in 25 s (0.4 steps/s, about 41 min to go); slow"
    assert seen == [(5.0, 25.0)]
    wall.now = 100.0
    assert pace.step() is None  # once only


def test_with_a_progress_bar_the_pace_is_told_only_when_the_cpu_is_crowded():
    wall, cpu_time = Clock(), Clock()
    quiet = progress.Pace("t", 10, lambda c, w: "", wall, cpu_time, terminal=True)
    busy = progress.Pace("t", 10, lambda c, w: "; busy", wall, cpu_time, terminal=True)
    wall.now = 30.0
    assert quiet.step() is None
    assert busy.step() == "t: 1/10 steps in 30 s (0.0333 steps/s, about 4 min to go); busy"


def test_durations_read_as_a_person_plans():
    assert [progress.duration(s) for s in (44.6, 89, 90, 780, 5399, 5400, 7560)] == [
        "45 s", "89 s", "2 min", "13 min", "90 min", "1.5 h", "2.1 h"
    ]  # fmt: skip


def test_training_tells_its_pace_before_its_first_epoch_ends(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "FIRST_LOOK", 0.0)
    model = replace(SMALL.model, features=4, d_features=4)
    train = replace(SMALL.train, epochs=2, batch_size=16, device="cpu")
    training.train(images(), model, train, tmp_path / "c.pt", torch.arange(64) % 10)
    lines = capsys.readouterr().err.splitlines()
    first = next(i for i, s in enumerate(lines) if s.startswith("training on cpu in "))
    assert re.match(r"training on cpu in \w+: 1/8 steps in \d+ s \(", lines[first])
    assert first < next(i for i, s in enumerate(lines) if s.startswith("epoch 1/2:"))
