"""Small CSV writing with a fixed float format, so identical runs write identical bytes."""

from pathlib import Path

from . import atomic


def write_csv(path: str | Path, columns: list[str], rows: list[list]) -> None:
    lines = [",".join(columns)] + [",".join(_cell(v) for v in row) for row in rows]
    atomic.write_text(path, "\n".join(lines) + "\n")


def _cell(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
