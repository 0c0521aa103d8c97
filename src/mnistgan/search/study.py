"""The search: an Optuna study whose trials are DVC experiments. Optuna proposes params (TPE,
which also handles several objectives), DVC's queue runs them, and each result is told back,
with J experiments in flight. The study lives in one journal file, so the same command again
continues it: every trial records its experiment's name, a finished one is told once, one
lost in flight (killed, or dropped from the queue) is queued again under the same trial.

Results are told in trial order, and trial n is proposed with a sampler seeded by a hash of
the seed and n, right after trial n - J is told: so the same seed proposes the same trials,
whatever order the experiments end in and however often the search was stopped. The price: a
free worker may wait for an earlier, slower trial."""

import contextlib
import hashlib
import json
import math
import os
import re
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from mnistgan.core.errors import UserError
from mnistgan.search import experiments, seeds
from mnistgan.search.space import Objective, Spec

FOLDER = Path("search")  # studies (name.journal) and their plots (plots/name.png)
POLL = 5.0  # s between looks at the queue, after a trial ends
POLL_MAX = 30.0  # ... growing to this while none does: each look (`dvc exp show`) costs CPU
WORKER_CHECK = 120.0  # s between checks that a trial DVC shows running has a worker alive
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # a file in FOLDER, and a git ref's part
ORPHAN_KILLS = 3  # kills of one task DVC's queue left running with no worker, before giving up
HEARTBEAT = 120.0  # s of silence while trials run before a progress line says the search lives
CTRL_C = "Ctrl-C"  # why a search stops: the first Ctrl-C ...
TIME_SPENT = "--timeout spent"  # ... or its time budget
STOP_WAIT = 60.0  # s a stop waits for its killed experiments to show failed, to remove them


def check_name(name: str, where: str) -> str:
    """`name`, if a name: the journal and the plot it names must stay in FOLDER, and its
    experiments' names must be git refs (no `..`)."""
    if not NAME.fullmatch(name) or ".." in name:
        raise UserError(
            f"{where} {name}: a study's name, not a path: up to 100 letters, digits, '.', '_' "
            "or '-', the first a letter or digit, no '..'"
        )
    return name


def journal(name: str) -> Path:
    return FOLDER / f"{name}.journal"


def storage(name: str, appending: bool = True) -> JournalStorage:
    """The journal of the study `name`, read: a file that is not one (cut, overwritten, another
    tool's) or that holds another study is refused in one line naming it."""
    path = journal(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        check_journal(path, appending)
    try:
        found = JournalStorage(JournalFileBackend(str(path)))
        names = [s.study_name for s in found.get_all_studies()]
    except Exception as e:  # whatever replaying a foreign file raises
        raise UserError(f"{path}: not a study journal ({type(e).__name__}: {e})") from None
    if names not in ([], [name]):
        raise UserError(
            f"{path}: holds the study {', '.join(names)}, not {name}: a journal renamed or "
            "copied; give it back its name, or move it away to start over"
        )
    return found


def check_journal(path: Path, appending: bool) -> None:
    """Each line of the journal at `path` must be one JSON entry of Optuna's. Optuna skips a
    bad last line, as one being written; but a search appending after it would make it a bad
    line in the middle, which stops every later read: so only --show, reading while a search
    may write, lets a last line without its newline pass."""
    try:
        with path.open("rb") as f:
            lines = f.read().split(b"\n")
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror})") from None
    last = len(lines)  # the text after the last newline: b"" when whole
    for number, line in enumerate(lines, 1):
        if number == last and (not line or not appending):
            return
        try:
            entry = json.loads(line)
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            raise UserError(f"{path}: not a study journal (line {number}: not JSON)") from None
        if not isinstance(entry, dict) or "op_code" not in entry:
            raise UserError(
                f"{path}: not a study journal (line {number}: not an entry of Optuna's journal)"
            )


def describe(spec: Spec) -> dict:
    """What makes a study the same study, as JSON the journal keeps (its repeats only when
    several: the studies written before --repeats are of one)."""
    return {
        "space": {k: distribution_to_json(d) for k, d in spec.space.items()},
        "objectives": [[o.metric, o.direction] for o in spec.objectives],
        "set": spec.fixed,
    } | ({"repeats": spec.repeats} if spec.repeats > 1 else {})


