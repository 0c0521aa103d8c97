"""A trial's life in DVC, through DVC's own commands: queue an experiment with its params
(`dvc exp run --queue -S`), start the queue's workers, read back every experiment's state,
params and metrics (`dvc exp show --json`), and why a failed one failed (`dvc queue logs`).
Each command has a timeout, and none waits on a worker's pipes: the workers are daemons."""

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from mnistgan.core.errors import UserError
from mnistgan.search.space import cli_value

DVC = [sys.executable, "-m", "dvc"]
TIMEOUT = 300  # s: `dvc exp show` reads every experiment's commit; a hung call is an error
LOCKED = "Unable to acquire lock"  # a worker collecting its result holds the repo a moment
SHOW_PATIENCE = 300  # s: how long `dvc exp show` may keep failing while workers come and go
ORPHAN_AFTER = 60  # s: a run's info file missing this long: DVC's queue lost its worker
WORKERS = re.compile(r"Worker status: (\d+) active, (\d+) idle")
MISSING_RUN = re.compile(r"No such file or directory: '[^']*exps[/\\]+run[/\\]+(\w+)[/\\]+\1\.run'")


class Orphan(Exception):  # noqa: N818 (a state, not a failure of the search)
    """A task DVC's queue marks running, with no worker running it and no info file: a race
    between a worker shutting down and a task being queued (treeverse/dvc 8165, 10562). Every
    `dvc exp show` fails until it is killed."""

    def __init__(self, rev: str):
        super().__init__(rev)
        self.rev = rev


@dataclass(frozen=True)
class Experiment:
    name: str
    state: str  # queued, running, success or failed, as DVC's queue says
    params: dict[str, Any]  # "train.lr_g" -> 0.001
    metrics: dict[str, Any]  # "fid" -> 3.7, as `dvc exp show` names the columns


def dvc(args: list[str], timeout: float = TIMEOUT, check: bool = True) -> str:
    """DVC's stdout for `args`; a failure is a UserError with DVC's own last line."""
    for attempt in range(10):
        try:
            result = subprocess.run(
                [*DVC, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,  # a Ctrl-C asks the search to stop, not DVC to die
            )
        except subprocess.TimeoutExpired:
            raise UserError(f"dvc {' '.join(args[:2])}: no answer in {timeout:g} s") from None
        if result.returncode == 0 or not check:
            return result.stdout
        if LOCKED not in result.stderr:
            break
        time.sleep(1 + attempt)
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()] or ["failed"]
    line = next((line for line in lines if line.startswith("ERROR:")), lines[0])
    raise UserError(f"dvc {' '.join(args[:2])}: {line.removeprefix('ERROR: ')}")


def head() -> str:
    """The commit experiments are queued on (their baseline)."""
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=60
    )
    if result.returncode:  # no git repo, or no commit yet
        raise UserError(f"git rev-parse HEAD: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip()


def queue(name: str, values: dict[str, Any]) -> None:
    """One queued experiment: the workspace, with `values` set in params.yaml."""
    sets = [arg for key, value in values.items() for arg in ("-S", f"{key}={cli_value(value)}")]
    dvc(["exp", "run", "--queue", "-n", name, *sets])


def start_workers(jobs: int) -> None:
    """`dvc queue start -j jobs`: starts the workers not already running (none if all are),
    which stop once the queue is empty. Their std streams are /dev/null: they outlive us."""
    try:
        code = subprocess.run(
            [*DVC, "queue", "start", "-j", str(jobs)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            start_new_session=True,
        ).returncode
    except subprocess.TimeoutExpired:
        raise UserError("dvc queue start: no answer in 120 s") from None
    if code:
        raise UserError(f"dvc queue start -j {jobs}: exit status {code}")


def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr_g": 1}} -> {"train.lr_g": 1}."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}{key}.").items()}


def parse_show(shown: list[dict]) -> dict[str, Experiment]:
    """Experiments by name from `dvc exp show --json`: a list of baselines, each with its
    experiments, each with its executor's state (none: done and collected)."""
    found = {}
    for baseline in shown:
        for run in baseline.get("experiments") or []:
            rev = (run.get("revs") or [{}])[0]
            name = run.get("name") or rev.get("name")
            data = rev.get("data") or {}
            values: dict[str, dict] = {"params": {}, "metrics": {}}
            for kind in values:
                for result in (data.get(kind) or {}).values():
                    tree = (result or {}).get("data") or {}
                    values[kind] |= {k.rstrip("."): v for k, v in flat(tree).items()}
            state = (run.get("executor") or {}).get("state") or "success"
            if name:
                found[name] = Experiment(name, state, values["params"], values["metrics"])
    return found


def show(baselines: list[str]) -> dict[str, Experiment]:
    """Every experiment on the commits `baselines`, queued, running, failed or done."""
    revs = [arg for rev in dict.fromkeys(baselines) for arg in ("--rev", rev)]
    # It can catch a worker setting up or removing its copy of the repo: then it fails ("Empty
    # git repo", or a run's info file not found) or hangs (docs/search.md). Seconds when well:
    # ask again, for up to SHOW_PATIENCE s.
    deadline, missing = time.monotonic() + SHOW_PATIENCE, {}
    while True:
        try:
            shown = dvc(["exp", "show", "--json", "--no-pager", *revs], timeout=60)
            return parse_show(json.loads(shown))
        except UserError as e:
            if found := MISSING_RUN.search(str(e)):
                since = missing.setdefault(found[1], time.monotonic())
                if time.monotonic() - since > ORPHAN_AFTER:
                    raise Orphan(found[1]) from None
            elif time.monotonic() > deadline:
                raise
            time.sleep(5)


def task_name(rev: str) -> str:
    """The name of the queue's task `rev` (`dvc queue status` shows 7 hex digits), else rev."""
    status = dvc(["queue", "status"], timeout=120, check=False)
    for line in status.splitlines():
        task, *rest = line.split() or [""]
        if len(task) >= 7 and rev.startswith(task) and rest:
            return rest[0]
    return rev


def workers() -> int | None:
    """How many of the queue's workers are alive (`dvc queue status`); None if it does not say."""
    found = WORKERS.search(dvc(["queue", "status"], timeout=120, check=False))
    return int(found[1]) + int(found[2]) if found else None


def failure(name: str) -> str:
    """Why the experiment `name` failed, in one line from its log: a stage's own `error:`
    line, else the line before DVC's ERROR, else DVC's last line."""
    log = dvc(["queue", "logs", name], timeout=120, check=False)
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    mine = [line for line in lines if line.startswith("error: ")]
    if mine:
        return mine[-1].removeprefix("error: ")
    dvc_error = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), None)
    if dvc_error:
        return f"{lines[dvc_error - 1]} ({lines[dvc_error].removeprefix('ERROR: ')})"
    return lines[-1] if lines else f"no log (dvc queue logs {name})"


def remove(names: list[str]) -> None:
    """Remove the failed (or queued) experiments `names` from DVC's queue, and so from
    `dvc exp show`; one already gone is no error."""
    dvc(["queue", "remove", *names], timeout=120, check=False)


def stop(running: list[str], queued: list[str]) -> None:
    """Drop the queued experiments, then kill the running ones (and any that a worker
    started meanwhile); what already ended is left as it is."""
    if queued:
        dvc(["queue", "remove", *queued], timeout=120, check=False)
    if running:
        dvc(["queue", "kill", *running], timeout=120, check=False)
