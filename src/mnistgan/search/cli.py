"""`python -m mnistgan search`: its flags, and what it prints and writes."""

import argparse
import functools
import math
import signal
import sys
import time
from pathlib import Path

from mnistgan.core.errors import UserError

# Optuna loads only when a search runs: `python -m mnistgan generate` starts without it.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec", nargs="?", help="a YAML file of objectives, space and set (search/*.yaml)"
    )
    parser.add_argument(
        "-p", dest="space", action="append", default=[], metavar="KEY=SPEC",
        help="a searched params key: log:LO..HI, float:LO..HI, int:LO..HI or choice:A,B,...",
    )  # fmt: skip
    parser.add_argument(
        "-o", dest="objectives", action="append", default=[], metavar="METRIC=min|max",
        help="an objective: a validation metric (default val_fid=min); several give a Pareto front",
    )  # fmt: skip
    parser.add_argument(
        "-S", dest="fixed", action="append", default=[], metavar="KEY=VALUE",
        help="a params value every trial sets, as dvc exp run -S",
    )  # fmt: skip
    parser.add_argument("--trials", type=int, default=20, help="trials in the study, in all")
    parser.add_argument("--jobs", type=int, default=1, help="experiments in flight at once")
    parser.add_argument("--seed", type=int, default=0, help="the same seed proposes the same")
    parser.add_argument(
        "--name", help="the study's name (default: the spec file's name, or search)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, metavar="K",
        help="train each proposal on train.seed 0..K-1; its objective is their mean",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS",
        help="a time budget: queue no trial after it, and let the running ones finish",
    )  # fmt: skip
    parser.add_argument("--show", action="store_true", help="print the best trials; run nothing")


def main(args: argparse.Namespace) -> None:
    import optuna

    from mnistgan.search import space, study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    given = args.name is not None
    name = args.name if given else (Path(args.spec).stem if args.spec else "search")
    study.check_name(name, "--name" if given else f"{args.spec}: its name")
    if args.show:
        found, objectives = study.load(name)
        return finish(found, objectives)
    if args.trials < 1 or args.jobs < 1:
        raise UserError(f"--trials {args.trials} --jobs {args.jobs}: expected both >= 1")
    if args.timeout is not None and not args.timeout > 0:
        raise UserError(f"--timeout {args.timeout:g}: expected a number of seconds > 0")
    deadline = time.monotonic() + args.timeout if args.timeout else math.inf
    spec = space.load(args.spec, args.space, args.objectives, args.fixed, args.repeats)
    space.check(spec)  # before anything is queued
    jobs, lowered = study.jobs_bound(args.jobs, args.trials, cores(), spec.repeats)
    if lowered:
        stamped_line(lowered)
    with study.locked(name):
        found = study.create(name, spec)
        plot = functools.partial(write_plot, objectives=spec.objectives)
        search = study.Search(found, spec, args.seed, jobs, stamped_line, plot, deadline)
        before = signal.signal(signal.SIGINT, functools.partial(gentle, search))
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):  # a closed terminal
            if sig is not None:
                signal.signal(sig, interrupt)
        try:
            search.run(args.trials)
        except KeyboardInterrupt:
            try:
                names = search.stop()
            except KeyboardInterrupt:  # once more, while stopping
                stamped_line(
                    "stopped; what was in flight may still run: the same command continues it"
                )
                sys.exit(130)
            stamped_line(
                f"stopped, and stopped what was in flight ({', '.join(names) or 'nothing'}): "
                "the same command continues the search, queueing those again"
            )
            sys.exit(130)
        finally:
            signal.signal(signal.SIGINT, before)
        if search.stopping:
            stamped_line("stopped: the same command continues the search")
        finish(search.study, spec.objectives)
        if search.stopping == study.CTRL_C:
            sys.exit(130)


def cores() -> int:
    from mnistgan.core.cpu import usable_cores  # imports torch: only when a search runs

    return usable_cores()


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def gentle(search, signum, frame) -> None:
    """The first Ctrl-C: queue no more, let what runs finish. The next (or one after
    --timeout is spent): stop it all."""
    from mnistgan.search import study  # loaded already: the search runs

    if search.stopping:
        raise KeyboardInterrupt
    search.request_stop(study.CTRL_C)


def stamped_line(line: str) -> None:
    """A line of the search's log, with the time of day: a search runs for hours."""
    print(time.strftime("%H:%M:%S"), line, flush=True)


def write_plot(found, objectives: list) -> Path:
    """Write the plot of every trial, search/plots/NAME.png; its path."""
    from mnistgan.core import atomic
    from mnistgan.search import report, study

    plot = study.FOLDER / "plots" / f"{found.study_name}.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(plot, report.plot_png(found, objectives))
    return plot


def finish(found, objectives: list) -> None:
    """Write the plot of every trial and print the table of the best."""
    from mnistgan.search import report

    plot = write_plot(found, objectives)
    print(report.table(found, objectives))
    print(f"plot of every trial: {plot} (dvc plots show {plot})")
