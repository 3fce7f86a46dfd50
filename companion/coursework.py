"""Assign and autograde the course's exercises with nbgrader, offline.

Every chapter's exercises notebook (``book/<part>/<chapter>_exercises.ipynb``) is the
instructor's source, written in nbgrader's cell format (see CONTRIBUTING.md). Two commands
turn it into coursework, with no Jupyter server and no browser::

    python -m companion.coursework release [CHAPTER ...] --out DIR
    python -m companion.coursework grade SUBMISSIONS_DIR --out grades.csv

``release`` runs nbgrader's ``GenerateAssignment`` converter: solution code becomes
``raise NotImplementedError()``, written answers become "YOUR ANSWER HERE", hidden tests
are removed, and ``DIR/<chapter>_exercises.ipynb`` is the student copy.

``grade`` reads ``SUBMISSIONS_DIR/<student_id>/<chapter>_exercises.ipynb`` (one folder per
student), runs nbgrader's ``Autograde`` converter over them (one batch per worker process,
each notebook in a fresh kernel) and writes one CSV row per student and graded cell
(:data:`CSV_FIELDS`). A submission that cannot be graded (not a notebook, corrupt JSON,
nbgrader failure) gets rows with status ``error`` and a message; the other students are
graded all the same, and the submitted files are only read, never modified.

nbgrader's course folder, gradebook (SQLite) and the Jupyter/IPython folders of the kernels
live in a temporary working folder (or ``--workdir``), never in the home folder or the repo.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "CSV_FIELDS",
    "DEFAULT_BOOK_DIR",
    "DEFAULT_JOBS",
    "EXERCISES_SUFFIX",
    "CourseworkError",
    "GradeRow",
    "ReleaseError",
    "find_chapters",
    "grade",
    "main",
    "release",
    "write_grades_csv",
]

#: An exercises notebook is ``<chapter>_exercises.ipynb``; ``<chapter>`` names it.
EXERCISES_SUFFIX = "_exercises.ipynb"
#: Where chapters are looked for by default: the repository's ``book/`` folder.
DEFAULT_BOOK_DIR = Path(__file__).resolve().parents[1] / "book"
#: Worker processes that grade in parallel by default (each runs one kernel at a time).
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))
_NOTEBOOKS_PER_WORKER = 3
#: Student ids become nbgrader ids and folder names: keep them plain.
_STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]*")
_EXERCISE_HEADING = re.compile(r"^#{1,6}\s*(Exercise\s+\d+[A-Za-z]?)\b", re.MULTILINE)

log = logging.getLogger(__name__)


class CourseworkError(ValueError):
    """A usage error: a missing folder, an unknown chapter, a bad option value."""


class ReleaseError(RuntimeError):
    """nbgrader could not turn a source exercises notebook into a student copy."""


@dataclass(frozen=True)
class GradeRow:
    """One CSV row: a student's result on one graded cell of one chapter.

    ``kind`` is ``"code"`` (an autograded test cell) or ``"written"`` (a markdown answer
    graded by hand); ``score`` is ``None`` (an empty CSV field) where no score is known
    yet. ``status`` is one of ``passed``, ``partial``, ``failed`` (code), ``no answer``,
    ``needs manual grading`` (written), ``missing`` (no notebook submitted: 0 points) or
    ``error`` (the submission could not be graded; ``message`` says why).
    """

    student: str
    chapter: str
    exercise: str
    grade_id: str
    kind: str
    score: float | None
    max_score: float | None
    status: str
    message: str


#: The CSV header, in column order.
CSV_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GradeRow))


# --- chapters ---------------------------------------------------------------------------


def find_chapters(book_dir: str | Path = DEFAULT_BOOK_DIR) -> dict[str, Path]:
    """Every ``<chapter>_exercises.ipynb`` under ``book_dir``, as ``{chapter: path}``.

    Hidden folders (``.ipynb_checkpoints``) and build output (``_build``) are skipped.

    Raises:
        CourseworkError: if ``book_dir`` is not a folder, or two notebooks share a chapter.
    """
    book_dir = Path(book_dir)
    if not book_dir.is_dir():
        raise CourseworkError(
            f"book folder '{book_dir}' does not exist: expected a folder holding "
            f"<chapter>{EXERCISES_SUFFIX} notebooks (see --book)"
        )
    found: dict[str, Path] = {}
    for path in sorted(book_dir.rglob(f"*{EXERCISES_SUFFIX}")):
        parts = path.relative_to(book_dir).parts
        if any(p.startswith(".") or p == "_build" for p in parts) or not path.is_file():
            continue
        chapter = path.name[: -len(EXERCISES_SUFFIX)]
        if chapter in found:
            raise CourseworkError(
                f"chapter '{chapter}' is defined twice: {found[chapter]} and {path}; "
                "expected one exercises notebook per chapter name"
            )
        found[chapter] = path
    return found


def _resolve_chapters(chapters: Sequence[str | Path] | None, book_dir: Path) -> dict[str, Path]:
    """``{chapter: source path}`` for chapter names or exercises-notebook paths (None: all)."""
    wanted = list(chapters or [])
    by_path = [c for c in wanted if str(c).endswith(".ipynb")]
    by_name = [str(c) for c in wanted if not str(c).endswith(".ipynb")]
    available = find_chapters(book_dir) if by_name or not wanted else {}
    if not wanted:
        if not available:
            raise CourseworkError(
                f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book_dir}': "
                "expected at least one chapter to release"
            )
        return available
    resolved: dict[str, Path] = {}
    for name in by_name:
        if name not in available:
            choices = ", ".join(sorted(available)) or "(none found)"
            raise CourseworkError(
                f"unknown chapter '{name}': expected one of {choices} "
                f"(the <chapter> of a <chapter>{EXERCISES_SUFFIX} under '{book_dir}')"
            )
        resolved[name] = available[name]
    for item in by_path:
        path = Path(item)
        if not path.name.endswith(EXERCISES_SUFFIX) or not path.is_file():
            raise CourseworkError(
                f"'{path}' is not an exercises notebook: expected an existing file "
                f"named <chapter>{EXERCISES_SUFFIX}"
            )
        resolved[path.name[: -len(EXERCISES_SUFFIX)]] = path
    return resolved


# --- nbgrader's working folder ----------------------------------------------------------


@contextlib.contextmanager
def _working_folder(workdir: str | Path | None) -> Iterator[Path]:
    """A fresh temporary folder (removed afterwards), or ``workdir`` (kept) if given."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="coursework-") as tmp:
            yield Path(tmp)
    else:
        path = Path(workdir).resolve()
        if path.exists() and not path.is_dir():
            raise CourseworkError(f"--workdir '{path}' is a file: expected a folder")
        path.mkdir(parents=True, exist_ok=True)
        yield path


