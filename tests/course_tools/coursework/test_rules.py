"""The grader's scoring rules, each alone, on notebooks and replies built by hand (no kernel).

A one-exercise notebook (an answer cell, then a test cell worth 2 points, then a written
answer) is "executed" here by giving its cells outputs, and the sandbox's reply (where the
run stopped, what was cut or timed out) is a :class:`Reply` written in the table.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from course_tools.coursework.protocol import CRASH, DEADLINE, Reply, RunResult, Stopped, TimedOut
from course_tools.coursework.records import ANSWER_TIMED_OUT, GradeRow, Status
from course_tools.coursework.rules import (
    AMEND,
    DECIDE,
    MAX_MESSAGE,
    At,
    Outcome,
    notes,
    outcome,
    shortened,
)
from course_tools.coursework.scoring import run_context, score_rows
from course_tools.coursework.submissions import Prepared
from course_tools.notebooks.cells import nbgrader_cells

ANSWER, TEST, WRITTEN = 2, 3, 5  # the cells' indices


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


def _error(name: str, value: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": name, "evalue": value, "traceback": []}


def _stderr(value: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stderr", "text": value}


def _result(
    outputs: dict[int, list[dict[str, Any]]] | None = None,
    stopped: Stopped | None = None,
    cut: tuple[int, ...] = (),
    timed_out: tuple[TimedOut, ...] = (),
) -> tuple[dict[str, Any], RunResult]:
    notebook = _notebook()
    for index, found in (outputs or {}).items():
        notebook["cells"][index]["outputs"] = found
    return notebook, RunResult(Reply(notebook, stopped, cut, timed_out))


def _rows(
    result: RunResult, prepared: Prepared | None = None, review: str = ""
) -> dict[str, GradeRow]:
    released = nbgrader_cells(_notebook())
    prepared = prepared or Prepared(_notebook())
    rows = score_rows("ada", "toy", released, prepared, result, review, 512)
    return {row.grade_id: row for row in rows}


ANSWER_RAISED = "answer cell 'ex1_answer' raised NameError: name 'x' is not defined"
TIMED = "answer cell 'ex1_answer' timed out after 5 s of CPU time"

# (what happens, the run, the test row's (score, status, message))
CASES = [
    ("the test runs without an error", {}, (2.0, Status.PASSED, "")),
    (
        "the test raises",
        {"outputs": {TEST: [_error("AssertionError", "mean is wrong")]}},
        (0.0, Status.FAILED, "AssertionError: mean is wrong"),
    ),
    (
        "a warning on stderr costs nothing",
        {"outputs": {TEST: [_stderr("UserWarning: careful\n")]}},
        (2.0, Status.PASSED, "warnings on stderr (not counted): UserWarning: careful"),
    ),
    (
        "partial credit from the test's value",
        {
            "outputs": {
                TEST: [
                    {
                        "output_type": "execute_result",
                        "data": {"text/plain": "1.5"},
                        "metadata": {},
                        "execution_count": 1,
                    }
                ]
            }
        },
        (1.5, Status.PARTIAL, ""),
    ),
    (
        "the answer raised, so the test failed",
        {
            "outputs": {
                ANSWER: [_error("NameError", "name 'x' is not defined")],
                TEST: [_error("NameError", "name 'mean' is not defined")],
            }
        },
        (0.0, Status.FAILED, f"{ANSWER_RAISED}; NameError: name 'mean' is not defined"),
    ),
    (
        "an answer that raised is not told on a test that passed",
        {"outputs": {ANSWER: [_error("NameError", "name 'x' is not defined")]}},
        (2.0, Status.PASSED, ""),
    ),
    (
        "a MemoryError names the limit",
        {"outputs": {TEST: [_error("MemoryError", "")]}},
        (0.0, Status.FAILED, "MemoryError (the memory limit is 512 MB)"),
    ),
    (
        "the kernel died in the test",
        {"stopped": Stopped(CRASH, TEST, "the kernel died")},
        (
            0.0,
            Status.FAILED,
            "the kernel died in cell 'ex1_test' (Exercise 1) (os._exit, a "
            "crash or the memory limit)",
        ),
    ),
    (
        "the kernel died before the test",
        {"stopped": Stopped(CRASH, ANSWER, "the kernel died")},
        (
            0.0,
            Status.FAILED,
            "not run: the kernel died in cell 'ex1_answer' (Exercise 1) "
            "(os._exit, a crash or the memory limit)",
        ),
    ),
    (
        "the notebook's time ran out at the test",
        {"stopped": Stopped(DEADLINE, TEST, "the notebook's time was used up")},
        (
            0.0,
            Status.FAILED,
            "not run: the notebook's time was used up (at cell 'ex1_test' (Exercise 1))",
        ),
    ),
    (
        "the answer timed out, the test passed: its points stand",
        {"timed_out": (TimedOut(ANSWER, 5.0),)},
        (
            2.0,
            ANSWER_TIMED_OUT,
            f"{TIMED} and was interrupted: this test ran after it (score kept)",
        ),
    ),
    (
        "the answer timed out, the test failed",
        {
            "timed_out": (TimedOut(ANSWER, 5.0),),
            "outputs": {TEST: [_error("NameError", "name 'mean' is not defined")]},
        },
        (0.0, Status.FAILED, f"{TIMED} and was interrupted; NameError: name 'mean' is not defined"),
    ),
    (
        "the test's own time-out is its error, not an answer's",
        {
            "timed_out": (TimedOut(TEST, 5.0),),
            "outputs": {TEST: [_error("TimeoutError", "timed out after 5 s of CPU time")]},
        },
        (0.0, Status.FAILED, "TimeoutError: timed out after 5 s of CPU time"),
    ),
    (
        "the test's output was cut",
        {"cut": (TEST,)},
        (2.0, Status.PASSED, "output cut (too long)"),
    ),
    (
        "the answer's output was cut: a note on its exercise",
        {"cut": (ANSWER,)},
        (2.0, Status.PASSED, "the output of cell 'ex1_answer' was cut (too long)"),
    ),
]


@pytest.mark.parametrize(("run", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_test_row(run: dict[str, Any], expected: tuple[Any, ...]) -> None:
    _, result = _result(**run)
    row = _rows(result)["ex1_test"]
    assert (row.score, row.status, row.message) == expected
    assert row.max_score == 2.0


def test_an_interrupted_answer_is_flagged_for_review() -> None:
    _, result = _result(timed_out=(TimedOut(ANSWER, 5.0),))
    assert _rows(result, review="reads or lists files")["ex1_test"].review == (
        f"reads or lists files; {TIMED} (interrupted)"
    )
    _, result = _result()
    assert _rows(result)["ex1_test"].review == ""


def test_a_renamed_or_missing_test_scores_0() -> None:
    _, result = _result()
    prepared = Prepared(_notebook(), renamed={"ex1_test": "mine"})
    row = _rows(result, prepared)["ex1_test"]
    assert (row.score, row.status, row.message) == (0.0, Status.FAILED, "")
    notebook, result = _result()
    del notebook["cells"][TEST]
    row = _rows(result)["ex1_test"]
    assert (row.score, row.status, row.message) == (0.0, Status.FAILED, "")


def test_written_answers_are_left_for_a_human_or_score_0_unchanged() -> None:
    from nbformat import from_dict
    from nbgrader.utils import compute_checksum

    _, result = _result()
    row = _rows(result)["ex2_answer"]
    assert (row.kind, row.score, row.max_score) == ("written", None, 1.0)
    assert (row.status, row.message) == (Status.NEEDS_MANUAL_GRADING,
                                         "written answer: grade it by hand")  # fmt: skip
    notebook, result = _result()
    cell = notebook["cells"][WRITTEN]
    cell["metadata"]["nbgrader"]["checksum"] = compute_checksum(from_dict(cell))
    row = _rows(result)["ex2_answer"]
    assert (row.score, row.status, row.message) == (
        0.0, Status.NO_ANSWER, "the answer cell was left as released"
    )  # fmt: skip


def test_notes_of_the_submission_end_the_messages_and_are_left_unchanged() -> None:
    _, result = _result(cut=(ANSWER,))
    prepared = Prepared(_notebook())
    prepared.note("Exercise 1", "a test cell was restored")
    prepared.note("", "a cell was added above the exercises")
    before = copy.deepcopy(prepared.notes)
    rows = _rows(result, prepared)
    assert rows["ex1_test"].message == (
        "a test cell was restored; the output of cell 'ex1_answer' was cut (too long); "
        "a cell was added above the exercises"
    )
    assert prepared.notes == before


def test_a_long_message_is_cut() -> None:
    _, result = _result(outputs={TEST: [_error("AssertionError", "x" * 500), _stderr("y" * 500)]})
    message = _rows(result)["ex1_test"].message
    assert len(message) == MAX_MESSAGE
    assert message.endswith("...")


def test_each_amending_rule_alone() -> None:
    notebook, result = _result()
    run = run_context(nbgrader_cells(notebook), Prepared(notebook), result, 512)
    (test,) = [c for c in nbgrader_cells(notebook) if c.grade_id == "ex1_test"]
    at = At(test, TEST, run)
    long = Outcome(0.0, Status.FAILED, "y" * (MAX_MESSAGE + 1))
    assert shortened(at, long).message == "y" * (MAX_MESSAGE - 3) + "..."
    assert shortened(at, replace(long, message="short")).message == "short"
    noted = replace(run, notes={"Exercise 1": ("one",), "": ("two",)})
    assert notes(At(test, TEST, noted), Outcome(1.0, Status.PASSED, "")).message == "one; two"
    passed = Outcome(2.0, Status.PASSED, "", ran=True)
    assert all(rule(at, passed) == passed for rule in AMEND)  # nothing to add
    assert outcome(at) == passed
    assert [rule.__name__ for rule in DECIDE][-1] == "ran"  # the one that always answers
