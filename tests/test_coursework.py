"""Tests for course_tools.coursework: releasing and grading exercises (the everyday cases).

The chapters are every ``book/**/*_exercises.ipynb`` present when the suite runs, plus the
small fixture ``tests/fixtures/coursework/toy_exercises.ipynb`` (always there). Everything
that executes notebooks happens once per module: one ``release`` of all chapters and one
``grade`` batch in which a student submits every chapter untouched (the real chapters add
their coverage there) and other students submit variants of the fixture only. The
attacks on the sandbox are in ``test_coursework_attacks.py``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbgrader.utils import determine_grade

from course_tools.coursework import (
    CSV_FIELDS,
    EXERCISES_SUFFIX,
    CourseworkError,
    find_chapters,
    grade,
    isolation_warning,
    release,
)
from course_tools.coursework.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "coursework"
FIXTURE = FIXTURE_DIR / f"toy{EXERCISES_SUFFIX}"
REAL_CHAPTERS = find_chapters(ROOT / "book") if (ROOT / "book").is_dir() else {}
SOURCES: dict[str, Path] = {"toy": FIXTURE, **REAL_CHAPTERS}
CHAPTERS = sorted(SOURCES)

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"}


# --- helpers ----------------------------------------------------------------------------


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _split_secret(cell: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(public lines, secret lines) of a source cell: solutions and hidden tests are secret."""
    meta, lines = _nbgrader(cell), _source(cell).splitlines()
    if meta.get("solution"):
        begin, end = SOLUTION_BEGIN, SOLUTION_END
        if not any(line.strip() == begin for line in lines):
            return [], lines  # the whole cell is the answer
    elif meta.get("grade") and cell["cell_type"] == "code":
        begin, end = HIDDEN_BEGIN, HIDDEN_END
    else:
        return lines, []
    public, secret, inside = [], [], False
    for line in lines:
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        else:
            (secret if inside else public).append(line)
    return public, secret


def _strings(value: Any) -> list[str]:
    """Every string anywhere in a JSON document (keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _with_cells(
    notebook: dict[str, Any],
    replace: dict[str, str],
    drop: set[str],
    retype: dict[str, str] | None = None,
) -> str:
    """A copy of ``notebook`` with some cells' sources replaced, some deleted, some retyped."""
    copy = json.loads(json.dumps(notebook))
    copy["cells"] = [c for c in copy["cells"] if _nbgrader(c).get("grade_id") not in drop]
    for cell in copy["cells"]:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in replace:
            cell["source"] = replace[grade_id]
        if grade_id in (retype or {}) and retype[grade_id] == "code":
            cell.update(cell_type="code", outputs=[], execution_count=None)
    return json.dumps(copy)


WARNING_MEAN = """import warnings


def mean(xs):
    warnings.warn("this mean is computed the slow way")
    return sum(xs) / len(xs)
"""
ALWAYS_TWO = "def mean(xs):\n    return 2.0\n"


def _renamed(notebook: dict[str, Any], answers: dict[str, str]) -> str:
    """The student copy with ex2 and ex3 answered and ex2's test cell's grade_id changed."""
    copy = json.loads(
        _with_cells(notebook, {k: answers[k] for k in ("ex2_mean", "ex3_variance")}, set())
    )
    for cell in copy["cells"]:
        if _nbgrader(cell).get("grade_id") == "ex2_test":
            cell["metadata"]["nbgrader"]["grade_id"] = "my_test"
    return json.dumps(copy)


def _digest(folder: Path) -> dict[str, tuple[str, float]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run_main(argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
    return status, out.getvalue(), err.getvalue()


# --- the two module-wide runs -----------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Student copies of every chapter (the fixture and the real ones), via the CLI."""
    out, home = tmp_path_factory.mktemp("released"), tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))  # an empty home folder: nothing may be written there
        status, stdout, stderr = _run_main(
            ["release", *map(str, SOURCES.values()), "--out", str(out)]
        )
    assert status == 0, stderr
    assert not list(home.iterdir()), "release wrote into the home folder"
    assert stdout.count("released ") == len(SOURCES)
    return {chapter: out / f"{chapter}{EXERCISES_SUFFIX}" for chapter in CHAPTERS}