@contextlib.contextmanager
def _isolated_jupyter(work: Path) -> Iterator[None]:
    """Point Jupyter and IPython (and the kernels they start) at folders inside ``work``.

    Jupyter's config, data and runtime folders and the kernels' IPython profile and
    Matplotlib cache are then in ``work``, not in the home folder (kernel connection files
    go to the system's temporary folder); the caller's environment is restored afterwards.
    """
    env = {
        "JUPYTER_CONFIG_DIR": work / "jupyter" / "config",
        "JUPYTER_DATA_DIR": work / "jupyter" / "data",
        "JUPYTER_RUNTIME_DIR": work / "jupyter" / "runtime",
        "IPYTHONDIR": work / "ipython",
        "MPLCONFIGDIR": work / "matplotlib",  # the kernels' font cache
    }
    saved = {key: os.environ.get(key) for key in [*env, "COMPANION_PROGRESS"]}
    os.environ.update({key: str(value) for key, value in env.items()})
    os.environ["COMPANION_PROGRESS"] = "0"  # a progress bar on stderr fails a test cell
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _NbgraderLog(logging.Handler):
    """Collects nbgrader's error messages per submission ``(student, chapter)``.

    nbgrader logs the path of each notebook it works on, so the submission an error
    belongs to is the one named by the last path seen.
    """

    _PATH = re.compile(r"[/\\](?:submitted|autograded)[/\\]([^/\\]+)[/\\]([^/\\]+)")

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.current: tuple[str, str] | None = None
        self.errors: dict[tuple[str, str] | None, list[str]] = {}
        self.all_errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        match = self._PATH.search(text)
        if match:
            self.current = (match.group(1), match.group(2))
        elif text.startswith("There was an error processing assignment '"):
            self.current = None  # nbgrader's closing summary, after all submissions
        if record.levelno >= logging.ERROR:
            self.errors.setdefault(self.current, []).append(text)
            self.all_errors.append(text)


