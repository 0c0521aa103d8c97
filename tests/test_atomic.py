"""Outputs are written whole or not at all, and nothing in the project unpickles freely."""

import errno
import os
import re
from pathlib import Path

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


def test_a_write_failing_half_way_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    """Half the bytes are written, then the writer raises: the target still holds the
    previous contents, whole, and the temp file is gone."""
    target = tmp_path / "out.json"
    atomic.write_json(target, {"old": 1})
    real_fdopen = os.fdopen

    def fdopen(fd, mode):
        f = real_fdopen(fd, mode)
        real_write = f.write

        def half_then_fail(data):
            real_write(data[: len(data) // 2])
            f.flush()
            raise Boom

        f.write = half_then_fail
        return f

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    with pytest.raises(Boom):
        atomic.write_json(target, {"new": 2, "padding": "x" * 100})
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_write_goes_to_a_synced_temp_file_beside_the_target_then_os_replace(
    tmp_path, monkeypatch
):
    """The new bytes are whole in a temp file in the target's folder (same file system: the
    rename is atomic), fsynced, before one os.replace puts it in the target's place; until
    then the target holds its previous contents."""
    target = tmp_path / "out.txt"
    target.write_text("old")
    real_fsync, real_replace, events = os.fsync, os.replace, []

    def fsync(fd):
        stat = os.fstat(fd)
        events.append(("fsync", (stat.st_dev, stat.st_ino)))
        real_fsync(fd)

    def replace(src, dst):
        stat = os.stat(src)
        staged = (stat.st_dev, stat.st_ino), Path(src).read_bytes(), target.read_text()
        events.append(("replace", str(src), str(dst), *staged))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic.write_bytes(target, b"new contents")
    assert [e[0] for e in events] == ["fsync", "replace"]
    (_, synced), (_, src, dst, replaced, staged, target_then) = events
    assert synced == replaced and dst == str(target)  # the file synced is the one renamed
    assert Path(src).parent == target.parent and Path(src) != target
    assert staged == b"new contents" and target_then == "old"
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


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
