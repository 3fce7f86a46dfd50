"""Find the book and its chapters' exercises notebooks, and read their nbgrader cells."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CourseworkError

__all__ = [
    "EXERCISES_SUFFIX",
    "HIDDEN_BEGIN",
    "HIDDEN_END",
    "Cell",
    "default_book",
    "find_chapters",
    "hidden_lines",
    "nbgrader_cells",
    "resolve_chapters",
    "text",
]

#: An exercises notebook is ``<chapter>_exercises.ipynb``; ``<chapter>`` names it.
EXERCISES_SUFFIX = "_exercises.ipynb"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_EXERCISE_HEADING = re.compile(r"^#{1,6}\s*(Exercise\s+\d+[A-Za-z]?)\b", re.MULTILINE)


def default_book(start: str | Path | None = None) -> Path:
    """The book folder: ``book/`` in the current folder or the nearest folder above it
    that has one next to a ``_toc.yml``; else the current folder itself.

    The tool works from a course checkout (or a copy of its ``book/``), never from the
    folder it is installed in.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "book").is_dir() and (folder / "_toc.yml").is_file():
            return folder / "book"
    return here / "book" if (here / "book").is_dir() else here


def text(source: str | list[str]) -> str:
    """A notebook field that may be a string or a list of lines, as one string."""
    return "".join(source) if isinstance(source, list) else str(source)


def find_chapters(book_dir: str | Path) -> dict[str, Path]:
    """Every ``<chapter>_exercises.ipynb`` under ``book_dir``, as ``{chapter: path}``.

    Hidden folders (``.ipynb_checkpoints``) and build output (``_build``) are skipped.

    Raises:
        CourseworkError: if ``book_dir`` is not a folder, or two notebooks share a chapter.
    """
    book_dir = Path(book_dir)
    if not book_dir.is_dir():
        raise CourseworkError(
            f"book folder '{book_dir}' does not exist: expected a folder holding "
            f"<chapter>{EXERCISES_SUFFIX} notebooks (see --book)"
        )
    found: dict[str, Path] = {}
    for path in sorted(book_dir.rglob(f"*{EXERCISES_SUFFIX}")):
        parts = path.relative_to(book_dir).parts
        if any(p.startswith(".") or p == "_build" for p in parts) or not path.is_file():
            continue
        chapter = path.name[: -len(EXERCISES_SUFFIX)]
        if chapter in found:
            raise CourseworkError(
                f"chapter '{chapter}' is defined twice: {found[chapter]} and {path}; "
                "expected one exercises notebook per chapter name"
            )
        found[chapter] = path
    return found


def resolve_chapters(chapters: Sequence[str | Path] | None, book_dir: Path) -> dict[str, Path]:
    """``{chapter: source path}`` for chapter names or exercises-notebook paths (None: all).

    Raises:
        CourseworkError: an unknown chapter, a path that is not an exercises notebook, or
            no chapter at all.
    """
    wanted = list(chapters or [])
    by_path = [c for c in wanted if str(c).endswith(".ipynb")]
    by_name = [str(c) for c in wanted if not str(c).endswith(".ipynb")]
    available = find_chapters(book_dir) if by_name or not wanted else {}
    if not wanted:
        if not available:
            raise CourseworkError(
                f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book_dir}': "
                "expected at least one chapter to release"
            )
        return available
    resolved: dict[str, Path] = {}
    for name in by_name:
        if name not in available:
            choices = ", ".join(sorted(available)) or "(none found)"
            raise CourseworkError(
                f"unknown chapter '{name}': expected one of {choices} "
                f"(the <chapter> of a <chapter>{EXERCISES_SUFFIX} under '{book_dir}')"
            )
        resolved[name] = available[name]
    for item in by_path:
        path = Path(item)
        if not path.name.endswith(EXERCISES_SUFFIX) or not path.is_file():
            raise CourseworkError(
                f"'{path}' is not an exercises notebook: expected an existing file "
                f"named <chapter>{EXERCISES_SUFFIX}"
            )
        resolved[path.name[: -len(EXERCISES_SUFFIX)]] = path
    return resolved


@dataclass(frozen=True)
class Cell:
    """A cell that nbgrader tracks (it has a ``grade_id``), with its exercise heading."""

    grade_id: str
    cell_type: str
    exercise: str
    source: str
    locked: bool
    graded: bool
    solution: bool
    points: float
    metadata: dict[str, Any]

    @property
    def kind(self) -> str:
        """``code`` (an autograded test cell) or ``written`` (an answer graded by hand)."""
        return "code" if self.cell_type == "code" else "written"

    @property
    def is_test(self) -> bool:
        return self.graded and not self.solution and self.cell_type == "code"


def nbgrader_cells(notebook: dict[str, Any]) -> list[Cell]:
    """The cells with a ``grade_id``, in order, each with the exercise heading above it."""
    cells, exercise = [], ""
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict):
            continue
        source = text(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            heading = _EXERCISE_HEADING.search(source)
            exercise = heading.group(1) if heading else exercise
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and meta.get("grade_id"):
            cells.append(
                Cell(
                    grade_id=str(meta["grade_id"]),
                    cell_type=str(cell.get("cell_type", "")),
                    exercise=exercise,
                    source=source,
                    locked=bool(meta.get("locked")),
                    graded=bool(meta.get("grade")),
                    solution=bool(meta.get("solution")),
                    points=float(meta.get("points", 0) or 0),
                    metadata=dict(meta),
                )
            )
    return cells


def hidden_lines(notebook: dict[str, Any]) -> set[str]:
    """The stripped, non-empty lines between the hidden-test markers of a source notebook."""
    lines: set[str] = set()
    for cell in notebook.get("cells", []):
        inside = False
        for line in text(cell.get("source", "")).splitlines():
            stripped = line.strip()
            if stripped.startswith(HIDDEN_BEGIN):
                inside = True
            elif stripped.startswith(HIDDEN_END):
                inside = False
            elif inside and stripped:
                lines.add(stripped)
    return lines