def _summary(messages: list[str]) -> str:
    """The most telling line of nbgrader's error messages (a traceback's last line)."""
    for message in messages:
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].startswith("Traceback"):
            return lines[-1]
    return messages[0].strip().splitlines()[0] if messages else ""


@dataclass
class _Course:
    """nbgrader's course folder inside the working folder, and how to run its converters."""

    root: Path
    timeout: int = 60
    verbose: bool = False
    log_sink: _NbgraderLog = field(default_factory=_NbgraderLog)
    #: After autograding: nbgrader's error messages per (student, chapter), and why
    #: nbgrader stopped early ("" if it did not).
    errors: dict[tuple[str, str] | None, list[str]] = field(default_factory=dict)
    stopped: str = ""

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.db"

    def step(self, name: str, student: str, chapter: str) -> Path:
        """nbgrader's ``{step}/{student}/{assignment}`` folder."""
        return self.root / name / student / chapter

    def prepare(self, sources: dict[str, Path]) -> None:
        """Fresh ``source/``, ``release/``, ``submitted/``, ``autograded/`` and a gradebook."""
        for step in ("source", "release", "submitted", "autograded"):
            shutil.rmtree(self.root / step, ignore_errors=True)
        for chapter, path in sources.items():
            folder = self.step("source", ".", chapter)
            folder.mkdir(parents=True)
            shutil.copyfile(path, folder / f"{chapter}{EXERCISES_SUFFIX}")
        self._create_gradebook()

    def copy_to(self, root: Path) -> _Course:
        """A course folder for another worker: same sources, a copy of the gradebook."""
        root.mkdir(parents=True, exist_ok=True)
        for step in ("source", "submitted", "autograded"):
            shutil.rmtree(root / step, ignore_errors=True)
        shutil.copytree(self.root / "source", root / "source")
        shutil.copyfile(self.gradebook, root / self.gradebook.name)
        return _Course(root, timeout=self.timeout, verbose=self.verbose)

    def _create_gradebook(self) -> None:
        """Create the gradebook as nbgrader's ``Gradebook`` does, minus its ``alembic``
        subprocess (slow, and it needs the venv's ``bin/`` on ``PATH``)."""
        if self.gradebook.exists():
            return
        import nbgrader
        import sqlalchemy
        from alembic.script import ScriptDirectory
        from nbgrader.api import Base

        head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
        engine = sqlalchemy.create_engine(f"sqlite:///{self.gradebook}")
        try:
            Base.metadata.create_all(bind=engine)
            with engine.begin() as connection:
                connection.execute(
                    sqlalchemy.text(
                        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"
                    )
                )
                connection.execute(
                    sqlalchemy.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                    {"v": head},
                )
        finally:
            engine.dispose()

    def run(self, converter_name: str) -> None:
        """Run nbgrader's ``GenerateAssignment`` or ``Autograde`` over every chapter/student.

        Raises nbgrader's ``NbGraderException`` if any notebook failed (after all others
        were processed); the messages are in ``self.log_sink``.
        """
        from nbformat.validator import MissingIDFieldWarning
        from nbgrader import converters
        from nbgrader.coursedir import CourseDirectory
        from sqlalchemy.exc import SAWarning
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.assignment_id = "*"
        config.CourseDirectory.student_id = "*"
        config.CourseDirectory.db_url = f"sqlite:///{self.gradebook}"
        config.GenerateAssignment.force = True
        config.Autograde.force = True
        config.Execute.timeout = self.timeout
        # The kernels' own start-up log (a warning per kernel) is noise here.
        config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]
        # Grade cells a student deleted are put back (from the gradebook) and graded.
        config.OverwriteCells.add_missing_cells = True

        logger = logging.getLogger(f"{__name__}.nbgrader")
        logger.setLevel(logging.INFO)
        logger.propagate = False
        handlers: list[logging.Handler] = [self.log_sink]
        if self.verbose:
            stream = logging.StreamHandler(sys.stderr)
            stream.setFormatter(logging.Formatter("[nbgrader %(levelname)s] %(message)s"))
            handlers.append(stream)
        for handler in handlers:
            logger.addHandler(handler)
        try:
            coursedir = CourseDirectory(config=config, log=logger)
            converter = getattr(converters, converter_name)(
                coursedir=coursedir, config=config, log=logger
            )
            with warnings.catch_warnings():
                # nbgrader 0.9 with SQLAlchemy 2 warns on every autograded submission, and
                # cells it puts back have no id; both are harmless and not the user's doing.
                warnings.simplefilter("ignore", SAWarning)
                warnings.simplefilter("ignore", MissingIDFieldWarning)
                converter.start()
        finally:
            for handler in handlers:
                logger.removeHandler(handler)