def create(name: str, spec: Spec) -> optuna.Study:
    """The study `name`: new, or the one its journal holds, which must be of the same spec."""
    study = optuna.create_study(
        study_name=name,
        storage=storage(name),
        directions=[o.direction for o in spec.objectives],
        load_if_exists=True,
    )
    stored = study.user_attrs.get("spec")
    if stored is None and study.get_trials(deepcopy=False):
        raise UserError(f"{journal(name)}: a study this command did not write (no spec)")
    if stored is None:
        study.set_user_attr("spec", describe(spec))
    if study.metric_names is None:  # Optuna's dashboard and plots label their axes with them
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([o.metric for o in spec.objectives])
    elif stored != describe(spec):
        raise UserError(
            f"{journal(name)}: this study searched another space, objectives, set values or "
            "--repeats; "
            "give this search another --name, or delete that file to start over"
        )
    return study


def load(name: str) -> tuple[optuna.Study, list[Objective]]:
    """An existing study and its objectives, for --show."""
    if not journal(name).is_file():
        raise UserError(f"{journal(name)}: no such study (give its --name or its spec file)")
    study = optuna.load_study(study_name=name, storage=storage(name, appending=False))
    return study, stored_objectives(study, journal(name))


def stored_objectives(study: optuna.Study, path: Path) -> list[Objective]:
    """The objectives the journal's spec names: any metric, so that a study of an older
    rule (the test FID) still shows."""
    spec = study.user_attrs.get("spec")
    goals = spec.get("objectives") if isinstance(spec, dict) else None
    pairs = goals if isinstance(goals, list) else []
    ok = [
        Objective(g[0], g[1])
        for g in pairs
        if isinstance(g, list) and len(g) == 2 and g[1] in ("minimize", "maximize")
    ]
    if not ok or len(ok) != len(pairs) or len(ok) != len(study.directions):
        raise UserError(f"{path}: a study this command did not write (no spec of objectives)")
    return ok


LOCK_TRIES = 2  # a stale lock (its process gone) is removed, and taken on the second try


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the study `name` while this search runs: two at once would ask for the same trial
    numbers and queue each other's experiments. The lock file holds the pid; a lock whose
    process is gone (a crash, a reboot) is stale and taken over."""
    path = FOLDER / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = f"{os.getpid()}\n"
    for _ in range(LOCK_TRIES):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock_holder(path)
            if holder is not None and holder_alive(holder):
                raise UserError(
                    f"search {name}: already running (pid {holder}, {path}); wait for it, "
                    f"or delete {path} if no search of it runs"
                ) from None
            path.unlink(missing_ok=True)  # stale, or half-written by a crash
            continue
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        break
    else:
        raise UserError(f"{path}: taken again as its stale lock was removed; try again")
    try:
        yield
    finally:
        if lock_holder(path) == os.getpid():  # not a lock another search took over
            path.unlink(missing_ok=True)


def lock_holder(path: Path) -> int | None:
    """The pid in the lock file at `path`; None if gone or unreadable."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def holder_alive(pid: int) -> bool:
    """Whether the process `pid` runs (our own pid in a lock we have not taken: reused)."""
    import psutil  # DVC's own dependency: the search runs only beside DVC

    return pid != os.getpid() and psutil.pid_exists(pid)


def jobs_bound(jobs: int, trials: int, cores: int, repeats: int = 1) -> tuple[int, str]:
    """At most one experiment in flight per core (more only contend for them) and per
    experiment asked for (a trial's `repeats` seeds each): the bound, and why when it is
    lower than `jobs`."""
    bound = min(jobs, cores, trials * repeats)
    if bound == jobs:
        return jobs, ""
    asked = f"--trials {trials}" + (f" x --repeats {repeats}" if repeats > 1 else "")
    why = f"the {cores} cores this search may use" if bound == cores else asked
    return bound, f"--jobs {jobs}: {bound} at once, as many as {why}"


