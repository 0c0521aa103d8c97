"""The package's parts stay apart: the GAN side and the evaluation side never import each
other, core imports neither, and each stage's deps in dvc.yaml name every library folder the
stage runs code from, so a changed module always reruns the stages it shapes."""

import ast
from pathlib import Path

import yaml
from conftest import REPO

PKG = REPO / "src/mnistgan"
PARTS = ["core", "data", "gan", "evaluation", "search", "explorer"]
MAY_IMPORT = {"core": {"core"}, "data": {"core", "data"}, "gan": {"core", "gan"}}
MAY_IMPORT["evaluation"] = {"core", "evaluation"}
# runs the stages through DVC, never imports them; reads evaluation's metric names and targets
MAY_IMPORT["search"] = {"core", "evaluation", "search"}
MAY_IMPORT["explorer"] = {"core", "gan", "explorer"}  # exports the generator's layers
# single modules a part may read from another: names, no code (the search's objectives)
NAMES_FROM = {"search": {"mnistgan.evaluation.metric_names"}}


def parts_imported(path: Path, names_only: frozenset[str] = frozenset()) -> set[str]:
    """The parts of mnistgan that the module at `path` imports, the modules `names_only`
    aside."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            each = [f"{module}.{a.name}" for a in node.names]
            shared = module in names_only or all(name in names_only for name in each)
            names = [] if shared else [module]
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name not in names_only]
        for name in names:
            bits = name.split(".")
            if bits[0] == "mnistgan" and len(bits) > 1 and bits[1] in PARTS:
                found.add(bits[1])
    return found


def test_each_part_imports_only_what_it_may():
    for part, allowed in MAY_IMPORT.items():
        for module in (PKG / part).glob("*.py"):
            shared = frozenset(NAMES_FROM.get(part, ()))
            assert parts_imported(module, shared) <= allowed, f"{module.relative_to(REPO)}"


def test_every_library_module_lives_in_a_part():
    assert {p.name for p in PKG.glob("*.py")} == {"__init__.py", "__main__.py"}


def test_stage_deps_name_every_part_the_stage_runs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        needed = {"core"}
        todo = parts_imported(REPO / f"stages/{name}.py")
        while todo:  # and what those parts import in turn
            part = todo.pop()
            needed.add(part)
            todo |= MAY_IMPORT[part] - needed
        deps = set(stage["deps"])
        if name == "download":  # its one module: a rerun fetches the data set again
            assert "src/mnistgan/data/raw.py" in deps
            continue
        missing = {f"src/mnistgan/{part}" for part in needed} - deps
        assert not missing, f"{name}: {missing}"
