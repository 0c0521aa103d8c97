"""What a long stage prints as it goes: readable numbers, and, where no terminal shows a
progress bar (`dvc queue`, CI, a log file), a line at least every minute."""

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

EVERY = 60.0  # seconds between lines where no progress bar shows


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def numbers(values: dict[str, float]) -> str:
    """`d_loss 1.234, g_loss 0.8765`: four significant digits, no JSON."""
    return ", ".join(f"{k} {v:.4g}" for k, v in values.items())


class Heartbeat:
    """For a loop: `due()` is true once every `every` seconds when stderr is no terminal
    (a terminal has tqdm's bar), so the loop can print where it is."""

    def __init__(self, every: float = EVERY, clock: Callable[[], float] = time.monotonic):
        self.every, self.clock = every, clock
        self.on = not sys.stderr.isatty()
        self.last = clock()

    def due(self) -> bool:
        now = self.clock()
        if not self.on or now - self.last < self.every:
            return False
        self.last = now
        return True


@contextlib.contextmanager
def ticking(what: str, every: float = EVERY) -> Iterator[None]:
    """For a block with no loop of its own to report from: says `what` and the seconds so
    far every `every` seconds while it runs (from a thread; nothing once it ends)."""
    began, done = time.monotonic(), threading.Event()

    def beat() -> None:
        while not done.wait(every):
            say(f"{what}: {time.monotonic() - began:.0f} s so far")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
