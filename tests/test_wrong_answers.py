"""Every exercise's tests reject the plausible wrong answers kept beside its notebook.

``book/<part>/<chapter>_exercises.wrong.py`` (format: :mod:`course_tools.notebooks.wrong_answers`)
lists wrong answers by the ``grade_id`` of the answer cell they replace. Each one becomes a
student's submission (the solution notebook with that one cell replaced), one student folder
per wrong answer, and the whole class is graded at once by the course's own grader
(:func:`course_tools.coursework.grade`, sandboxed, two sandboxes at a time). Its exercise's
test cell must score less than full points, by failing its asserts (not because the answer
cell raised or the notebook stopped); the solution notebook itself must score full points.
A wrong answer marked ``[visible]`` is graded against a copy of the notebook whose test cells
keep only their visible asserts (failing there, it fails the full cell too).

The files are also checked without running anything: each grade_id is still an autograded
answer cell, each autograded answer has a wrong answer, none is the solution itself.

By default only the first wrong answer of each notebook is graded, without the reference
(strict nbval runs the solution notebooks in the same suite) and not against the visible
asserts alone. CI grades every wrong answer, both ways, with the reference (a few minutes);
an author may grade all those of some chapters::

    COURSE_WRONG_ANSWERS=all python -m pytest tests/test_wrong_answers.py -n 0
    COURSE_WRONG_ANSWERS=attention,calculus python -m pytest tests/test_wrong_answers.py -n 0
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from course_tools.coursework import GradeRow, grade
from course_tools.notebooks.cells import EXERCISES_SUFFIX
from course_tools.notebooks.wrong_answers import (
    WrongAnswer,
    answer_targets,
    parse_wrong_answers,
    problems,
    read_wrong_answers,
    visible_only,
    with_answer,
    wrong_answers_path,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "book").rglob(f"*{EXERCISES_SUFFIX}") if ".ipynb_checkpoints" not in p.parts
)
#: ``all``: grade every wrong answer (CI's separate step); ``CHAPTER,...``: every wrong answer
#: of those chapters; unset: the first wrong answer of each notebook.
CHOSEN = os.environ.get("COURSE_WRONG_ANSWERS", "")
REFERENCE = "reference"
#: Grade the solution notebooks too (whenever more than the default subset is graded).
WITH_REFERENCE = bool(CHOSEN)


def _chapter(notebook: Path) -> str:
    return notebook.name[: -len(EXERCISES_SUFFIX)]


def _answers(notebook: Path) -> list[WrongAnswer]:
    """The notebook's wrong answers ([] if its file is missing or unreadable: the static
    tests below say why)."""
    try:
        return read_wrong_answers(wrong_answers_path(notebook))
    except (OSError, ValueError):
        return []


@dataclass(frozen=True)
class Case:
    """One wrong answer to grade: its notebook, its place in its file, and the answer."""

    notebook: Path
    number: int
    answer: WrongAnswer

    @property
    def student(self) -> str:
        return f"{_chapter(self.notebook)}-{self.number:02d}"

    @property
    def id(self) -> str:
        return f"{_chapter(self.notebook)}:{self.answer.line}:{self.answer.grade_id}"


def _chosen(notebook: Path, number: int) -> bool:
    if CHOSEN == "all":
        return True
    if CHOSEN:
        return _chapter(notebook) in CHOSEN.split(",")
    return number == 0


CASES = [
    Case(notebook, number, answer)
    for notebook in NOTEBOOKS
    for number, answer in enumerate(_answers(notebook))
    if _chosen(notebook, number)
]
#: Beyond the default subset, a ``[visible]`` wrong answer is graded against the visible
#: asserts alone, and only there: a test cell that fails there fails with its hidden asserts
#: too, which come after the visible ones. Every other one is graded against the full cells.
VISIBLE_CASES = [case for case in CASES if case.answer.visible and CHOSEN]
FULL_CASES = [case for case in CASES if case not in VISIBLE_CASES]


def _source(notebook: Path) -> dict[str, Any]:
    return json.loads(notebook.read_text(encoding="utf-8"))


def _grade_class(
    root: Path, cases: list[Case], book: Path | None, notebooks: set[Path]
) -> dict[tuple[str, str, str], GradeRow]:
    """Grade one student per case, and the reference student (the solution notebooks);
    rows by (student, chapter, grade_id). ``book``: the sources (None: the course's book)."""
    submissions = root / "submissions"
    sources = {n: _source(book / n.name if book else n) for n in notebooks}
    if WITH_REFERENCE:
        for notebook, source in sources.items():
            target = submissions / REFERENCE / notebook.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(source), encoding="utf-8")
    for case in cases:
        if case.answer.grade_id not in answer_targets(sources[case.notebook]):
            continue  # the test of this case reports it
        target = submissions / case.student / case.notebook.name
        target.parent.mkdir(parents=True)
        changed = with_answer(sources[case.notebook], case.answer.grade_id, case.answer.source)
        target.write_text(json.dumps(changed), encoding="utf-8")
    rows = grade(submissions, book_dir=book, jobs=2)
    return {(r.student, r.chapter, r.grade_id): r for r in rows}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], GradeRow]:
    notebooks = {case.notebook for case in CASES}
    return _grade_class(tmp_path_factory.mktemp("wrong"), FULL_CASES, None, notebooks)