class Graded:
    """The outcome of one ``grade`` run over a class of made-up students."""

    def __init__(self, root: Path, released: dict[str, Path]) -> None:
        self.book = root / "book"
        self.submissions = root / "submissions"
        self.work = root / "work"
        self.csv = root / "grades.csv"
        self.summary = root / "grades-by-student.csv"
        self.feedback = root / "feedback"
        self.book.mkdir()
        for path in SOURCES.values():
            shutil.copyfile(path, self.book / path.name)
        toy_source = json.loads(FIXTURE.read_text(encoding="utf-8"))
        toy_released = json.loads(released["toy"].read_text(encoding="utf-8"))
        answers = {_nbgrader(c).get("grade_id"): _source(c) for c in toy_source["cells"]}
        name = FIXTURE.name
        students: dict[str, dict[str, str | bytes]] = {
            # every chapter exactly as released
            "untouched": {p.name: p.read_text(encoding="utf-8") for p in released.values()},
            # the instructor's source, solutions filled in
            "solved": {name: FIXTURE.read_text(encoding="utf-8")},
            "one_answered": {
                name: _with_cells(toy_released, {"ex3_variance": answers["ex3_variance"]}, set())
            },
            "not_a_notebook": {
                name: "My answers are in the PDF.\n",
                "essay.pdf": "%PDF-1.4\n",
                f"unknown{EXERCISES_SUFFIX}": "{}",
            },
            "binary": {name: b"\x89PNG\r\n\x1a\n\xff\xfe"},
            "corrupt": {name: released["toy"].read_text(encoding="utf-8")[:700]},
            "json_not_notebook": {name: '{"answers": [1, 2]}'},
            "invalid_notebook": {name: '{"cells": [{"cell_type": "poem"}], "nbformat": 4}'},
            # one test cell deleted, another edited, a prompt turned into a code cell
            "altered": {
                name: _with_cells(
                    toy_released, {"ex3_test": "pass"}, {"ex2_test"}, retype={"exercise_4": "code"}
                )
            },
            "deleted_answer_and_test": {
                name: _with_cells(toy_released, {}, {"ex2_mean", "ex2_test"})
            },
            "absent": {},
            "bad name": {name: json.dumps(toy_released)},
            "zoë": {name: FIXTURE.read_text(encoding="utf-8")},  # any alphabet is fine
            # the test cell's grade_id changed: that test counts as missing (0 points)
            "renamed": {name: _renamed(toy_released, answers)},
            # a correct answer that warns: the warning costs nothing
            "warns": {name: _with_cells(toy_released, {"ex2_mean": WARNING_MEAN}, set())},
            # passes the visible test, fails a hidden one
            "hidden_fail": {name: _with_cells(toy_released, {"ex2_mean": ALWAYS_TWO}, set())},
        }
        for student, files in students.items():
            (self.submissions / student).mkdir(parents=True)
            for filename, content in files.items():
                path = self.submissions / student / filename
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content, encoding="utf-8")
        before = _digest(self.submissions)
        self.home = root / "home"  # an empty home folder: nothing may be written there
        self.home.mkdir()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HOME", str(self.home))
            self.status, self.stdout, self.stderr = _run_main(
                ["grade", str(self.submissions), "--out", str(self.csv), "--book",
                 str(self.book), "--workdir", str(self.work), "--feedback", str(self.feedback)]
            )  # fmt: skip
        self.unchanged = _digest(self.submissions) == before
        with self.csv.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            self.header = tuple(reader.fieldnames or ())
            self.rows = list(reader)

    def rows_of(self, student: str, chapter: str = "toy") -> list[dict[str, str]]:
        return [r for r in self.rows if r["student"] == student and r["chapter"] == chapter]

    def autograded(self, student: str, chapter: str) -> dict[str, Any]:
        path = self.work / "graded" / student / f"{chapter}{EXERCISES_SUFFIX}"
        return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, released: dict[str, Path]) -> Graded:
    return Graded(tmp_path_factory.mktemp("grading"), released)


