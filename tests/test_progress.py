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
    alone = cpu.contention(cpu_seconds=3.0, wall_seconds=10.0, threads=1)
    assert alone == "; other programs are using this CPU (training got 30% of its thread's time)"


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
