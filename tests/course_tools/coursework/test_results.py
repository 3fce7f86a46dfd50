"""course_tools.coursework.results: shards and merging results."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools.coursework import (
    CourseworkError,
    GradeRow,
    Results,
    Shard,
    merge,
)

ROWS = [
    GradeRow("ada", "toy", "Exercise 2", "ex2_test", "code", 3.0, 3.0, "passed", ""),
    GradeRow("ada", "toy", "Exercise 3", "ex3_w", "written", None, 2.0,
             "needs manual grading", "grade it, by hand", "reads files"),
    GradeRow("bo", "toy", "Exercise 2", "ex2_test", "code", 0.5, 3.0, "partial", "a\nb"),
]  # fmt: skip


def test_merge_refuses_a_row_that_is_not_one(tmp_path: Path) -> None:
    from course_tools.coursework import Shard

    results = Results(list(ROWS), {}, students=("ada", "bo"), fingerprint="f")
    path = results.save_partial(tmp_path / Shard(0, 1).filename, Shard(0, 1))
    document = path.read_text(encoding="utf-8").replace('"partial"', '"halfway"')
    path.write_text(document, encoding="utf-8")
    with pytest.raises(CourseworkError, match=r"holds a row that is not one \(status must be"):
        merge([tmp_path])


def test_shard_parse() -> None:
    assert Shard.parse("2/5") == Shard(2, 5)
    assert Shard(2, 5).filename == "shard-2-of-5.json"