def _points(chapter: str) -> dict[str, tuple[str, float]]:
    """``{grade_id: (kind, points)}`` of a chapter's graded cells, from its source."""
    notebook = json.loads(SOURCES[chapter].read_text(encoding="utf-8"))
    return {
        _nbgrader(c)["grade_id"]: (
            "code" if c["cell_type"] == "code" else "written",
            float(_nbgrader(c)["points"]),
        )
        for c in notebook["cells"]
        if _nbgrader(c).get("grade")
    }


# --- release ----------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_copy_has_no_solution_or_hidden_test_line(
    chapter: str, released: dict[str, Path]
) -> None:
    source = json.loads(SOURCES[chapter].read_text(encoding="utf-8"))
    public: set[str] = set()
    secret: set[str] = set()
    for cell in source["cells"]:
        shown, hidden = _split_secret(cell)
        public.update(line.strip() for line in shown)
        secret.update(line.strip() for line in hidden)
    secret = {line for line in secret if line} - public - STUB_LINES
    assert secret, f"{chapter}: expected solutions to hide"
    text = released[chapter].read_text(encoding="utf-8")
    student = json.loads(text)
    nbformat.validate(nbformat.reads(text, as_version=4))
    leaked = {
        line.strip() for s in _strings(student) for line in s.splitlines()
    } & secret  # fmt: skip
    assert not leaked, f"{chapter}: solution or hidden-test lines in the student copy: {leaked}"
    for marker in (SOLUTION_BEGIN, HIDDEN_BEGIN, "BEGIN SOLUTION", "HIDDEN TESTS"):
        assert marker not in text
    # Each answer cell is a stub, each graded cell kept its points.
    stubs = [_source(c) for c in student["cells"] if _nbgrader(c).get("solution")]
    assert stubs
    assert all("raise NotImplementedError()" in s or s == "YOUR ANSWER HERE" for s in stubs)
    kept = {_nbgrader(c)["grade_id"]: float(_nbgrader(c)["points"])
            for c in student["cells"] if _nbgrader(c).get("grade")}  # fmt: skip
    assert kept == {k: v for k, (_, v) in _points(chapter).items()}