@pytest.fixture(scope="module")
def graded_visible(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[tuple[str, str, str], GradeRow]:
    root = tmp_path_factory.mktemp("visible")
    book = root / "book"
    book.mkdir()
    notebooks = {case.notebook for case in VISIBLE_CASES}
    for notebook in notebooks:
        copy = visible_only(_source(notebook))
        (book / notebook.name).write_text(json.dumps(copy), encoding="utf-8")
    return _grade_class(root, VISIBLE_CASES, book, notebooks)


def _check_rejected(case: Case, rows: dict[tuple[str, str, str], GradeRow]) -> None:
    chapter = _chapter(case.notebook)
    targets = answer_targets(_source(case.notebook))
    assert case.answer.grade_id in targets, (
        f"{case.id}: '{case.answer.grade_id}' is not an autograded answer cell any more: "
        f"expected one of {sorted(targets)}"
    )
    test_id = targets[case.answer.grade_id]
    if WITH_REFERENCE:
        reference = rows[REFERENCE, chapter, test_id]
        assert reference.status == "passed", f"the solution itself: {reference}"
    row = rows[case.student, chapter, test_id]
    where = f"{case.id} ({case.answer.reason})"
    assert row.score is not None, f"{where}: {row}"
    assert row.max_score is not None, f"{where}: {row}"
    assert row.score < row.max_score, f"{where}: accepted by '{test_id}': {row}"
    assert not row.message.startswith(("answer cell", "not run")), (
        f"{where}: expected its asserts to fail, got: {row.message}"
    )


@pytest.mark.parametrize("case", FULL_CASES, ids=lambda c: c.id)
def test_the_tests_reject_the_wrong_answer(
    case: Case, graded: dict[tuple[str, str, str], GradeRow]
) -> None:
    _check_rejected(case, graded)


@pytest.mark.parametrize("case", VISIBLE_CASES, ids=lambda c: c.id)
def test_the_visible_asserts_alone_reject_it(
    case: Case, graded_visible: dict[tuple[str, str, str], GradeRow]
) -> None:
    _check_rejected(case, graded_visible)


@pytest.mark.skipif(
    not WITH_REFERENCE,
    reason="with COURSE_WRONG_ANSWERS set (nbval runs the solutions in the default run)",
)
def test_the_solutions_score_full_points(graded: dict[tuple[str, str, str], GradeRow]) -> None:
    """Every autograded test cell of every graded notebook passes with the solutions."""
    chapters = {_chapter(case.notebook) for case in CASES}
    reference = [r for (s, c, _), r in graded.items() if s == REFERENCE and c in chapters]
    assert {r.chapter for r in reference} == chapters
    failed = [r for r in reference if r.kind == "code" and r.status != "passed"]
    assert not failed, failed


# --- the files, without running anything -------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_the_wrong_answers_match_their_notebook(notebook: Path) -> None:
    path = wrong_answers_path(notebook)
    answers = read_wrong_answers(path)
    found = problems(_source(notebook), answers, str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_every_wrong_answers_file_has_its_notebook() -> None:
    files = {p for p in (ROOT / "book").rglob("*.wrong.py")}
    assert files == {wrong_answers_path(n) for n in NOTEBOOKS}


TOY = ROOT / "tests" / "fixtures" / "coursework" / "toy_exercises.ipynb"
MEAN = "def mean(xs):\n    return sum(xs)\n"
VARIANCE = "def variance(xs):\n    return 0.0\n"


def test_parse_reads_grade_id_reason_code_and_visible() -> None:
    text = f'"""About."""\n# a comment\n\n# %% ex2_mean: sums\n{MEAN}\n\n'
    text += f"# %% ex3_variance [visible]: always zero\n{VARIANCE}"
    assert parse_wrong_answers(text) == [
        WrongAnswer("ex2_mean", "sums", MEAN, visible=False, line=4),
        WrongAnswer("ex3_variance", "always zero", VARIANCE, visible=True, line=9),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", r"f\.py: expected at least one block .*, got none"),
        ("# %% ex2_mean sums\nx = 1\n", r"f\.py:1: a block header must be .*, got '# %% ex2_mean"),
        ("# %% ex2_mean [hidden]: x\nx\n", r"f\.py:1: a block header must be"),
        ("# %% ex2_mean: \nx\n", r"f\.py:1: a block header must be"),
        ("# %% ex2_mean: sums\n\n# only a comment\n", r"f\.py:1: expected .*code, got none"),
        ("# %% a: b\nx\n# %% ex2_mean: sums\n\n", r"f\.py:3: expected .*code, got none"),
        ("# %% ex2_mean: sums\ndef mean(:\n", r"f\.py:1: expected valid Python, got a SyntaxError"),
    ],
)
def test_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_wrong_answers(text, "f.py")


def test_problems_name_a_stale_grade_id_a_missing_answer_and_the_solution_itself() -> None:
    toy = _source(TOY)
    solution = next(c for c in toy["cells"] if "def mean" in "".join(c["source"]))
    answers = [
        WrongAnswer("ex2_renamed", "sums", MEAN, False, 3),
        WrongAnswer("ex1_answer", "written", MEAN, False, 5),
        WrongAnswer("ex2_mean", "same", "".join(solution["source"]) + "\n# a comment\n", False, 9),
    ]
    assert problems(toy, answers, "toy.wrong.py") == [
        "toy.wrong.py:3: 'ex2_renamed' is not an autograded answer cell of the notebook: "
        "expected one of ['ex2_mean', 'ex3_variance']",
        "toy.wrong.py:5: 'ex1_answer' is not an autograded answer cell of the notebook: "
        "expected one of ['ex2_mean', 'ex3_variance']",
        "toy.wrong.py:9: 'ex2_mean' is the solution itself",
        "toy.wrong.py: no wrong answer for the autograded answer cell 'ex3_variance'",
    ]
    up_to_date = [
        WrongAnswer("ex2_mean", "sums", MEAN, False, 1),
        WrongAnswer("ex3_variance", "zero", VARIANCE, False, 2),
    ]
    assert problems(toy, up_to_date, "toy.wrong.py") == []


def test_with_answer_and_visible_only_change_a_copy() -> None:
    toy = _source(TOY)
    before = json.dumps(toy)
    changed = with_answer(toy, "ex2_mean", MEAN)
    assert [c["source"] for c in changed["cells"] if c["source"] == MEAN] == [MEAN]
    visible = visible_only(toy)
    tests = [c for c in visible["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert all("HIDDEN" not in "".join(c["source"]) for c in tests)
    assert json.dumps(toy) == before
    with pytest.raises(ValueError, match="grade_id must name an answer cell .*, got 'ex2_test'"):
        with_answer(toy, "ex2_test", MEAN)


def test_wrong_answers_path_refuses_another_file() -> None:
    assert wrong_answers_path("b/toy_exercises.ipynb") == Path("b/toy_exercises.wrong.py")
    with pytest.raises(ValueError, match=r"\*_exercises.ipynb file, got 'toy.ipynb'"):
        wrong_answers_path("b/toy.ipynb")
