"""Gradescope's autograder results: the ``results.json`` document of one student
(:mod:`.outputs` writes ``<student>/results.json``).

The fields are those of Gradescope's autograder specification (``results.json``): at the
top, ``score``, ``execution_time`` (seconds), ``output``, ``visibility`` and
``stdout_visibility``; ``tests``, one per autograded test cell, each with ``score``,
``max_score``, ``name``, ``number``, ``output``, ``tags`` and ``visibility``, one of
:data:`VISIBILITIES`.

A test cell that holds hidden tests gets the visibility chosen for hidden tests
(``after_published`` by default, or ``hidden``): its score tells something of the hidden
asserts. Every ``output`` has the hidden-test lines cut, as the feedback pages do. Written
answers are not autograder tests (grade them as Gradescope's manual questions), and
neither are ``error`` rows without a chapter (a stray file).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .errors import CourseworkError
from .feedback import strip_hidden
from .results import Results

__all__ = ["HIDDEN_VISIBILITIES", "VISIBILITIES", "gradescope_results"]

#: Gradescope's visibility values.
VISIBILITIES: tuple[str, ...] = ("visible", "hidden", "after_due_date", "after_published")
#: The choices for tests that hold hidden asserts.
HIDDEN_VISIBILITIES: tuple[str, ...] = ("after_published", "hidden", "after_due_date")


def _points(value: float | None) -> float | int:
    number = float(value or 0.0)
    return int(number) if number.is_integer() else number


def gradescope_results(
    student: str, results: Results, hidden_visibility: str = "after_published"
) -> dict[str, Any]:
    """The ``results.json`` document of one student (see the module docstring)."""
    if hidden_visibility not in HIDDEN_VISIBILITIES:
        raise CourseworkError(
            f"the visibility of hidden tests must be one of {', '.join(HIDDEN_VISIBILITIES)}, "
            f"got {hidden_visibility!r}"
        )
    chapters = sorted(results.chapters)
    tests = []
    counts: dict[str, int] = defaultdict(int)
    for row in results.rows:
        if row.student != student or row.kind != "code" or row.chapter not in results.chapters:
            continue
        info = results.chapters[row.chapter]
        counts[row.chapter] += 1
        hidden = set(info.hidden_lines)
        outcome = row.status if not row.message else f"{row.status}: {row.message}"
        tests.append(
            {
                "score": _points(row.score),
                "max_score": _points(row.max_score),
                "name": f"{row.chapter}: {row.exercise} ({row.grade_id})",
                "number": f"{chapters.index(row.chapter) + 1}.{counts[row.chapter]}",
                "output": strip_hidden(outcome, hidden).strip(),
                "tags": [row.chapter, row.exercise] if row.exercise else [row.chapter],
                "visibility": hidden_visibility if row.grade_id in info.hidden_tests else "visible",
            }
        )
    score = sum(float(t["score"]) for t in tests)
    possible = sum(float(t["max_score"]) for t in tests)
    seconds = sum(w for (s, _), (w, _) in results.timing.items() if s == student)
    output = f"{_points(score)} of {_points(possible)} autograded points; written answers "
    output += "are graded by hand."
    return {
        "score": _points(score),
        "execution_time": round(seconds),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
