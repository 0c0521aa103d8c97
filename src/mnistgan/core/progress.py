"""What a long stage prints as it goes: readable numbers, and, where no terminal shows a
progress bar (`dvc queue`, CI, a log file), a line at least every minute."""

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

EVERY = 60.0  # seconds between lines where no progress bar shows
FIRST_LOOK = 20.0  # s into a loop when its pace is first told: well inside its first minute


def log_line(msg: str) -> None:
    """A line for the person watching: on stderr, so stdout stays the command's output."""
    print(msg, file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    """`45 s`, `13 min`, `2.1 h`: how long, to the precision a person plans with."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class Pace:
    """A loop's pace, told once early: `step()`, called once a step, returns a line the first
    time the loop has run FIRST_LOOK seconds (its steps per second, the time left of `total`
    steps, then `why_slow(cpu_seconds, wall_seconds)`), else None. Where a terminal shows a
    progress bar, the line comes only when `why_slow` has something to say: a crowded CPU
    is then told in the first minute, not at the end of an epoch that takes thirteen."""

    def __init__(
        self,
        what: str,
        total: int,
        why_slow: Callable[[float, float], str],
        clock: Callable[[], float] = time.perf_counter,
        cpu_clock: Callable[[], float] = time.process_time,
        terminal: bool | None = None,
    ):
        self.what, self.total, self.why_slow = what, total, why_slow
        self.clock, self.cpu_clock = clock, cpu_clock
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.began, self.cpu_began, self.done, self.told = clock(), cpu_clock(), 0, False

    def step(self) -> str | None:
        self.done += 1
        if self.told:
            return None
        wall, done = self.clock() - self.began, self.done
        if wall < FIRST_LOOK:
            return None
        self.told = True
        why = self.why_slow(self.cpu_clock() - self.cpu_began, wall)
        if self.terminal and not why:
            return None
        left = wall / done * (self.total - done)
        return (
            f"{self.what}: {done}/{self.total} steps in {wall:.0f} s "
            f"({done / wall:.3g} steps/s, about {duration(left)} to go){why}"
        )


def epoch_pace(per_epoch: float, epochs_left: int) -> str:
    """The last epoch's pace and how long the rest takes at it: a run that will overrun its
    budget says so after one epoch, and a machine that gets busier or quieter shows at the
    next."""
    return f" ({per_epoch:.0f} s/epoch, about {per_epoch * epochs_left / 60:.0f} min to go)"


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
            log_line(f"{what}: {time.monotonic() - began:.0f} s so far")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