def trial_seed(seed: int, number: int) -> int:
    """The sampler's seed for trial `number`: a hash, so that each --seed is a stream of its
    own (seed + number made --seed 3's trials those of --seed 0 from its 4th on)."""
    digest = hashlib.sha256(f"mnistgan search {seed} {number}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def experiment(trial: FrozenTrial) -> str:
    """The trial's experiment (its first seed's, with --repeats): the one to adopt."""
    return trial.user_attrs.get("experiment", "")


def runs(trial: FrozenTrial) -> list[str]:
    """The trial's experiments: one, or one per seed with --repeats."""
    names = trial.user_attrs.get("experiments")
    return list(names) if isinstance(names, list) else [n for n in [experiment(trial)] if n]


def run_name(study: str, number: int, seed: int | None, attempt: int) -> str:
    """`<study>-<n>`, `-s<seed>` with --repeats, `-r<k>` when queued again."""
    return (
        f"{study}-{number}"
        + (f"-s{seed}" if seed is not None else "")
        + (f"-r{attempt}" if attempt else "")
    )


def fmt(values: dict) -> str:
    return " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def duration(trial: FrozenTrial) -> float | None:
    """Seconds from a trial's experiment being queued to the search seeing it end; from
    Optuna's start and completion times for a trial that did not record them."""
    queued, ended = trial.user_attrs.get("queued_at"), trial.user_attrs.get("ended_at")
    if isinstance(queued, (int, float)) and isinstance(ended, (int, float)):
        return ended - queued
    if trial.datetime_start and trial.datetime_complete:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


def time_left(running: list[float], waiting: int, mean: float, jobs: int) -> float:
    """Seconds until the last trial ends: each running trial needs `mean` less what it has
    run (`running`: seconds since each was queued), and each of the `waiting` trials not yet
    queued takes the first of the `jobs` slots to free up, for `mean` seconds."""
    slots = sorted([max(mean - ran, 0.0) for ran in running] + [0.0] * max(jobs - len(running), 0))
    for _ in range(waiting):
        slots[0] += mean
        slots.sort()
    return max(slots, default=0.0)


def span(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def progress(
    trials: list[FrozenTrial], total: int, jobs: int, now: float, queueing: bool = True
) -> str:
    """`k/N done, J running, about M min left`: the time from the mean duration of the
    finished trials, `jobs` at once; `now` a wall time (time.time) as the trials keep. Once
    stopping (not `queueing`), the time the running trials need."""
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAIL)]
    failed = sum(t.state == TrialState.FAIL for t in trials)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    line = f"{len(finished)}/{total} done" + (f" ({failed} failed)" if failed else "")
    line += f", {len(running)} running"
    durations = [d for t in finished if t.state == TrialState.COMPLETE and (d := duration(t))]
    if not durations:
        return line + ", time left: known once a trial is done" if running else line
    mean = statistics.fmean(durations)
    ran = [now - t.user_attrs.get("queued_at", now) for t in running]
    waiting = max(total - len(finished) - len(running), 0) if queueing else 0
    left = time_left(ran, waiting, mean, jobs)
    return line + (f", about {span(left)} left" if running or waiting else "")


def pause(seconds: float, wake: threading.Event) -> None:
    """Sleep `seconds`, or until `wake` is set (a Ctrl-C asking to stop: said at once)."""
    wake.wait(seconds)
    wake.clear()


