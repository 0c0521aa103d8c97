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
    files = [REPO / name for name in ("README.md", "dvc.yaml", "params.yaml", "pyproject.toml")]
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
    for page in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if not re.match(r"[a-z]+:|#", target):
                if not (page.parent / target.split("#")[0]).exists():
                    missing.append(f"{page.relative_to(REPO)}: ({target})")
    for path in product_files():
        for target in re.findall(r"(?<![\w/])docs/[\w./-]*\w", path.read_text()):
            if not (REPO / target).exists():
                missing.append(f"{path.relative_to(REPO)}: {target}")
    assert not missing, "links to files that do not exist:\n" + "\n".join(missing)
