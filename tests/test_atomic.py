"""Outputs are written whole or not at all, and nothing in the project unpickles freely."""

import errno
import os
import re

import pytest
from conftest import REPO

from mnistgan.core import atomic
from mnistgan.core.errors import UserError


class Boom(Exception):
    pass


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"old": 1})

    def fail(fd, *args, **kwargs):
        raise Boom

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(Boom):
        atomic.write_json(target, {"new": 2})
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    "call, code",
    [("fsync", errno.ENOSPC), ("write", errno.EDQUOT), ("mkstemp", errno.EROFS)],
    ids=["disk full", "over quota", "read-only folder"],
)
def test_write_the_disk_refuses_is_one_line_naming_the_file(tmp_path, monkeypatch, call, code):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"old": 1})
    if call == "write":  # the temp file's writer, as a full disk would fail it
        real_fdopen = os.fdopen

        def fdopen(fd, mode):
            f = real_fdopen(fd, mode)
            f.write = fail_with(code)
            return f

        monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    else:
        monkeypatch.setattr(
            atomic.os if call == "fsync" else atomic.tempfile, call, fail_with(code)
        )
    with pytest.raises(UserError, match=f"^{target}: cannot write: {os.strerror(code)}$"):
        atomic.write_json(target, {"new": 2})
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_folder_or_file_in_the_way_is_one_line_naming_it(tmp_path):
    with pytest.raises(UserError, match=f"^{tmp_path}: is a folder; give a file name$"):
        atomic.write_json(tmp_path, {})
    (tmp_path / "file").write_text("kept")
    for target in (tmp_path / "file/x.json", tmp_path / "file/sub/x.json"):
        with pytest.raises(UserError, match=f"^{target}: cannot write: {tmp_path}/file is a file"):
            atomic.write_json(target, {})
    assert (tmp_path / "file").read_text() == "kept"


def test_torch_bytes_do_not_depend_on_the_file_name(tmp_path):
    atomic.write_torch(tmp_path / "a.pt", {"x": 1})
    atomic.write_torch(tmp_path / "b.pt", {"x": 1})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_every_torch_load_is_weights_only():
    sources = [p for d in ("src", "stages", "bench") for p in (REPO / d).rglob("*.py")]
    calls = [(p, m) for p in sources for m in re.finditer(r"torch\.load\([^)]*\)", p.read_text())]
    assert calls, "expected torch.load calls to check"
    for path, match in calls:
        assert "weights_only=True" in match.group(0), f"{path}: {match.group(0)}"


def test_written_files_get_the_mode_open_would_give(tmp_path):
    """Not mkstemp's 0600: metrics and models must be readable by whoever may read the repo."""
    atomic.write_json(tmp_path / "written.json", {})
    (tmp_path / "opened.json").write_text("{}")
    modes = [(tmp_path / n).stat().st_mode & 0o777 for n in ("written.json", "opened.json")]
    assert modes[0] == modes[1]