class Search:
    """One run of the command: fills J slots, tells results in trial order, queues again
    what was lost. A stop (the first Ctrl-C, or --timeout spent) queues nothing more and
    lets what runs finish; Ctrl-C again (or SIGTERM) stops what it queued."""

    def __init__(
        self,
        study: optuna.Study,
        spec: Spec,
        seed: int,
        jobs: int,
        log_line: Callable,
        plot: Callable[[optuna.Study], None] | None = None,
        deadline: float = math.inf,
    ):
        self.study, self.spec, self.seed, self.jobs, self.out = study, spec, seed, jobs, log_line
        self.plot = plot or (lambda study: None)  # redrawn after each finished trial
        self.deadline = deadline  # time.monotonic after which no new trial is queued
        self.absent: dict[str, int] = {}  # experiment -> looks in a row it was gone
        self.orphan_kills: dict[str, int] = {}  # a queue task's rev -> kills it outlived
        self.checked = -math.inf  # when the workers were last checked (time.monotonic)
        self.workerless = False  # the last check found no worker alive while trials ran
        self.ended: dict[int, float] = {}  # trial number -> when all its runs were seen ended
        self.slots = max(1, -(-jobs // spec.repeats))  # trials in flight: jobs runs at once
        self.stopping = ""  # why no new trial is queued; "" while queueing
        self.announced = False  # the stop's line is said
        self.wake = threading.Event()  # set by a stop: the wait between looks ends
        self.spoke = time.monotonic()  # when the last line was said
        self.changed = False  # a trial was queued or told since the last progress line
        self.total = 0  # --trials of this run

    def log_line(self, line: str) -> None:
        self.out(line)
        self.spoke = time.monotonic()

    def request_stop(self, why: str) -> None:
        """Queue no new trial; what runs finishes. Safe in a signal handler: it only sets."""
        if not self.stopping:
            self.stopping = why
        self.wake.set()

    def announce(self) -> None:
        running = len(self.trials(TrialState.RUNNING))
        again = " again" if self.stopping == CTRL_C else ""
        self.log_line(
            f"stopping ({self.stopping}): no new trials; {running} running will finish; "
            f"Ctrl-C{again} to kill them"
        )
        self.announced = True

    def progress(self) -> None:
        queueing = not self.stopping
        self.log_line(progress(self.trials(), self.total, self.jobs, time.time(), queueing))
        self.changed = False

    def resumed(self) -> None:
        """What an earlier run of this study left: trials in flight, and done."""
        trials = self.trials()
        if not trials:
            return
        flying = [t.number for t in trials if t.state == TrialState.RUNNING]
        done = len(trials) - len(flying)
        where = (
            f"{len(flying)} trial{'s' * (len(flying) != 1)} in flight "
            f"(number{'s' * (len(flying) != 1)} {', '.join(map(str, flying))})"
            if flying
            else "no trial in flight"
        )
        self.log_line(f"resuming: {where}, {done} done")

    def trials(self, state: TrialState | None = None) -> list[FrozenTrial]:
        found = self.study.get_trials(deepcopy=False)
        return sorted((t for t in found if state in (None, t.state)), key=lambda t: t.number)

    def attrs(self, number: int, **attrs) -> None:
        trial = optuna.trial.Trial(self.study, self.trials()[number]._trial_id)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)

    def submit(
        self, trial: FrozenTrial | optuna.trial.Trial, again: list[int] = (), attempt: int = 0
    ) -> None:
        """Queue the trial's experiments (one per seed with --repeats: `train.seed` 0..K-1);
        `again`: the indexes of the ones to queue again, under their next attempt; else all,
        as `attempt`."""
        repeats = self.spec.repeats
        names = runs(trial) if again else [""] * repeats
        attempts = list(trial.user_attrs.get("attempts") or [trial.user_attrs.get("attempt", 0)])
        attempts = attempts if again else [attempt] * repeats
        for i in again or range(repeats):
            attempts[i] += 1 if again else 0
            seed = i if repeats > 1 else None
            names[i] = run_name(self.study.study_name, trial.number, seed, attempts[i])
            values = self.spec.fixed | trial.params | ({"train.seed": i} if repeats > 1 else {})
            experiments.queue(names[i], values)
            self.absent[names[i]] = 0
        self.attrs(
            trial.number,
            experiment=names[0],
            attempt=attempts[0],
            **({"experiments": names, "attempts": attempts} if repeats > 1 else {}),
            baseline=experiments.head(),
            stop=False,
            queued_at=time.time(),
        )
        self.changed = True
        shown = ", ".join(names[i] for i in again or range(repeats))
        self.log_line(f"trial {trial.number} queued as {shown}: {fmt(trial.params)}")

    def ask(self) -> None:
        number = len(self.trials())
        sampler = optuna.samplers.TPESampler(seed=trial_seed(self.seed, number))
        self.study.sampler = sampler  # seeded by trial: the same proposals after a restart
        self.submit(self.study.ask(self.spec.space))

    def tell(self, trial: FrozenTrial, exps: list[experiments.Experiment]) -> None:
        """Tell a finished trial's objectives (with --repeats, their mean over its seeds),
        or why it failed."""
        failed = [e.name for e in exps if e.state == "failed"]
        if failed:
            return self.fail(trial, experiments.failure(failed[0]))
        per_run = []  # objective values, one list per experiment
        for exp in exps:
            for o in self.spec.objectives:
                if o.metric not in exp.metrics:
                    found = ", ".join(sorted(exp.metrics)) or "none"
                    raise UserError(
                        f"objective {o.metric}: not among {exp.name}'s metrics ({found})"
                    )
            per_run.append([exp.metrics[o.metric] for o in self.spec.objectives])
        bad = [
            f"{o.metric} is {v}" + (f" ({exp.name})" if len(exps) > 1 else "")
            for exp, values in zip(exps, per_run, strict=True)
            for o, v in zip(self.spec.objectives, values, strict=True)
            if not finite(v)
        ]
        if bad:
            return self.fail(trial, ", ".join(bad))
        columns = [list(c) for c in zip(*per_run, strict=True)]  # per objective, per seed
        values = [seeds.spread(c)[0] for c in columns]  # the mean, as `mnistgan seeds` does
        if len(exps) > 1:
            self.attrs(trial.number, seed_values={o.metric: c for o, c in zip(
                self.spec.objectives, columns, strict=True)})  # fmt: skip
        self.attrs(trial.number, ended_at=self.ended.get(trial.number, time.time()))
        self.study.tell(trial.number, values)
        self.told()
        shown = {o.metric: v for o, v in zip(self.spec.objectives, values, strict=True)}
        if len(values) == 1:
            top = self.study.best_trial
            metric = self.spec.objectives[0].metric
            best = f"best so far: trial {top.number}, {fmt({metric: top.values[0]})}"
        else:
            best = f"trials on the Pareto front: {len(self.study.best_trials)}"
        spread = ""
        if len(exps) > 1:
            sds = ", ".join(f"{seeds.spread(c)[1]:.2g}" for c in columns)
            spread = f" (mean of {len(exps)} seeds, sd {sds})"
        name = experiment(trial) if len(exps) == 1 else f"{len(exps)} seeds"
        self.log_line(f"trial {trial.number} ({name}) done: {fmt(shown)}{spread}; {best}")

    def fail(self, trial: FrozenTrial, reason: str) -> None:
        self.attrs(trial.number, error=reason, ended_at=self.ended.get(trial.number, time.time()))
        self.study.tell(trial.number, state=TrialState.FAIL)
        self.told()
        self.log_line(f"trial {trial.number} ({experiment(trial)}) failed: {reason}")

    def told(self) -> None:
        self.changed = True
        self.plot(self.study)

    def look(self, pending: list[FrozenTrial]) -> dict[str, experiments.Experiment]:
        """One look at the queue: requeue what is lost, or was stopped by us and failed."""
        baselines = [t.user_attrs["baseline"] for t in pending if "baseline" in t.user_attrs]
        try:
            shown = experiments.show(baselines or [experiments.head()])
        except experiments.Orphan as e:
            name = experiments.task_name(e.rev)
            self.orphan_kill(e.rev, name)
            self.stop_lost(pending, [name], "no worker runs it")
            return self.look(self.trials(TrialState.RUNNING))
        running = [
            n for t in pending for n in runs(t) if (e := shown.get(n)) and e.state == "running"
        ]
        if self.dead_workers(bool(running)):  # a reboot or a killed worker left them "running"
            self.stop_lost(pending, running, "no worker is alive")
            return self.look(self.trials(TrialState.RUNNING))
        mine = [shown[n] for t in pending for n in runs(t) if n in shown]
        if any(e.state == "queued" for e in mine) and not any(e.state == "running" for e in mine):
            experiments.start_workers(self.jobs)  # none started, or DVC's stopped early
        for t in pending:
            if not runs(t):  # stopped between its proposal and its queueing
                lost = self.absent[f"#{t.number}"] = self.absent.get(f"#{t.number}", 0) + 1
                if lost >= 2:  # as a lost experiment: its name may be taken, so -r1
                    self.log_line(f"trial {t.number} has no experiment: queued")
                    self.submit(t, attempt=1)
                    experiments.start_workers(self.jobs)
                continue
            again = []
            for i, name in enumerate(runs(t)):
                exp = shown.get(name)
                self.absent[name] = 0 if exp else self.absent.get(name, 0) + 1
                stopped = t.user_attrs.get("stop") and (exp is None or exp.state == "failed")
                if stopped or self.absent[name] >= 2:  # twice: not just between two states
                    why = "was stopped" if stopped else "is gone from DVC's queue"
                    self.log_line(f"trial {t.number} ({name}) {why}: queued again")
                    if exp:  # its failed row would show the baseline's metrics in `dvc exp show`
                        experiments.remove([name])
                    again.append(i)
            if again:
                self.submit(t, again)
                experiments.start_workers(self.jobs)
            elif all(shown.get(n) and shown[n].state in ("success", "failed") for n in runs(t)):
                self.ended.setdefault(t.number, time.time())
        return shown

    def orphan_kill(self, rev: str, name: str) -> None:
        """Count a kill of the orphaned task `rev`; once ORPHAN_KILLS did not end it, stop the
        search and say what to run by hand: every look fails while it stays."""
        kills = self.orphan_kills[rev] = self.orphan_kills.get(rev, 0) + 1
        if kills > ORPHAN_KILLS:
            raise UserError(
                f"{name}: DVC's queue says it runs, with no worker, and {ORPHAN_KILLS} kills did "
                f"not end it; run `dvc queue kill --force {name}`, else `dvc exp remove {name}`, "
                "then this command again"
            )

    def stop_lost(self, pending: list[FrozenTrial], names: list[str], why: str) -> None:
        """Kill the experiments `names` that DVC's queue lost, their trials marked stopped so
        that the next look queues them again instead of telling them as failed."""
        for t in pending:
            if set(runs(t)) & set(names):
                self.attrs(t.number, stop=True)
        for name in names:
            self.log_line(f"{name}: DVC's queue says it runs, but {why}: stopped")
        experiments.stop(names, [])

    def dead_workers(self, running: bool) -> bool:
        """True once two checks of the workers in a row, WORKER_CHECK s apart, found none alive
        while trials ran: one check could fall between a worker's exit and the next's start."""
        now = time.monotonic()
        if not running:
            self.workerless = False
        elif now - self.checked >= WORKER_CHECK:
            self.checked, none_alive = now, experiments.workers() == 0
            dead, self.workerless = self.workerless and none_alive, none_alive
            return dead
        return False

    def run(self, n_trials: int) -> None:
        """Run until the study holds `n_trials` trials, all told, or until a stop, what
        runs told. A progress line after each change, and every HEARTBEAT s of silence."""
        self.total = n_trials
        self.resumed()
        shown = None
        pending = self.trials(TrialState.RUNNING)
        queued_new = False
        wait = POLL
        while True:
            more = len(self.trials()) < n_trials
            if more and not self.stopping and time.monotonic() >= self.deadline:
                self.request_stop(TIME_SPENT)
            if self.stopping and not self.announced:
                self.announce()
            while not self.stopping and len(pending) < self.slots and len(self.trials()) < n_trials:
                self.ask()
                pending, queued_new = self.trials(TrialState.RUNNING), True
            if not pending:
                if self.changed:
                    self.progress()
                return
            if shown is None:
                if queued_new:
                    experiments.start_workers(self.jobs)
                    queued_new = False
                shown = self.look(pending)
                pending = self.trials(TrialState.RUNNING)
            head = pending[0]
            exps = [shown.get(n) for n in runs(head)]
            if exps and all(e and e.state in ("success", "failed") for e in exps):
                self.tell(head, exps)
                pending, wait = self.trials(TrialState.RUNNING), POLL
                continue  # propose the next trial before telling the one after
            shown = None
            if self.changed or time.monotonic() - self.spoke >= HEARTBEAT:
                self.progress()
            budget = self.deadline - time.monotonic()  # wake at the deadline, not after it
            pause(min(wait, budget) if budget > 0 and not self.stopping else wait, self.wake)
            wait = min(wait * 1.5, POLL_MAX)

    def stop(self) -> list[str]:
        """Stop this search's experiments in flight, marked so the next run queues them again:
        the queued ones first (else a worker freed by a kill would start one). Then remove
        the killed ones once DVC shows them failed: a failed row in `dvc exp show` carries
        the baseline's metrics, as if it had scored them. What is not failed within STOP_WAIT
        s is removed by the next run, as it queues the trial again."""
        pending = self.trials(TrialState.RUNNING)
        for t in pending:
            self.attrs(t.number, stop=True)
        names = [n for t in pending for n in runs(t)]
        if not names:
            return names
        baselines = [t.user_attrs["baseline"] for t in pending if runs(t)]
        shown = experiments.show(baselines)
        state = {n: shown[n].state if n in shown else None for n in names}
        queued = [n for n in names if state[n] == "queued"]
        killed = [n for n in names if state[n] == "running"]
        experiments.stop(killed + queued, queued)
        deadline = time.monotonic() + STOP_WAIT
        try:
            while killed:
                shown = experiments.show(baselines)
                failed = [n for n in killed if n in shown and shown[n].state == "failed"]
                if failed:
                    experiments.remove(failed)
                killed = [n for n in killed if n in shown and shown[n].state == "running"]
                if not killed or time.monotonic() > deadline:
                    break
                time.sleep(POLL)
        except KeyboardInterrupt:  # Ctrl-C once more: the next run removes them
            pass
        return names


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