# --- release ----------------------------------------------------------------------------


def release(
    chapters: Sequence[str | Path] | None,
    out_dir: str | Path,
    *,
    book_dir: str | Path = DEFAULT_BOOK_DIR,
    workdir: str | Path | None = None,
    verbose: bool = False,
) -> list[Path]:
    """Write the student copy of each chapter's exercises to ``out_dir``.

    Args:
        chapters: chapter names (``"attention"``) or paths of exercises notebooks;
            ``None`` or empty means every chapter under ``book_dir``.
        out_dir: folder for ``<chapter>_exercises.ipynb`` (created; same-named files
            are overwritten).
        book_dir: where chapters are looked for.
        workdir: nbgrader's working folder (default: a temporary one, removed).
        verbose: show nbgrader's log on stderr.

    Returns:
        The paths written, one per chapter, sorted by chapter.

    Raises:
        CourseworkError: unknown chapter, missing book folder, ``out_dir`` is a file.
        ReleaseError: nbgrader rejected a source notebook (its message says why).
    """
    sources = _resolve_chapters(chapters, Path(book_dir))
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CourseworkError(f"--out '{out_dir}' is a file: expected a folder for the notebooks")
    from nbgrader.converters.base import NbGraderException  # slow to import: only now

    written = []
    with _working_folder(workdir) as work, _isolated_jupyter(work):
        course = _Course(work / "course", verbose=verbose)
        course.prepare(sources)
        try:
            course.run("GenerateAssignment")
        except NbGraderException as error:
            detail = _summary(course.log_sink.all_errors) or str(error)
            raise ReleaseError(f"nbgrader could not release the exercises: {detail}") from error
        out_dir.mkdir(parents=True, exist_ok=True)
        for chapter in sorted(sources):
            target = out_dir / f"{chapter}{EXERCISES_SUFFIX}"
            shutil.copyfile(course.step("release", ".", chapter) / target.name, target)
            written.append(target)
    return written


# --- grade ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """A cell of the released notebook that nbgrader tracks."""

    grade_id: str
    cell_type: str
    exercise: str
    source: str
    locked: bool
    graded: bool
    points: float


