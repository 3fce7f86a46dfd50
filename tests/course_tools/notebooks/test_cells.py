"""course_tools.notebooks.cells: the hidden-test markers, nbgrader metadata and exercise lookup."""

from __future__ import annotations

from typing import Any

from course_tools.notebooks import cells
from course_tools.notebooks.cells import nbgrader_cells


def test_the_marker_regex_finds_and_cuts_the_hidden_tests() -> None:
    source = "assert f(1) == 2\n  ### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS\n"
    assert cells.HIDDEN_TESTS.search(source)
    out = cells.strip_hidden_tests(source)
    assert out == "assert f(1) == 2\n" + cells.HIDDEN_NOTE + "\n"
    assert cells.strip_hidden_tests(source, note=None) == "assert f(1) == 2\n"
    assert cells.hidden_lines({"cells": [{"source": source}]}) == {"assert f(3) == 6"}


def test_metadata_and_first_error() -> None:
    cell = {"metadata": {"nbgrader": {"grade_id": "a", "grade": True, "points": 2}}}
    assert cells.nbgrader_metadata(cell)["grade_id"] == "a"
    assert cells.nbgrader_metadata({"metadata": {}}) == {}
    (found,) = cells.nbgrader_cells({"cells": [{"cell_type": "code", "source": "", **cell}]})
    assert found.is_test
    assert found.points == 2.0
    failed = {"outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "x\ny"}]}
    assert cells.first_error(failed) == "AssertionError: x"
    assert cells.first_error({"outputs": []}) == ""


def _cell(cell_type: str, source: str, **nbgrader: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "source": source, "metadata": {}}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "locked": False, **nbgrader}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _notebook() -> dict[str, Any]:
    return {
        "cells": [
            _cell("code", "import math", grade_id="setup", locked=True, grade=False,
                  solution=False),
            _cell("markdown", "## Exercise 1: the mean", grade_id="ex1", locked=True,
                  grade=False, solution=False),
            _cell("code", "def mean(xs): ...", grade_id="ex1_answer", grade=False,
                  solution=True),
            _cell("code", "assert mean([1]) == 1", grade_id="ex1_test", grade=True,
                  solution=False, locked=True, points=2),
            _cell("markdown", "## Exercise 2: why", grade_id="ex2", locked=True,
                  grade=False, solution=False),
            _cell("markdown", "My answer.", grade_id="ex2_answer", grade=True, solution=True,
                  points=1),
        ]
    }  # fmt: skip


def test_exercise_at_each_is_the_exercise_of_the_last_tracked_cell() -> None:
    from course_tools.notebooks.cells import exercise_at_each

    cells = _notebook()["cells"]
    cells.insert(4, _cell("markdown", "## Exercise 9: untracked heading"))
    cells.insert(5, _cell("code", "x = 1"))  # a cell the student added
    expected = [
        nbgrader_cells({"cells": cells[: i + 1]})[-1].exercise if i else ""
        for i in range(len(cells))
    ]
    assert exercise_at_each(cells) == expected
    assert exercise_at_each(cells)[4:6] == ["Exercise 1", "Exercise 1"]
