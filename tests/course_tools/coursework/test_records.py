"""course_tools.coursework.records: the grade records check what they hold."""

from __future__ import annotations

import pytest

from course_tools.coursework.records import GradeRow, Status


def test_a_row_status_must_be_a_status() -> None:
    row = GradeRow("ada", "toy", "", "g", "code", 1.0, 1.0, "passed", "")
    assert row.status is Status.PASSED
    assert f"{row.status}" == str(row.status) == "passed"
    with pytest.raises(ValueError, match="status must be one of 'passed', .*, got 'done'"):
        GradeRow("ada", "toy", "", "g", "code", 1.0, 1.0, "done", "")
