"""Installs as lean as the job: running needs requirements.txt only, CI installs and tests
exactly as the README says, and code that writes no table never loads pandas."""

import re
import sys
import tomllib

import pytest
from conftest import REPO, run

TEST_TOOLS = {"pytest", "psutil", "playwright", "ruff"}


def names(path: str) -> list[str]:
    """The package names pinned in a requirements file (not -r / -e lines)."""
    lines = [line.split("#")[0].strip() for line in (REPO / path).read_text().splitlines()]
    return [re.split(r"[=<>~!\[ ]", line)[0].lower() for line in lines if line[:1].isalnum()]


def commands(text: str) -> list[str]:
    """Shell lines without comments, each `&&` part on its own."""
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    return [" ".join(part.split()) for line in lines for part in line.split("&&") if part.strip()]


def test_running_needs_no_test_tools_and_matches_pyproject():
    running, dev = names("requirements.txt"), names("requirements-dev.txt")
    assert not TEST_TOOLS & set(running), "test tools belong in requirements-dev.txt"
    assert TEST_TOOLS <= set(dev)
    assert (REPO / "requirements-dev.txt").read_text().startswith("-r requirements.txt\n")
    assert "-e ." in (REPO / "requirements.txt").read_text().splitlines()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert sorted(running) == sorted(d.lower() for d in project["dependencies"])


def test_ci_installs_and_tests_as_the_readme_says():
    readme = (REPO / "README.md").read_text()
    setup, tests = (
        re.search(rf"## {section}\n.*?```bash\n(.*?)```", readme, re.S).group(1)
        for section in ("Set up", "Tests")
    )
    install = [c for c in commands(setup) if c.startswith("pip install")]
    assert install == ["pip install -r requirements.txt"]
    ci = commands((REPO / ".ci/run").read_text())
    readme_says = install + commands(tests)
    assert [c for c in ci if c.startswith(("pip install -r", "python -m pytest"))] == readme_says


@pytest.mark.slow  # a fresh Python that imports torch
def test_stages_that_write_no_table_never_import_pandas():
    """evaluate writes CSVs with pandas; DVCLive (train, evaluate) loads it on its own."""
    modules = [
        "mnistgan",
        "mnistgan.core.atomic",
        "mnistgan.__main__",
        "stages.prepare",
        "stages.sample",
        "stages.train_classifier",
        "stages.plots_page",
        "stages.explore",
    ]
    probe = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "    if 'pandas' in sys.modules:\n"
        "        sys.exit(f'importing {m} imported pandas')\n"
    )
    run([sys.executable, "-c", probe], REPO, timeout=120)
