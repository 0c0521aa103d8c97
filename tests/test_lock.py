"""The committed dvc.lock: a fresh clone's baseline for `dvc metrics diff`, `dvc exp show` and
`dvc plots diff`, so it must be what `dvc repro` writes for the committed code and
params.yaml on the official MNIST (docs/baseline.md says how it is made).

Checked here, against the last commit: every stage is locked with its command, its params
as params.yaml holds them, its code as it is; the raw data as the four official files hash
(the download stage writes each file's bytes as fetched, MD5-checked);
every data dep as the stage writing it locked it; and each small metrics file committed as
locked. Not checked here: the outputs of prepare and later stages. prepare's would need a
run on the 60,000 official training images (deterministic, but not a unit test's cost); those
of train, sample, train_classifier and evaluate depend on the CPU that made them: bf16 or fp32
(train.amp: auto follows the CPU's instructions), oneDNN's kernels for its vector width, and
the thread count all change their last bits, so another machine cannot match them."""

import shutil
import subprocess

import pytest
import yaml
from conftest import REPO, committed_tree, dvc_md5, lock_mismatches
from dvc.repo import Repo
from dvc_data.hashfile.build import build

from mnistgan.data.raw import FILES, OUTPUTS, official_md5

# What the download stage writes from the official MNIST: each .gz as fetched, MD5-checked
OFFICIAL_RAW = {
    path.as_posix(): official_md5("mnist")[FILES[role]] for role, path in OUTPUTS.items()
}


def test_committed_lock_is_what_dvc_repro_writes_on_the_official_data(tmp_path):
    has_lock = subprocess.run(
        ["git", "cat-file", "-e", "HEAD:dvc.lock"], cwd=REPO, capture_output=True, timeout=60
    )
    if has_lock.returncode != 0:
        pytest.skip("no dvc.lock committed yet: docs/baseline.md says how to make it")
    tree = committed_tree(REPO, tmp_path / "clone")
    assert lock_mismatches(tree, OFFICIAL_RAW) == []


def test_lock_hashes_are_dvcs_own(tmp_path):
    """dvc_md5, which the lock test compares with, hashes files and folders as DVC does."""
    folder = tmp_path / "code"
    shutil.copytree(REPO / "src/mnistgan/core", folder)
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__/x.pyc").write_bytes(b"ignored, as .dvcignore says")
    shutil.copy(REPO / ".dvcignore", tmp_path / ".dvcignore")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, timeout=60)
    repo = Repo.init(str(tmp_path))
    for path in (folder, folder / "cpu.py"):
        _, _, obj = build(repo.cache.local, str(path), repo.fs, "md5", ignore=repo.dvcignore)
        assert dvc_md5(path) == obj.hash_info.value


def test_lock_check_names_what_differs(tmp_path):
    """On a one-stage pipeline: a lock made for the files passes; an edited param, code or
    metrics file, or another raw data hash, is named."""
    (tmp_path / "params.yaml").write_text("a:\n  b: 1\n  source: null\n")
    (tmp_path / "code.py").write_text("print(1)\n")
    (tmp_path / "m.json").write_text('{"fid": 3.0}')
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  download:\n    cmd: python code.py\n    deps: [code.py]\n"
        "    params: [a.b, a.source]\n    outs: [raw]\n"
        "    metrics:\n      - m.json:\n          cache: false\n"
    )
    lock = {
        "schema": "2.0",
        "stages": {
            "download": {
                "cmd": "python code.py",
                "deps": [{"path": "code.py", "md5": dvc_md5(tmp_path / "code.py")}],
                "params": {"params.yaml": {"a.b": 1, "a.source": None}},
                "outs": [
                    {"path": "raw", "md5": "r.dir"},
                    {"path": "m.json", "md5": dvc_md5(tmp_path / "m.json")},
                ],
            }
        },
    }
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    assert lock_mismatches(tmp_path, {"raw": "r.dir"}) == []
    assert lock_mismatches(tmp_path, {"raw": "other.dir"}) == [
        "download: out raw locked as r.dir, not other.dir"
    ]
    (tmp_path / "params.yaml").write_text("a:\n  b: 1\n  source: /data\n")
    (tmp_path / "code.py").write_text("print(2)\n")
    (tmp_path / "m.json").write_text('{"fid": 4.0}')
    said = lock_mismatches(tmp_path, None)
    assert said[0] == "download: param a.source locked as None, params.yaml has '/data'"
    assert said[1].startswith("download: dep code.py locked as ")
    assert said[2] == "download: committed m.json is not the locked one"
    assert len(said) == 3
