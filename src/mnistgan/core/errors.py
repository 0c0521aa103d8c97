"""One exception type for everything a user can fix, so stages report it in one line."""

import sys
from collections.abc import Callable


class UserError(Exception):
    """Bad params, data or checkpoint: printed as `error: ...`, exit status 1, no traceback."""


def exit_on_user_error(main: Callable[[], None]) -> None:
    """Run a stage's main; a UserError becomes one line on stderr and exit status 1."""
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
