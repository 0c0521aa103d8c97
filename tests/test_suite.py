"""The suite's own rules: test modules share helpers through conftest.py, never by importing
one another; and unit tests run on small params of their own, so tuning a default in
params.yaml breaks none of them (test_defaults alone reads the shipped file, as committed)."""

import ast
from pathlib import Path

from conftest import REPO

TESTS = sorted((REPO / "tests").glob("*.py"))
THIS = Path(__file__).resolve()


def imported(path: Path) -> set[str]:
    """The top-level names of the modules `path` imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_module_imports_another():
    modules = {path.stem for path in TESTS if path.stem.startswith("test_")}
    assert {path.name: imported(path) & modules for path in TESTS} == {
        path.name: set() for path in TESTS
    }


def test_only_test_defaults_reads_the_shipped_params():
    readers = [
        p.name
        for p in TESTS
        if ('REPO / "params.yaml"' in p.read_text() or "HEAD:params.yaml" in p.read_text())
        and p != THIS
    ]
    assert readers == ["test_defaults.py"]
