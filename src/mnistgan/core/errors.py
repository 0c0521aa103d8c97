"""One exception type for everything a user can fix, so stages report it in one line."""

import sys
from collections.abc import Callable


class UserError(Exception):
    """Bad params, data or checkpoint: printed as `error: ...`, exit status 1, no traceback."""


INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells give


def exit_on_user_error(main: Callable[[], None]) -> None:
    """Run a stage's main; a UserError becomes one line on stderr and exit status 1, Ctrl-C
    one line and status 130 (outputs are written atomically, and training resumes)."""
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)