def test_release_by_chapter_name(tmp_path: Path) -> None:
    paths = release(["toy"], tmp_path / "out", book_dir=FIXTURE_DIR, workdir=tmp_path / "work")
    assert paths == [tmp_path / "out" / FIXTURE.name]
    assert (tmp_path / "work" / "course" / "gradebook.db").is_file()  # nbgrader's, in workdir


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_source_scores_full_marks_on_its_stored_outputs(chapter: str) -> None:
    """nbgrader's own scoring of the source notebook's stored outputs (which strict nbval
    proves reproducible): every test cell passes without an error and without stderr."""
    notebook = json.loads(SOURCES[chapter].read_text(encoding="utf-8"))
    cells = [nbformat.from_dict(c) for c in notebook["cells"] if c["cell_type"] == "code"]
    tests = [c for c in cells if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")]
    assert tests, f"{chapter}: expected autograded test cells"
    for cell in tests:
        assert cell.execution_count is not None, f"{chapter}: execute it (tools/run_notebooks.py)"
        score, max_score = determine_grade(cell)
        assert score == max_score, f"{chapter}/{_nbgrader(cell)['grade_id']}: {cell.outputs}"


# --- grade ------------------------------------------------------------------------------


def test_grade_writes_csv_and_exits_zero_despite_bad_submissions(graded: Graded) -> None:
    assert graded.status == 0, graded.stderr
    assert graded.header == CSV_FIELDS
    assert "graded 16 students" in graded.stdout
    assert graded.unchanged, "the submitted files were modified"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_untouched_copy_scores_zero(chapter: str, graded: Graded) -> None:
    rows = graded.rows_of("untouched", chapter)
    assert {r["grade_id"]: (r["kind"], float(r["max_score"])) for r in rows} == _points(chapter)
    for row in rows:
        assert float(row["score"]) == 0.0, row
        assert row["status"] == ("failed" if row["kind"] == "code" else "no answer"), row


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_copy_runs_until_first_unanswered_exercise(chapter: str, graded: Graded) -> None:
    """nbgrader executed the untouched copy top to bottom: the first error is the first code
    exercise's NotImplementedError (in its answer cell or its test cell), nothing earlier."""
    cells = graded.autograded("untouched", chapter)["cells"]
    answer = next(
        i for i, c in enumerate(cells) if c["cell_type"] == "code" and _nbgrader(c).get("solution")
    )
    test = next(i for i in range(answer, len(cells)) if _nbgrader(cells[i]).get("grade"))
    errors = [
        (i, o) for i, c in enumerate(cells) for o in c.get("outputs", [])
        if o["output_type"] == "error"
    ]  # fmt: skip
    first, output = errors[0]
    assert answer <= first <= test, f"{chapter}: first error in cell {first}: {output}"
    assert output.get("ename") == "NotImplementedError", output


def test_hidden_tests_are_put_back_for_grading(graded: Graded) -> None:
    cells = graded.autograded("one_answered", "toy")["cells"]
    test = next(c for c in cells if _nbgrader(c).get("grade_id") == "ex3_test")
    assert "assert variance([3.0]) == 0.0  # hidden: one value has no spread" in _source(test)


def test_solved_source_scores_full_marks(graded: Graded) -> None:
    rows = graded.rows_of("solved")
    assert rows
    for row in rows:
        if row["kind"] == "code":
            assert (row["score"], row["status"]) == (row["max_score"], "passed"), row
        else:  # counted in max_score, left for a human
            assert (row["score"], row["status"]) == ("", "needs manual grading"), row


def test_one_answered_exercise_earns_exactly_its_points(graded: Graded) -> None:
    scores = {r["grade_id"]: float(r["score"]) for r in graded.rows_of("one_answered")}
    assert scores == {"ex1_answer": 0.0, "ex2_test": 0.0, "ex3_test": 2.0, "ex4_answer": 0.0}
    failed = next(r for r in graded.rows_of("one_answered") if r["grade_id"] == "ex2_test")
    assert failed["message"].startswith("NotImplementedError")


@pytest.mark.parametrize(
    ("student", "expected"),
    [
        ("not_a_notebook", "toy_exercises.ipynb is not a notebook: its text is not JSON"),
        ("binary", "toy_exercises.ipynb is not a notebook: not UTF-8 text (a binary file?)"),
        ("corrupt", "toy_exercises.ipynb is corrupt JSON ("),
        ("json_not_notebook", "toy_exercises.ipynb is JSON but not a notebook: expected"),
        ("invalid_notebook", "toy_exercises.ipynb is not a valid Jupyter notebook: "),
    ],
)
def test_ungradable_submission_is_reported_per_student(
    student: str, expected: str, graded: Graded
) -> None:
    rows = graded.rows_of(student)
    assert [r["grade_id"] for r in rows] == list(_points("toy"))  # every exercise, in order
    for row in rows:
        assert (row["status"], row["score"]) == ("error", ""), row
        assert expected in row["message"]
        assert row["max_score"]  # still counted
    assert f"{student}/toy_exercises.ipynb: " in graded.stderr
    assert graded.rows_of("untouched")  # the others were graded


def test_deleted_cells_are_named_put_back_and_graded(graded: Graded) -> None:
    rows = {r["grade_id"]: r for r in graded.rows_of("deleted_answer_and_test")}
    assert (rows["ex2_test"]["status"], rows["ex2_test"]["score"]) == ("failed", "0")
    assert (
        "answer cell 'ex2_mean' was deleted (put back as released)" in rows["ex2_test"]["message"]
    )
    assert "test cell 'ex2_test' was deleted (put back and graded)" in rows["ex2_test"]["message"]
    assert rows["ex3_test"]["status"] == "failed"  # graded as usual: unanswered
    # A deleted test cell alone: put back and graded (0: nothing answered).
    rows = {r["grade_id"]: r for r in graded.rows_of("altered")}
    assert (rows["ex2_test"]["status"], rows["ex2_test"]["score"]) == ("failed", "0")
    assert "test cell 'ex2_test' was deleted (put back and graded)" in rows["ex2_test"]["message"]
    assert "altered/toy_exercises.ipynb: test cell 'ex2_test' was deleted" in graded.stderr


def test_altered_cells_are_named_and_graded_with_the_original(graded: Graded) -> None:
    rows = {r["grade_id"]: r for r in graded.rows_of("altered")}
    # The student replaced the test by `pass`; nbgrader ran the original, which fails.
    assert (rows["ex3_test"]["status"], rows["ex3_test"]["score"]) == ("failed", "0")
    edited = "read-only cell 'ex3_test' was edited (graded with the original)"
    assert edited in rows["ex3_test"]["message"]
    retyped = "cell 'exercise_4' was changed from markdown to code"
    assert retyped in rows["ex4_answer"]["message"]
    assert f"altered/toy_exercises.ipynb: {edited}" in graded.stderr


@pytest.mark.parametrize(
    ("student", "chapter", "expected"),
    [
        ("not_a_notebook", "", "unexpected file 'essay.pdf' (not graded): expected <chapter>"),
        ("not_a_notebook", "unknown", "unknown chapter 'unknown' in unknown_exercises.ipynb:"),
        (
            "bad name",
            "",
            "folder name 'bad name' cannot be a student id (not graded): expected "
            "letters (of any alphabet), digits, '.', '_', '-' or '@'",
        ),
    ],
)
def test_unexpected_entries_are_reported(
    student: str, chapter: str, expected: str, graded: Graded
) -> None:
    (row,) = graded.rows_of(student, chapter)
    assert (row["status"], row["score"]) == ("error", "")
    assert expected in row["message"]
    assert f"{student}/: {expected}" in graded.stderr


def test_missing_notebook_scores_zero(graded: Graded) -> None:
    """A student without a chapter that others submitted gets 0 there, status 'missing'."""
    rows = graded.rows_of("absent") + [
        r for c in REAL_CHAPTERS for r in graded.rows_of("solved", c)
    ]
    assert rows
    for row in rows:
        assert (row["score"], row["status"]) == ("0", "missing"), row


def test_nothing_is_written_outside_workdir(graded: Graded) -> None:
    assert not list(graded.home.iterdir()), "grading wrote into the home folder"
    work = graded.work
    assert (work / "course" / "gradebook.db").is_file()  # nbgrader's release step
    assert (work / "graded" / "solved" / FIXTURE.name).is_file()  # executed, for reading


def test_student_ids_take_any_alphabet(graded: Graded) -> None:
    rows = graded.rows_of("zoë")
    assert [r["status"] for r in rows if r["kind"] == "code"] == ["passed", "passed"]


def test_renamed_test_cell_counts_as_missing(graded: Graded) -> None:
    rows = {r["grade_id"]: r for r in graded.rows_of("renamed")}
    assert (rows["ex2_test"]["status"], rows["ex2_test"]["score"]) == ("failed", "0")
    expected = "test cell 'ex2_test' is missing: its grade_id was changed to 'my_test' (0 points)"
    assert expected in rows["ex2_test"]["message"]
    assert (rows["ex3_test"]["status"], rows["ex3_test"]["score"]) == ("passed", "2")


def test_a_warning_costs_no_points_and_is_recorded(graded: Graded) -> None:
    rows = {r["grade_id"]: r for r in graded.rows_of("warns")}
    assert (rows["ex2_test"]["status"], rows["ex2_test"]["score"]) == ("passed", "3")
    assert "warnings on stderr (not counted): " in rows["ex2_test"]["message"]
    assert "this mean is computed the slow way" in rows["ex2_test"]["message"]


def test_failing_a_hidden_test_scores_zero(graded: Graded) -> None:
    rows = {r["grade_id"]: r for r in graded.rows_of("hidden_fail")}
    assert (rows["ex2_test"]["status"], rows["ex2_test"]["score"]) == ("failed", "0")
    assert rows["ex2_test"]["message"].startswith("AssertionError")


def _feedback_pages(graded: Graded) -> dict[tuple[str, str], str]:
    return {
        (p.parent.name, p.name): p.read_text(encoding="utf-8")
        for p in sorted(graded.feedback.glob("*/*_feedback.html"))
    }


def test_feedback_page_per_student_and_chapter(graded: Graded) -> None:
    pages = _feedback_pages(graded)
    graded_pairs = {
        (r["student"], f"{r['chapter']}_feedback.html")
        for r in graded.rows
        if r["grade_id"] and r["status"] not in ("missing", "error")
    }
    assert set(pages) == graded_pairs
    page = pages["one_answered", "toy_feedback.html"]
    assert "<td>Exercise 3</td><td>ex3_test</td><td>2 / 2</td>" in page
    assert "NotImplementedError" in page  # the error the student's answer met
    assert "return sum((x - centre_of_xs) ** 2 for x in xs) / len(xs)" in page  # their answer


def test_feedback_never_shows_a_hidden_test(graded: Graded) -> None:
    hidden = {
        line.strip()
        for c in json.loads(FIXTURE.read_text(encoding="utf-8"))["cells"]
        for line in _split_secret(c)[1]
        if line.strip() and _nbgrader(c).get("grade") and c["cell_type"] == "code"
    }
    assert "assert mean([5.0]) == 5.0  # hidden: a single value" in hidden
    pages = _feedback_pages(graded)
    assert "AssertionError" in pages["hidden_fail", "toy_feedback.html"]  # it failed one
    for key, page in pages.items():
        assert "HIDDEN TESTS" not in page, key
        assert not [line for line in hidden if line in page], key


def test_summary_csv_has_a_row_per_student_and_a_column_per_chapter(graded: Graded) -> None:
    with graded.summary.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", *CHAPTERS, "total"]
    table = {row[0]: dict(zip(rows[0][1:], map(float, row[1:]), strict=True)) for row in rows[1:]}
    assert set(table) == {r["student"] for r in graded.rows if r["grade_id"]}
    assert table["one_answered"]["toy"] == 2.0
    assert table["solved"]["toy"] == 5.0  # written answers: not graded yet
    for scores in table.values():
        assert scores["total"] == sum(v for k, v in scores.items() if k != "total")


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["release", "nope", "--out", "{tmp}/out", "--book", str(FIXTURE_DIR)],
         "unknown chapter 'nope': expected one of toy"),
        (["release", "--out", "{tmp}/out", "--book", "{tmp}/no_book"],
         "book folder '{tmp}/no_book' does not exist: expected a folder holding"),
        (["release", "--out", "{tmp}/out", "--book", "{tmp}"],
         "no exercises notebooks (*_exercises.ipynb) found under '{tmp}'"),
        (["release", "{tmp}/notes.ipynb", "--out", "{tmp}/out"],
         "'{tmp}/notes.ipynb' is not an exercises notebook: expected an existing file"),
        (["release", "toy", "--out", "{tmp}/a_file", "--book", str(FIXTURE_DIR)],
         "--out '{tmp}/a_file' is a file: expected a folder"),
        (["release", "toy", "--out", "{tmp}/out", "--book", str(FIXTURE_DIR),
          "--workdir", "{tmp}/a_file"],
         "--workdir '{tmp}/a_file' is a file: expected a folder"),
        (["grade", "{tmp}/nobody", "--out", "{tmp}/g.csv"],
         "submissions folder '{tmp}/nobody' does not exist: expected a folder with one"),
        (["grade", "{tmp}", "--out", "{tmp}/g.csv"],
         "no student folders in '{tmp}': expected {tmp}/<student_id>/<chapter>_exercises"),
        (["grade", "{tmp}", "--out", "{tmp}"],
         "--out '{tmp}' is a folder: expected a CSV file path"),
        (["grade", "{tmp}", "--out", "{tmp}/g.csv", "--timeout", "0"],
         "timeout must be a positive number of seconds, got 0"),
        (["grade", "{tmp}", "--out", "{tmp}/g.csv", "--jobs", "0"],
         "jobs must be a positive number of sandboxes, got 0"),
        (["grade", "{tmp}", "--out", "{tmp}/g.csv", "--notebook-timeout", "0"],
         "notebook_timeout must be a positive number of seconds, got 0"),
        (["grade", "{tmp}", "--out", "{tmp}/g.csv", "--memory", "-1"],
         "memory_mb must be a positive whole number, got -1"),
    ],
)  # fmt: skip
def test_usage_errors_name_what_was_expected(
    argv: list[str], expected: str, tmp_path: Path
) -> None:
    (tmp_path / "a_file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    status, _, stderr = _run_main(argv)
    assert status == 2
    assert expected.replace("{tmp}", str(tmp_path)) in stderr


def test_grade_without_chapter_sources_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "subs" / "ada").mkdir(parents=True)
    (tmp_path / "book").mkdir()
    status, _, stderr = _run_main(
        ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"),
         "--book", str(tmp_path / "book")]
    )  # fmt: skip
    assert status == 2
    assert "no exercises notebooks (*_exercises.ipynb) found under" in stderr


