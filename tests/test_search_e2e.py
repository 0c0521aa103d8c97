"""`python -m mnistgan search` for real: a 4-trial search, two experiments at a time through
DVC's queue, on tiny params in a temp copy of the repo. Every trial is an experiment that
`dvc exp show` lists with the params Optuna proposed and the metrics it was told; the same
command with --trials 6 then runs 2 more, and nothing twice."""

import json
from pathlib import Path

import optuna
import pytest
from conftest import run, stop_workers

from mnistgan.search.experiments import parse_show

pytestmark = pytest.mark.e2e
SEARCH = ["python", "-m", "mnistgan", "search", "--jobs", "2", "--seed", "3"]
SEARCH += ["-p", "train.lr_g=log:0.0005..0.005", "-p", "train.batch_size=int:32..64"]
SEARCH += ["-p", "train.loss=choice:bce,hinge", "-o", "val_fid=min", "-o", "train_seconds=min"]
SEARCH += ["-S", "train.threads=1"]  # two runs share 2 cores


def trials(repo: Path) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(repo / "search/search.journal"))
    )
    return optuna.load_study(study_name="search", storage=storage).get_trials()


def test_search_runs_its_trials_as_experiments_and_continues(pipeline: Path):
    repo = pipeline
    # The workspace's run first, committed, as docs/search.md asks: trials then find download
    # and prepare done (two trials fetching the data at once can race in DVC's cache).
    run(["dvc", "repro", "prepare"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data"], repo)
    try:
        first = run([*SEARCH, "--trials", "4"], repo, timeout=1200).stdout
        second = run([*SEARCH, "--trials", "6"], repo, timeout=900).stdout
    finally:
        stop_workers(repo)
    assert first.count("queued as") == 4 and second.count("queued as") == 2, first + second

    study = trials(repo)
    assert [t.state.name for t in study] == ["COMPLETE"] * 6, [t.user_attrs for t in study]
    shown = parse_show(json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout))
    assert sorted(shown) == sorted(f"search-{n}" for n in range(6)), sorted(shown)
    for t in study:
        exp = shown[t.user_attrs["experiment"]]
        assert exp.state == "success"
        assert {k: exp.params[k] for k in t.params} == t.params
        assert exp.params["train.threads"] == 1
        assert [exp.metrics["val_fid"], exp.metrics["train_seconds"]] == t.values
    assert len({json.dumps(t.params) for t in study}) == 6  # six proposals, none run twice

    # The table: the Pareto front, each with its experiment and the line that adopts it.
    shown_table = run([*SEARCH, "--show"], repo).stdout
    assert "Pareto front of 6 trials (6 done, 0 failed, 0 in flight)" in shown_table
    assert "dvc exp apply search-" in shown_table and shown_table == second[-len(shown_table) :]
    assert (repo / "search/plots/search.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run(["dvc", "repro", "plots_page"], repo)  # the page template of dvc plots show
    page = run(["dvc", "plots", "show", "search/plots/search.png"], repo, timeout=300)
    assert "failed to load" not in page.stdout + page.stderr
    shown_png = "static/workspace_search_plots_search.png"  # DVC's copy of the plot
    assert f'<img src="{shown_png}">' in (repo / "dvc_plots/index.html").read_text()
    assert (repo / "dvc_plots" / shown_png).read_bytes() == (
        repo / "search/plots/search.png"
    ).read_bytes()
