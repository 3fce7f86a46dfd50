"""nbgrader's cell format, as the course's exercises notebooks use it.

An exercises notebook (``<chapter>_exercises.ipynb``) is the instructor's source: each cell
nbgrader tracks has ``metadata.nbgrader`` (a ``grade_id``; ``solution``, ``grade``,
``locked``, ``points``). A solution is written between ``### BEGIN SOLUTION`` and
``### END SOLUTION``; an autograded test cell may end with hidden tests between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``, which students never see.

Cells are read as plain dicts (the notebook's JSON), the form the grader and the book's
extension hold them in. nbgrader's own predicates (``nbgrader.utils.is_grade`` ...) take
an ``nbformat`` node and importing ``nbgrader.utils`` takes seconds (it loads setuptools
and tornado), so :func:`nbgrader_metadata` is the one accessor here; nbgrader's scoring
(``nbgrader.utils.determine_grade``) is used where cells are scored
(:mod:`course_tools.coursework.scoring`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXERCISES_SUFFIX",
    "HIDDEN_BEGIN",
    "HIDDEN_END",
    "HIDDEN_NOTE",
    "HIDDEN_TESTS",
    "SOLUTION_BEGIN",
    "SOLUTION_END",
    "SOLUTION_MARKER",
    "Cell",
    "exercise_at_each",
    "first_error",
    "hidden_lines",
    "nbgrader_cells",
    "nbgrader_metadata",
    "shorten",
    "strip_hidden_tests",
    "text",
]

#: An exercises notebook is ``<chapter>_exercises.ipynb``; ``<chapter>`` names it.
EXERCISES_SUFFIX = "_exercises.ipynb"
#: nbgrader's markers around a solution and around the hidden tests of a test cell.
SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: A line holding a solution marker (with its newline).
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
#: A hidden-test block, from its BEGIN line to its END line (or to the end of the source,
#: if the END marker is missing), with the END line's newline.
HIDDEN_TESTS = re.compile(
    rf"^[ \t]*{re.escape(HIDDEN_BEGIN)}.*?(^[ \t]*{re.escape(HIDDEN_END)}[^\n]*\n?|\Z)",
    re.MULTILINE | re.DOTALL,
)
#: What stands where hidden tests were cut out (the website, the feedback pages).
HIDDEN_NOTE = "# (hidden tests run when the exercise is graded)"
_EXERCISE_HEADING = re.compile(r"^#{1,6}\s*(Exercise\s+\d+[A-Za-z]?)\b", re.MULTILINE)


def text(source: str | list[str]) -> str:
    """A notebook field that may be a string or a list of lines, as one string."""
    return "".join(source) if isinstance(source, list) else str(source)


def nbgrader_metadata(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell's ``metadata.nbgrader`` ({} for a cell nbgrader does not track)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def strip_hidden_tests(source: str, note: str | None = HIDDEN_NOTE) -> str:
    """``source`` with each hidden-test block replaced by the line ``note`` (None: nothing),
    as students see a test cell."""
    return HIDDEN_TESTS.sub("" if note is None else note + "\n", source)


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
        """An autograded test cell: graded code that is not an answer."""
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
        meta = nbgrader_metadata(cell)
        if meta.get("grade_id"):
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


def exercise_at_each(cells: list[dict[str, Any]]) -> list[str]:
    """For each cell of ``cells``, the exercise heading of the last cell with a
    ``grade_id`` up to and including it ("" before the first), as :func:`nbgrader_cells`
    labels those cells; one pass."""
    found, heading, last = [], "", ""
    for cell in cells:
        if isinstance(cell, dict):
            if cell.get("cell_type") == "markdown":
                match = _EXERCISE_HEADING.search(text(cell.get("source", "")))
                heading = match.group(1) if match else heading
            if nbgrader_metadata(cell).get("grade_id"):
                last = heading
        found.append(last)
    return found


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


def shorten(value: str, limit: int = 200) -> str:
    """``value`` on one line (whitespace runs made one space), cut to ``limit`` characters."""
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 3] + "..."


def first_error(cell: dict[str, Any], limit: int = 200) -> str:
    """The first error of an executed cell, as ``Name: first line`` cut to ``limit``
    characters ("" if the cell raised nothing)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip().splitlines()
            name = str(output.get("ename", "Error"))
            return f"{name}: {shorten(value[0], limit)}" if value else name
    return ""
