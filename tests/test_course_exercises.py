"""The site extension that collapses solutions and leaves hidden tests out of the page."""

from __future__ import annotations

import json

from course_exercises import transform_cell, transform_notebook

from course_tools.notebooks.cells import HIDDEN_NOTE


def _cell(kind: str, source: str, **nbgrader: object) -> dict:
    meta = {"nbgrader": {"schema_version": 3, "grade_id": "x", **nbgrader}} if nbgrader else {}
    return {"cell_type": kind, "source": source, "metadata": meta}


def test_code_solution_is_collapsed_and_markers_dropped() -> None:
    cell = _cell(
        "code",
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n",
        solution=True,
        grade=False,
        locked=False,
    )
    out = transform_cell(cell)
    assert out["source"] == "def f(x):\n    return 2 * x\n"
    assert "hide-input" in out["metadata"]["tags"]


def test_code_solution_toggle_says_solution() -> None:
    """Its toggle reads "Show solution", not "Show code cell source" like plotting code."""
    cell = _cell("code", "x = 1\n", solution=True, grade=False, locked=False)
    cell["metadata"]["mystnb"] = {"figure": {"name": "kept"}}
    out = transform_cell(cell)
    assert out["metadata"]["mystnb"] == {
        "figure": {"name": "kept"},
        "code_prompt_show": "Show solution",
        "code_prompt_hide": "Hide solution",
    }


def test_only_solutions_get_the_solution_label() -> None:
    graded = transform_cell(_cell("code", "assert 1\n", solution=False, grade=True, points=1))
    assert "mystnb" not in graded["metadata"]
    assert "tags" not in graded["metadata"]


def test_hidden_tests_are_left_out() -> None:
    source = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS\n"
    out = transform_cell(_cell("code", source, solution=False, grade=True, locked=True, points=1))
    assert out["source"] == "assert f(1) == 2\n" + HIDDEN_NOTE + "\n"
    assert "f(3)" not in out["source"]


def test_written_solution_becomes_a_collapsed_dropdown() -> None:
    out = transform_cell(_cell("markdown", "It is $d$.", solution=True, grade=True, points=2))
    assert out["source"].startswith(":::{admonition} Solution\n:class: dropdown\n")
    assert "It is $d$." in out["source"]


def test_fence_is_longer_than_any_fence_inside_the_answer() -> None:
    answer = ":::{note}\ninner\n:::\n"
    out = transform_cell(_cell("markdown", answer, solution=True, grade=True, points=1))
    assert out["source"].startswith("::::{admonition}")
    assert out["source"].rstrip().endswith("::::")


def test_other_cells_are_untouched() -> None:
    cell = _cell("code", "x = 1\n")
    assert transform_cell(dict(cell)) == cell


def test_transform_notebook_round_trips_json() -> None:
    nb = {"cells": [_cell("code", "y = 2\n")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    assert json.loads(transform_notebook(json.dumps(nb))) == nb
