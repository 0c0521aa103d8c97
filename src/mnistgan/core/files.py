"""Reading the small text files a user hands in (params.yaml, a search spec, page templates)
as files: bounded, and only when they are regular files.

`Path.read_text` reads whatever the name leads to until it ends: a link to /dev/zero grows
memory until the machine runs out, and a FIFO blocks for ever, waiting for a writer. Here the
kind is checked before the file is opened (opening a device can do things), opened without
blocking, checked again on the open file (it may have been swapped in between), and read up
to a cap: one line naming the file, whatever it is.
"""

import os
import stat
from pathlib import Path

from mnistgan.core.errors import UserError

MAX_TEXT_BYTES = 1_000_000  # params.yaml is about 6 kB, the page templates under 40 kB

KINDS = {  # what stat says a path is, in words
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def not_a_file(mode: int) -> str | None:
    """What a path of `mode` is, in words, when it is no regular file; None when it is one."""
    if stat.S_ISREG(mode):
        return None
    return KINDS.get(stat.S_IFMT(mode), "no regular file")


def read_text(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES, missing: str = "") -> str:
    """The UTF-8 text of the regular file at `path` (links followed), at most `limit` bytes,
    or a UserError naming it and saying why; `what` names the contents for the message
    ("params"), `missing` is added to the one for a path that does not exist."""
    try:
        kind = not_a_file(os.stat(path).st_mode)  # before opening: opening a device acts
        if kind is None:
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            with os.fdopen(os.open(path, flags), "rb") as f:
                kind = not_a_file(os.fstat(f.fileno()).st_mode)  # swapped in meanwhile?
                data = b"" if kind else f.read(limit + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file{missing}") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    if kind is not None:
        raise UserError(f"{path}: {kind}, not a regular file: cannot read {what} from it")
    if len(data) > limit:
        raise UserError(f"{path}: more than {limit:,} bytes, too large for {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
