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
from course_tools.coursework.results import select_pairs

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


def test_select_pairs_every_pair_some_students_or_a_shard() -> None:
    pairs = [(s, c) for s in ("ada", "bo", "cy") for c in ("toy", "twin")]
    assert select_pairs(pairs) == sorted(pairs)
    assert select_pairs(pairs, students=["bo"]) == [("bo", "toy"), ("bo", "twin")]
    # shard K of N: every N-th pair sorted by chapter, then student (a share of each chapter)
    assert select_pairs(pairs, shard=Shard(0, 2)) == [("ada", "toy"), ("bo", "twin"), ("cy", "toy")]
    shards = [select_pairs(pairs, shard=Shard(k, 4)) for k in range(4)]
    assert sorted(p for shard in shards for p in shard) == sorted(pairs)
