"""The files a grading run writes and reads back (:mod:`course_tools.coursework.outputs`),
on rows built by hand (no kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools.coursework import (
    CSV_FIELDS,
    ChapterInfo,
    CourseworkError,
    GradeRow,
    Results,
    Status,
    read_grades_csv,
    write,
    write_grades_csv,
    write_pages,
)

ROWS = [
    GradeRow("ada", "toy", "Exercise 2", "ex2_test", "code", 3.0, 3.0, "passed", ""),
    GradeRow("ada", "toy", "Exercise 3", "ex3_w", "written", None, 2.0,
             "needs manual grading", "grade it, by hand", "reads files"),
    GradeRow("bo", "toy", "Exercise 2", "ex2_test", "code", 0.5, 3.0, "partial", "a\nb"),
]  # fmt: skip


def test_the_grades_csv_reads_back_as_written(tmp_path: Path) -> None:
    path = write_grades_csv(ROWS, tmp_path / "grades.csv")
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_FIELDS)
    assert read_grades_csv(path) == ROWS
    assert all(isinstance(row.status, Status) for row in read_grades_csv(path))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n", r"is not a grades CSV of this tool: expected the header student,chapter"),
        (",".join(CSV_FIELDS) + "\nada,toy\n", r"line 2 has 2 fields: expected 10"),
        (",".join(CSV_FIELDS) + "\nada,toy,E,g,code,1,1,done,,\n",
         r"line 2: status must be one of 'passed', .*, got 'done'"),
    ],
)  # fmt: skip
def test_read_grades_csv_refuses(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CourseworkError, match=message):
        read_grades_csv(path)


def test_pages_replace_those_of_the_students_covered_only(tmp_path: Path) -> None:
    old_ada, old_bo = tmp_path / "ada" / "old_feedback.html", tmp_path / "bo" / "old_feedback.html"
    for old in (old_ada, old_bo):
        old.parent.mkdir(parents=True)
        old.write_text("old", encoding="utf-8")
    written = write_pages({("ada", "toy"): "<p>new</p>"}, tmp_path, students=["ada"])
    assert written == [tmp_path / "ada" / "toy_feedback.html"]
    assert written[0].read_text(encoding="utf-8") == "<p>new</p>"
    assert not old_ada.exists()
    assert old_bo.read_text(encoding="utf-8") == "old"


def test_write_writes_every_output(tmp_path: Path) -> None:
    info = ChapterInfo(("ex2_test", "ex3_w"), ("ex2_test",), ("assert hidden()",))
    results = Results(list(ROWS), {"toy": info}, {("ada", "toy"): "<p>page</p>"},
                      students=("ada", "bo"))  # fmt: skip
    out, summary = write(results, tmp_path / "grades.csv", None, tmp_path / "feedback",
                         tmp_path / "gradescope")  # fmt: skip
    assert summary == tmp_path / "grades-by-student.csv"
    assert summary.read_text(encoding="utf-8").splitlines() == [
        "student,toy,total", "ada,3,3", "bo,0.5,0.5"
    ]  # fmt: skip
    assert (tmp_path / "feedback" / "ada" / "toy_feedback.html").is_file()
    assert sorted(p.parent.name for p in (tmp_path / "gradescope").glob("*/results.json")) == [
        "ada", "bo"
    ]  # fmt: skip
    assert read_grades_csv(out) == ROWS