def _nbgrader_cells(notebook: dict[str, Any]) -> list[_Cell]:
    """The cells with a ``grade_id``, each with the exercise heading above it."""
    cells, exercise = [], ""
    for cell in notebook.get("cells", []):
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            heading = _EXERCISE_HEADING.search(source)
            exercise = heading.group(1) if heading else exercise
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and (
            meta.get("grade") or meta.get("solution") or meta.get("locked")
        ):
            cells.append(
                _Cell(
                    grade_id=meta["grade_id"],
                    cell_type=cell.get("cell_type", ""),
                    exercise=exercise,
                    source=source,
                    locked=bool(meta.get("locked")),
                    graded=bool(meta.get("grade")),
                    points=float(meta.get("points", 0) or 0),
                )
            )
    return cells


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _read_submission(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The submitted notebook as JSON, or ``None`` and why it is not a notebook."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, f"cannot read {path.name}: {error.strerror}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"{path.name} is not a notebook: not UTF-8 text (a binary file?)"
    if not text.lstrip().startswith("{"):
        return None, f"{path.name} is not a notebook: its text is not JSON ({text[:30]!r}...)"
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        return (
            None,
            f"{path.name} is corrupt JSON ({error.msg} at line {error.lineno}), not a notebook",
        )
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None, f"{path.name} is JSON but not a notebook: expected an object with 'cells'"
    try:
        with warnings.catch_warnings():  # e.g. cells without ids: old but valid notebooks
            warnings.simplefilter("ignore")
            nbformat.validate(nbformat.reads(text, as_version=4))
    except Exception as error:  # nbformat raises several types for invalid notebooks
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"{path.name} is not a valid Jupyter notebook: {first}"
    return notebook, ""


def _compare_cells(
    submitted: dict[str, Any], released: list[_Cell], source: list[_Cell]
) -> dict[str, list[str]]:
    """Notes on cells a student deleted or altered, keyed by exercise ("" = none)."""
    present = {cell.grade_id: cell for cell in _nbgrader_cells(submitted)}
    originals = {cell.grade_id: cell.source for cell in source}
    notes: dict[str, list[str]] = {}
    for cell in released:
        got = present.get(cell.grade_id)
        if got is None:
            if cell.graded and cell.cell_type == "code":
                note = f"test cell '{cell.grade_id}' was deleted (nbgrader put it back)"
            elif cell.graded:
                note = f"answer cell '{cell.grade_id}' was deleted (nbgrader put it back)"
            elif not cell.locked:
                note = f"answer cell '{cell.grade_id}' was deleted"
            else:
                note = f"read-only cell '{cell.grade_id}' was deleted"
        elif got.cell_type != cell.cell_type:
            note = f"cell '{cell.grade_id}' was changed from {cell.cell_type} to {got.cell_type}"
        elif cell.locked and got.source not in (cell.source, originals.get(cell.grade_id)):
            note = f"read-only cell '{cell.grade_id}' was edited (graded with the original)"
        else:
            continue
        notes.setdefault(cell.exercise, []).append(note)
    return notes


def _first_error(cell: dict[str, Any]) -> str:
    """Why an executed test cell failed: its error, or that it wrote to stderr."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            value = str(output.get("evalue", "")).strip().splitlines()
            return (
                f"{output.get('ename', 'Error')}: {value[0]}" if value else output.get("ename", "")
            )
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "the cell wrote to stderr: " + _text(output.get("text", "")).strip()[:200]
    return ""


def grade(
    submissions_dir: str | Path,
    *,
    book_dir: str | Path = DEFAULT_BOOK_DIR,
    workdir: str | Path | None = None,
    timeout: int = 60,
    jobs: int | None = None,
    verbose: bool = False,
) -> list[GradeRow]:
    """Autograde ``submissions_dir/<student_id>/<chapter>_exercises.ipynb`` with nbgrader.

    Every chapter that any student submitted is graded for every student (a student
    without that notebook gets status ``missing`` and 0 points). The students are dealt
    to up to ``jobs`` worker processes (a few notebooks each at least), each running one
    nbgrader ``Autograde`` batch in its own course folder; each notebook runs in a fresh
    kernel. A test cell earns its points if
    it runs without an error and without writing to stderr.

    Args:
        submissions_dir: one sub-folder per student (hidden entries are ignored).
        book_dir: where the chapters' source notebooks are looked for.
        workdir: nbgrader's working folder (default: a temporary one, removed). Given,
            it keeps nbgrader's gradebook and autograded notebooks for inspection.
        timeout: seconds a single cell may run before it counts as failed.
        jobs: worker processes (default :data:`DEFAULT_JOBS`); 1 grades in this process.
        verbose: show nbgrader's log on stderr.

    Returns:
        The rows, sorted by student, then chapter, then the cells' order in the notebook.
        Problems with a submission are also logged (``logging``, level WARNING).

    Raises:
        CourseworkError: ``submissions_dir`` missing or without student folders, no
            chapters under ``book_dir``, or ``timeout`` or ``jobs`` not positive.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise CourseworkError(f"timeout must be a positive number of seconds, got {timeout!r}")
    jobs = DEFAULT_JOBS if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs <= 0:
        raise CourseworkError(f"jobs must be a positive number of worker processes, got {jobs!r}")
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise CourseworkError(
            f"submissions folder '{submissions_dir}' does not exist: expected a folder with "
            f"one sub-folder per student, holding <chapter>{EXERCISES_SUFFIX}"
        )
    students = sorted(
        p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not students:
        raise CourseworkError(
            f"no student folders in '{submissions_dir}': expected "
            f"{submissions_dir}/<student_id>/<chapter>{EXERCISES_SUFFIX}"
        )
    available = find_chapters(book_dir)
    if not available:
        raise CourseworkError(
            f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book_dir}': "
            "expected the source notebooks of the chapters to grade (see --book)"
        )

    rows: list[GradeRow] = []
    submitted: dict[tuple[str, str], Path] = {}
    for folder in students:
        rows.extend(_scan_student(folder, available, submitted))
    chapters = sorted({chapter for _, chapter in submitted})

    with _working_folder(workdir) as work, _isolated_jupyter(work):
        course = _Course(work / "course", timeout=timeout, verbose=verbose)
        course.prepare({chapter: available[chapter] for chapter in chapters})
        released: dict[str, list[_Cell]] = {}
        source: dict[str, list[_Cell]] = {}
        outcome: dict[tuple[str, str], tuple[str, dict[str, list[str]]]] = {}
        shard_of: dict[str, _Course] = {}
        if chapters:
            course.run("GenerateAssignment")  # also records each chapter's cells in the gradebook
            for chapter in chapters:
                copy = course.step("release", ".", chapter) / f"{chapter}{EXERCISES_SUFFIX}"
                released[chapter] = _nbgrader_cells(json.loads(copy.read_text(encoding="utf-8")))
                original = available[chapter].read_text(encoding="utf-8")
                source[chapter] = _nbgrader_cells(json.loads(original))
            readable: dict[tuple[str, str], Path] = {}
            for (student, chapter), path in sorted(submitted.items()):
                notebook, problem = _read_submission(path)
                notes = (
                    {}
                    if notebook is None
                    else _compare_cells(notebook, released[chapter], source[chapter])
                )
                outcome[student, chapter] = (problem, notes)
                for message in [problem, *(n for values in notes.values() for n in values)]:
                    if message:
                        log.warning("%s/%s: %s", student, path.name, message)
                if notebook is not None:
                    readable[student, chapter] = path
            shard_of = _deal_students(course, sorted(readable), jobs, work)
            for (student, chapter), path in readable.items():
                target = shard_of[student].step("submitted", student, chapter)
                target.mkdir(parents=True)
                shutil.copyfile(path, target / path.name)  # the original is only read
            _autograde_all(list({id(c): c for c in shard_of.values()}.values()))
        for folder in students:
            if not _STUDENT_ID.fullmatch(folder.name):
                continue  # reported by _scan_student
            for chapter in chapters:
                shard = shard_of.get(folder.name, course)
                rows.extend(_chapter_rows(shard, folder.name, chapter, released[chapter], outcome))

    rows.sort(key=lambda row: (row.student, row.chapter != "", row.chapter))  # stable: cell order
    return rows


def _deal_students(
    course: _Course, notebooks: list[tuple[str, str]], jobs: int, work: Path
) -> dict[str, _Course]:
    """Each student's course folder: ``course`` itself for one worker, else one per worker.

    A worker process starts in about the time one notebook takes to grade, so there are
    at most ``jobs`` workers and at least :data:`_NOTEBOOKS_PER_WORKER` notebooks each.
    """
    students = sorted({student for student, _ in notebooks})
    count = max(1, min(jobs, len(students), len(notebooks) // _NOTEBOOKS_PER_WORKER))
    shards = (
        [course] if count == 1 else [course.copy_to(work / f"course-{k + 1}") for k in range(count)]
    )
    return {student: shards[i % count] for i, student in enumerate(students)}


def _autograde(
    root: str, timeout: int, verbose: bool
) -> tuple[dict[tuple[str, str] | None, list[str]], str]:
    """Run nbgrader's ``Autograde`` in the course folder ``root`` (maybe in a worker process).

    Returns nbgrader's error messages per ``(student, chapter)`` and why it stopped
    early ("" if it did not).
    """
    from nbgrader.converters.base import NbGraderException

    course = _Course(Path(root), timeout=timeout, verbose=verbose)
    try:
        course.run("Autograde")
    except NbGraderException as error:
        return course.log_sink.errors, _summary(course.log_sink.all_errors) or str(error)
    return course.log_sink.errors, ""


def _autograde_all(shards: list[_Course]) -> None:
    """Autograde every course folder, in parallel worker processes if there are several."""
    if len(shards) <= 1:
        for shard in shards:
            shard.errors, shard.stopped = _autograde(str(shard.root), shard.timeout, shard.verbose)
        return
    # "spawn": fresh interpreters, safe whatever threads this process has.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(shards), mp_context=context) as pool:
        futures = [
            pool.submit(_autograde, str(shard.root), shard.timeout, shard.verbose)
            for shard in shards
        ]
        for shard, future in zip(shards, futures, strict=True):
            try:
                shard.errors, shard.stopped = future.result()
            except Exception as error:  # a crashed worker: its students are reported
                shard.stopped = f"the grading worker failed: {type(error).__name__}: {error}"


def _scan_student(
    folder: Path, available: dict[str, Path], submitted: dict[tuple[str, str], Path]
) -> list[GradeRow]:
    """Record the student's exercises notebooks in ``submitted``; rows for anything else."""
    student, rows = folder.name, []
    expected = f"<chapter>{EXERCISES_SUFFIX} with <chapter> one of {', '.join(sorted(available))}"
    if not _STUDENT_ID.fullmatch(student):
        message = (
            f"folder name '{student}' cannot be a student id (not graded): expected letters, "
            "digits, '.', '_', '-' or '@', starting with a letter or digit"
        )
        log.warning("%s/: %s", student, message)
        return [GradeRow(student, "", "", "", "", None, None, "error", message)]
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        chapter = (
            entry.name[: -len(EXERCISES_SUFFIX)] if entry.name.endswith(EXERCISES_SUFFIX) else ""
        )
        if entry.is_file() and chapter in available:
            submitted[student, chapter] = entry
            continue
        if chapter:
            message = f"unknown chapter '{chapter}' in {entry.name}: expected {expected}"
        else:
            kind = "folder" if entry.is_dir() else "file"
            message = f"unexpected {kind} '{entry.name}' (not graded): expected {expected}"
        rows.append(GradeRow(student, chapter, "", "", "", None, None, "error", message))
        log.warning("%s/: %s", student, message)
    return rows


def _chapter_rows(
    course: _Course,
    student: str,
    chapter: str,
    cells: list[_Cell],
    outcome: dict[tuple[str, str], tuple[str, dict[str, list[str]]]],
) -> list[GradeRow]:
    """One row per graded cell of ``chapter`` for ``student``."""
    graded = [cell for cell in cells if cell.graded]
    if (student, chapter) not in outcome:
        return [
            GradeRow(student, chapter, c.exercise, c.grade_id, _kind(c), 0.0, c.points, "missing",
                     f"no {chapter}{EXERCISES_SUFFIX} in the student's folder")
            for c in graded
        ]  # fmt: skip
    problem, notes = outcome[student, chapter]
    autograded = course.step("autograded", student, chapter) / f"{chapter}{EXERCISES_SUFFIX}"
    if not problem and not autograded.is_file():
        errors = course.errors.get((student, chapter), [])
        problem = (
            "nbgrader could not grade this submission ("
            + (_summary(errors) if errors else course.stopped or "no autograded notebook written")
            + "): fix it (e.g. restore deleted cells from the released copy) and grade again"
        )
        log.warning("%s/%s%s: %s", student, chapter, EXERCISES_SUFFIX, problem)
    if problem:
        extra = "; ".join(note for values in notes.values() for note in values)
        return [
            GradeRow(student, chapter, c.exercise, c.grade_id, _kind(c), None, c.points, "error",
                     "; ".join(filter(None, [problem, extra])))
            for c in graded
        ]  # fmt: skip
    scores = _gradebook_scores(course, student, chapter)
    executed = {
        cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"): cell
        for cell in json.loads(autograded.read_text(encoding="utf-8"))["cells"]
    }
    rows = []
    for cell in graded:
        auto_score, max_score = scores.get(cell.grade_id, (None, cell.points))
        if cell.cell_type == "code":
            if auto_score is None:
                status, message = "error", "nbgrader recorded no score for this cell"
            elif auto_score >= max_score:
                status, message = "passed", ""
            else:
                status = "partial" if auto_score > 0 else "failed"
                message = _first_error(executed.get(cell.grade_id, {}))
        elif auto_score is None:
            status, message = "needs manual grading", "written answer: grade it by hand"
        else:
            status, message = "no answer", "the answer cell was left as released"
        related = notes.get(cell.exercise, []) + (notes.get("", []) if cell.exercise else [])
        message = "; ".join(filter(None, [message, *related]))
        rows.append(
            GradeRow(student, chapter, cell.exercise, cell.grade_id, _kind(cell),
                     auto_score, max_score, status, message)
        )  # fmt: skip
    return rows


def _kind(cell: _Cell) -> str:
    return "code" if cell.cell_type == "code" else "written"


def _gradebook_scores(
    course: _Course, student: str, chapter: str
) -> dict[str, tuple[float | None, float]]:
    """``{grade_id: (auto_score, max_score)}`` from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        notebook_id = Path(f"{chapter}{EXERCISES_SUFFIX}").stem
        notebook = gradebook.find_submission_notebook(notebook_id, chapter, student)
        return {g.name: (g.auto_score, float(g.max_score)) for g in notebook.grades}


def write_grades_csv(rows: Sequence[GradeRow], path: str | Path) -> Path:
    """Write ``rows`` as CSV (header :data:`CSV_FIELDS`; an unknown score is an empty field)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for row in rows:
            writer.writerow(
                "" if value is None else f"{value:g}" if isinstance(value, float) else value
                for value in astuple(row)
            )
    return path


# --- command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m companion.coursework",
        description="Release the course's exercises to students and autograde submissions "
        "with nbgrader (offline: no Jupyter server, no browser).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--book", type=Path, default=DEFAULT_BOOK_DIR,
        help="folder searched for <chapter>_exercises.ipynb (default: the repo's book/)",
    )  # fmt: skip
    common.add_argument(
        "--workdir", type=Path, default=None,
        help="nbgrader's working folder, kept afterwards (default: a temporary one)",
    )  # fmt: skip
    common.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's log")

    rel = commands.add_parser(
        "release", parents=[common], help="write the student copies of chapters' exercises"
    )
    rel.add_argument(
        "chapters", nargs="*", metavar="CHAPTER",
        help="chapter name (attention) or path of an exercises notebook; none: every chapter",
    )  # fmt: skip
    rel.add_argument("--out", type=Path, required=True, help="folder for the student notebooks")

    gra = commands.add_parser(
        "grade", parents=[common], help="autograde SUBMISSIONS_DIR/<student_id>/*.ipynb"
    )
    gra.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    gra.add_argument("--out", type=Path, required=True, help="CSV file to write")
    gra.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    gra.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS,
        help=f"notebooks graded in parallel (default {DEFAULT_JOBS}, from the CPU count)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for usage errors)."""
    parser = _parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    try:
        if args.command == "release":
            paths = release(
                args.chapters, args.out, book_dir=args.book, workdir=args.workdir,
                verbose=args.verbose,
            )  # fmt: skip
            sys.stdout.write("".join(f"released {path}\n" for path in paths))
            return 0
        if args.out.is_dir():
            raise CourseworkError(f"--out '{args.out}' is a folder: expected a CSV file path")
        rows = grade(
            args.submissions, book_dir=args.book, workdir=args.workdir, timeout=args.timeout,
            jobs=args.jobs, verbose=args.verbose,
        )  # fmt: skip
        write_grades_csv(rows, args.out)
        students = len({row.student for row in rows})
        problems = sum(row.status == "error" for row in rows)
        sys.stdout.write(
            f"graded {students} students: {len(rows)} rows, {problems} with status 'error'"
            f" -> {args.out}\n"
        )
        return 0
    except CourseworkError as error:
        parser.error(str(error))  # exits with status 2
    except ReleaseError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    finally:
        log.removeHandler(handler)
    return 2  # unreachable: parser.error exits


if __name__ == "__main__":
    raise SystemExit(main())
