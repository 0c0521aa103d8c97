"""The product speaks of itself: a README short enough to read, no history words outside the
dated study records (docs/studies/), and no link to a file that is not there."""

import re
from pathlib import Path

from conftest import REPO

STUDIES = REPO / "docs/studies"
HISTORY = re.compile(
    r"\bsessions?\b|\brounds? \d|\bround-\d|\bissues? #?\d+|(?<![\w/.-])#\d+\b"
    r"|previous default|\d+-minute budget",
    re.I,
)
# pytest's own word for a fixture that lives as long as the test run
ALLOWED = ['scope="session"']


def product_files() -> list[Path]:
    """README, docs (not the study records), code, tests, bench, pipeline and CI files."""
    names = ("README.md", "CONTRIBUTING.md", "dvc.yaml", "params.yaml", "pyproject.toml")
    files = [REPO / name for name in names]
    files += [p for p in (REPO / "docs").rglob("*.md") if STUDIES not in p.parents]
    for folder in ("src", "stages", "tests", "bench"):
        files += sorted((REPO / folder).rglob("*.py"))
    files += [p for p in (REPO / ".ci").rglob("*") if p.is_file()]
    return [p for p in files if p != Path(__file__).resolve()]


def test_readme_is_at_most_200_lines():
    assert len((REPO / "README.md").read_text().splitlines()) <= 200


def test_no_history_words_outside_the_study_records():
    found = []
    for path in product_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for allowed in ALLOWED:
                line = line.replace(allowed, "")
            found += [f"{path.relative_to(REPO)}:{number}: {line.strip()}"] * bool(
                HISTORY.search(line)
            )
    assert not found, "history words belong in docs/studies/:\n" + "\n".join(found)


def test_every_relative_link_and_docs_path_exists():
    missing = []
    pages = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").rglob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if not re.match(r"[a-z]+:|#", target):
                if not (page.parent / target.split("#")[0]).exists():
                    missing.append(f"{page.relative_to(REPO)}: ({target})")
    for path in product_files():
        for target in re.findall(r"(?<![\w/])docs/[\w./-]*\w", path.read_text()):
            if not (REPO / target).exists():
                missing.append(f"{path.relative_to(REPO)}: {target}")
    assert not missing, "links to files that do not exist:\n" + "\n".join(missing)


def test_the_code_tour_names_modules_and_functions_that_exist():
    """CONTRIBUTING.md's `part/module.py` paths, and each `function` it names beside one."""
    tour = (REPO / "CONTRIBUTING.md").read_text()
    src = REPO / "src/mnistgan"
    modules = re.findall(r"`((?:core|data|gan|evaluation|search|explorer)/\w+\.py)`", tour)
    assert len(modules) >= 5
    for module in modules:
        assert (src / module).is_file(), module
    for module, name in re.findall(r"`(gan/\w+\.py)`, `(\w+)`", tour):
        assert f"def {name}(" in (src / module).read_text(), (module, name)
    code = "\n".join(p.read_text() for p in src.rglob("*.py"))
    for name in ("gan_step", "d_update", "g_update", "train_step", "train_epoch", "rule"):
        assert f"`{name}" in tour and f"def {name}(" in code, name
