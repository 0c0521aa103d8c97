"""Every stage and command runs under exit_on_user_error: what a user can fix, or a Ctrl-C,
is one line on stderr and an exit status, never a traceback."""

import signal
import subprocess
import sys

import pytest
from conftest import REPO

from mnistgan.core.errors import UserError, exit_on_user_error


def stop(error: BaseException):
    def main() -> None:
        raise error

    return main


@pytest.mark.parametrize(
    "error, line, status",
    [
        (UserError("x.pt: bad"), "error: x.pt: bad\n", 1),
        (KeyboardInterrupt(), "interrupted\n", 130),
    ],
)
def test_a_user_error_or_ctrl_c_is_one_line_and_an_exit_status(capsys, error, line, status):
    with pytest.raises(SystemExit) as e:
        exit_on_user_error(stop(error))
    assert e.value.code == status and capsys.readouterr().err == line


# A stage that Ctrl-C stops half-way: SIGINT to itself, as the terminal sends it
INTERRUPTED_STAGE = """
import os, signal, time
from mnistgan.core.errors import exit_on_user_error
def main():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(60)
exit_on_user_error(main)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to itself is a POSIX signal")
def test_ctrl_c_during_a_stage_prints_one_line_and_exits_130():
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_STAGE],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO / "src")},
    )
    assert (result.returncode, result.stderr) == (130, "interrupted\n")
    assert signal.SIGINT == 130 - 128
