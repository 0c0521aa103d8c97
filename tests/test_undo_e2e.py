"""A clone's round trip by the README's own lines, offline, the data folder named by
$MNISTGAN_DATA_SOURCE as its offline use says: `dvc repro`, an experiment, the comparison at
100 columns, the undo (back to the run before, byte for byte, with nothing run again: not
the download, whose folder no checkout of params.yaml can lose), and the plots of the
experiment against the workspace. Then the same undo on a committed run: a clean git status."""

import shlex
from pathlib import Path

import pytest
from conftest import DETERMINISTIC, OFFLINE, REPO, digests, ran, run, write_params

from mnistgan.data.raw import OUTPUTS

pytestmark = pytest.mark.e2e

# What the undo must bring back as it was: every output checked for determinism, the four raw
# files, the lock, the params and the timing, which only a restore (not a rerun) gives back.
KEPT = [*DETERMINISTIC, *(p.as_posix() for p in OUTPUTS.values())]
KEPT = sorted(set(KEPT)) + ["dvc.lock", "params.yaml", "metrics/timing.json"]
UP_TO_DATE = "Data and pipelines are up to date."


def readme_line(start: str) -> str:
    """The first line of the README that starts with `start`."""
    lines = (REPO / "README.md").read_text().splitlines()
    return next(line for line in lines if line.startswith(start))


def commands(line: str) -> list[list[str]]:
    """A README line as the commands it runs: the comment dropped, split at `&&`."""
    return [shlex.split(part, comments=True) for part in line.split(" && ")]


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo, timeout=120)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)


def porcelain(repo: Path) -> str:
    return run(["git", "status", "--porcelain"], repo, timeout=120).stdout


def undo(repo: Path, env: dict[str, str]) -> str:
    """The README's undo line, run in `repo`; what its last command printed."""
    for cmd in commands(readme_line("git checkout params.yaml")):
        out = run(cmd, repo, env=env, timeout=600).stdout
    return out


def test_readme_undo_compare_and_plots_diff_offline(pipeline: Path, idx_folder, tmp_path):
    repo = pipeline
    # As a clone has params.yaml: data.source null; the folder is named in the environment.
    write_params(repo, {"data": {"source": None}})
    commit(repo, "data.source as committed")
    env = OFFLINE | {"MNISTGAN_DATA_SOURCE": str(idx_folder)}  # the README's name
    assert "download" in ran(run(["dvc", "repro"], repo, env=env).stdout)
    status, before = porcelain(repo), digests(repo, KEPT)
    assert " M dvc.lock\n" in status  # this machine's run is not the committed one

    run(["dvc", "exp", "run", "-n", "warmer", "-S", "sample.temperature=0.9"], repo, env=env)
    assert digests(repo, KEPT) != before

    # The comparison: the changed param, whole, beside val_fid and fid, within 100 columns,
    # as a pager shows it (the whole table) and as a terminal of 100 columns does.
    show = commands(readme_line("dvc exp show"))
    assert len(show) == 1
    wide = {"COLUMNS": "100"}
    for cmd in (show[0], [*show[0], "--no-pager"]):
        table = run(cmd, repo, env=env | wide, timeout=300).stdout
        lines = table.splitlines()
        assert max(map(len, lines)) <= 100 and "…" not in table, table
        header = next(line for line in lines if "Experiment" in line).split()
        assert header == ["Experiment", "fid", "val_fid", "sample.temperature"], table
        rows = [line.split() for line in lines if line.split()[1:2] and "Experiment" not in line]
        assert len(rows) == 3, table  # the workspace, the last commit, the experiment below it
        assert rows[0][0] == "workspace" and rows[0][3] == "0.9", table  # the experiment's
        assert len(rows[1]) == 4 and rows[1][3] == "1.15", table  # the last commit's
        assert rows[2][0] == "└──" and rows[2][2:3] == ["[warmer]"] and rows[2][5:] == ["0.9"]
        assert float(rows[2][3]) > 0 and float(rows[2][4]) > 0, table

    # The undo: each stage back from DVC's run cache as it was; nothing runs, offline.
    out = undo(repo, env)
    assert ran(out) == set(), out
    assert all(f"Stage '{s}' is cached" in out for s in ("sample", "evaluate", "explore")), out
    assert porcelain(repo) == status
    assert run(["dvc", "status"], repo, env=env, timeout=300).stdout.strip() == UP_TO_DATE
    assert digests(repo, KEPT) == before

    # The plots of the experiment against the workspace: both in this clone's cache. The
    # committed run's are not (another run wrote them), so diffing HEAD fails to load it.
    line = readme_line("dvc plots diff").replace("<experiment>", "warmer")
    diff = run([*commands(line)[0], "-o", str(tmp_path / "diff")], repo, env=env, timeout=300)
    assert "failed to load" not in diff.stdout + diff.stderr, diff.stderr
    page = (tmp_path / "diff/index.html").read_text()
    assert '"rev": "warmer"' in page and '"rev": "workspace"' in page
    head = run(["dvc", "plots", "diff", "HEAD", "-o", str(tmp_path / "head")], repo, env=env)
    assert "failed to load some plots for following revisions: 'HEAD'" in head.stdout + head.stderr

    # On a committed run the same undo leaves nothing for git to show, after an experiment
    # that trains again (train's metrics, timing too, come back from the run cache).
    commit(repo, "this machine's run")
    before = digests(repo, KEPT)
    trained = run(["dvc", "exp", "run", "-S", "train.lr_g=0.002"], repo, env=env).stdout
    assert "train" in ran(trained) and "download" not in ran(trained)
    assert porcelain(repo) != ""
    out = undo(repo, env)
    assert ran(out) == set() and "Stage 'train' is cached" in out, out
    assert porcelain(repo) == ""
    assert run(["dvc", "status"], repo, env=env, timeout=300).stdout.strip() == UP_TO_DATE
    assert digests(repo, KEPT) == before