@pytest.mark.parametrize("timeout", [0, -5, 1.5, True])
def test_grade_rejects_bad_timeout(timeout: Any, tmp_path: Path) -> None:
    with pytest.raises(CourseworkError, match="timeout must be a positive number of seconds"):
        grade(tmp_path, book_dir=FIXTURE_DIR, timeout=timeout)


def test_release_reports_an_invalid_source(tmp_path: Path) -> None:
    """A source nbgrader rejects (a markdown graded cell that is not a solution) exits 1."""
    notebook = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if _nbgrader(cell).get("grade_id") == "ex1_answer":
            cell["metadata"]["nbgrader"]["solution"] = False
    bad = tmp_path / f"bad{EXERCISES_SUFFIX}"
    bad.write_text(json.dumps(notebook), encoding="utf-8")
    status, _, stderr = _run_main(["release", str(bad), "--out", str(tmp_path / "out")])
    assert status == 1
    assert "nbgrader could not release the exercises" in stderr
    assert "'ex1_answer' is not marked as a solution cell" in stderr


def test_grade_with_one_job_and_no_sandbox_warns_loudly(
    tmp_path: Path, released: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "submissions" / "ada"
    folder.mkdir(parents=True)
    shutil.copyfile(released["toy"], folder / FIXTURE.name)
    rows = grade(tmp_path / "submissions", book_dir=FIXTURE_DIR, jobs=1, sandbox="none")
    assert [(r.student, r.exercise, r.grade_id, r.kind, r.score, r.max_score, r.status)
            for r in rows] == [
        ("ada", "Exercise 1", "ex1_answer", "written", 0.0, 2.0, "no answer"),
        ("ada", "Exercise 2", "ex2_test", "code", 0.0, 3.0, "failed"),
        ("ada", "Exercise 3", "ex3_test", "code", 0.0, 2.0, "failed"),
        ("ada", "Exercise 4", "ex4_answer", "written", 0.0, 1.0, "no answer"),
    ]  # fmt: skip
    assert isolation_warning() in caplog.text
    assert "It is NOT isolated" in isolation_warning()


def test_unknown_sandbox_mode_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "ada").mkdir()
    with pytest.raises(CourseworkError, match="sandbox must be one of auto, bwrap, none, got"):
        grade(tmp_path, book_dir=FIXTURE_DIR, sandbox="docker")


def test_module_runs_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "course_tools.coursework", "grade", "--help"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "--sandbox {auto,bwrap,none}" in done.stdout
