"""No value of data.dataset or data.source makes DVC delete a file the download stage does not
own: a typo in params.yaml, or a `dvc exp run -S`, never costs the user a folder. Each case
runs through `dvc repro` and `dvc exp run -S`; every file outside the stage's four outputs,
in the repo and beside it, must be there after, byte for byte."""

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import run, write_params

from mnistgan.data.raw import OUTPUTS

pytestmark = pytest.mark.e2e

# Paths DVC and the stage may change: their outputs, the params that -S rewrites, DVC's state.
OWNED = {str(p) for p in OUTPUTS.values()} | {"params.yaml", "dvc.lock", "data/raw/.gitignore"}


def files(top: Path, repo: Path) -> dict[str, str]:
    """SHA-256 of every file under `top`, but DVC's and git's own and the stage's outputs."""
    out = {}
    for path in sorted(top.rglob("*")):
        inside = path.relative_to(repo).as_posix() if path.is_relative_to(repo) else None
        if inside and (inside in OWNED or inside.split("/")[0] in (".git", ".dvc")):
            continue
        if path.is_file():
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


CASES = {  # (section, key, value, the stage accepts it)
    "dataset out of the repo": ("dataset", "../../../outside", False),
    "dataset naming docs/": ("dataset", "../../docs", False),
    "empty dataset": ("dataset", "", False),
    "source in data/raw": ("source", "data/raw/mnist", True),
}


def test_no_dataset_or_source_deletes_a_file_it_does_not_own(pipeline: Path, idx_folder):
    repo, top = pipeline, pipeline.parent
    (top / "outside").mkdir()
    (top / "outside/thesis.tex").write_text("years of work\n")
    (repo / "docs" / "draft.md").write_text("untracked, not yet committed\n")
    shutil.copytree(idx_folder, repo / "data/raw/mnist")  # the user's only copy
    run(["dvc", "repro", "download"], repo)  # outputs there to delete, in the cache
    before = files(top, repo)
    assert len(before) > 50 and str(repo / "data/raw/mnist/t10k-labels-idx1-ubyte.gz") in before

    for case, (key, value, accepted) in CASES.items():
        write_params(repo, {"data": {key: value}})
        repro = run(["dvc", "repro", "download"], repo, check=False, timeout=300)
        run(["git", "checkout", "params.yaml"], repo)
        cmd = ["dvc", "exp", "run", "-S", f"data.{key}='{value}'", "download"]
        exp = run(cmd, repo, check=False, timeout=300)
        run(["git", "checkout", "params.yaml"], repo)
        for done in (repro, exp):
            said = done.stdout + done.stderr
            assert (done.returncode == 0) == accepted, f"{case}: {said}"
            assert accepted or f"data.dataset: got {value!r}, expected one of" in said, said
        assert files(top, repo) == before, case
