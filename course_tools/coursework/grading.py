"""Grade ``SUBMISSIONS_DIR/<student_id>/<chapter>_exercises.ipynb``, each in its own sandbox.

The grading process (trusted) does everything but run student code, in four steps:

1. :func:`collect` reads the students' folders: who handed in which chapter, and what in a
   folder is not a submission;
2. :func:`plan` releases each chapter with nbgrader to learn its cells, reads and checks
   each submission, restores the instructor's test cells (:func:`.submissions.prepare`)
   and flags suspicious code (:mod:`.flags`); it picks the (student, chapter) pairs this
   run grades (every pair, the students asked for, or one shard of them);
3. :func:`run` hands each prepared notebook to a fresh sandbox (:mod:`.sandbox`), ``jobs``
   at a time;
4. :func:`score` turns each executed notebook that comes back into rows (:mod:`.scoring`)
   and a feedback page (:mod:`.feedback`).

:func:`grade_results` chains them into :class:`.results.Results`; :func:`grade` returns the
rows. No gradebook or source notebook is ever where student code runs, and the submitted
files are only read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

from ..notebooks.cells import (
    EXERCISES_SUFFIX,
    HIDDEN_BEGIN,
    Cell,
    hidden_lines,
    nbgrader_cells,
    text,
)
from .chapters import default_book, find_chapters
from .errors import CourseworkError
from .feedback import feedback_page
from .flags import review
from .limits import Limits
from .outputs import write_pages
from .protocol import RunResult
from .records import ChapterInfo, GradeRow, Key, Status
from .release import released_copies, working_folder
from .results import Results, Shard
from .sandbox import Sandbox, isolation_warning
from .scoring import error_rows, missing_message, score_rows
from .submissions import STUDENT_ID, Prepared, prepare, read_submission, scan_student

__all__ = [
    "DEFAULT_JOBS",
    "Collected",
    "Plan",
    "Task",
    "collect",
    "grade",
    "grade_results",
    "machine_memory_mb",
    "plan",
    "run",
    "score",
]

#: ``progress(done, total)``: called as each notebook is graded (and once with 0 first).
Progress = Callable[[int, int], None]


def _cores() -> int:
    """The CPU cores this process may use (a Slurm or container allocation included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: Sandboxes run at the same time by default: one per CPU core this process may use.
DEFAULT_JOBS = _cores()

log = logging.getLogger("course_tools.coursework")


def machine_memory_mb() -> int | None:
    """The machine's physical memory in MiB (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return None


# --- 1. collect ---------------------------------------------------------------------------


@dataclass
class Collected:
    """The students' folders as found: ``submitted`` maps (student, chapter) to the notebook;
    ``problems`` are the rows of what is not a submission (a stray file, a bad folder name);
    ``chapters`` every chapter somebody handed in, sorted."""

    submissions_dir: Path
    book: Path
    available: dict[str, Path]
    folders: list[str]
    submitted: dict[Key, Path]
    problems: list[GradeRow]
    chapters: list[str]

    @property
    def students(self) -> list[str]:
        """The folders whose name is a student id, sorted."""
        return [name for name in self.folders if STUDENT_ID.fullmatch(name)]


def collect(submissions_dir: str | Path, book_dir: str | Path | None = None) -> Collected:
    """Read ``submissions_dir`` (one sub-folder per student) and the book's chapters.

    Raises:
        CourseworkError: a missing folder, no student folder, or no chapter in the book.
    """
    submissions_dir = Path(submissions_dir)
    if not submissions_dir.is_dir():
        raise CourseworkError(
            f"submissions folder '{submissions_dir}' does not exist: expected a folder with "
            f"one sub-folder per student, holding <chapter>{EXERCISES_SUFFIX}"
        )
    folders = sorted(
        p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not folders:
        raise CourseworkError(
            f"no student folders in '{submissions_dir}': expected "
            f"{submissions_dir}/<student_id>/<chapter>{EXERCISES_SUFFIX}"
        )
    book = Path(book_dir) if book_dir is not None else default_book()
    available = find_chapters(book)
    if not available:
        raise CourseworkError(
            f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book}': "
            "expected the source notebooks of the chapters to grade (see --book)"
        )
    problems: list[GradeRow] = []
    submitted: dict[Key, Path] = {}
    for folder in folders:
        for chapter, problem in scan_student(folder, available, submitted):
            problems.append(
                GradeRow(folder.name, chapter, "", "", "", None, None, Status.ERROR, problem)
            )
    chapters = sorted({chapter for _, chapter in submitted})
    return Collected(submissions_dir, book, available, [f.name for f in folders], submitted,
                     problems, chapters)  # fmt: skip


# --- 2. plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One notebook to run: the prepared submission and its review flags."""

    prepared: Prepared
    flags: str


@dataclass
class Plan:
    """What this run grades.

    ``pairs``: the (student, chapter) pairs it owns, sorted; ``tasks``: those with a
    notebook to run; ``fixed``: rows known without running anything (a missing or
    unreadable notebook, what is not a submission); ``students``: whom the results cover;
    ``fingerprint``: a digest of the whole class (every submission, the chapters' sources,
    the limits, the sandbox), the same for every shard of one class.
    """

    chapters: dict[str, ChapterInfo]
    cells: dict[str, list[Cell]]
    hidden: dict[str, set[str]]
    pairs: list[Key]
    tasks: dict[Key, Task]
    fixed: list[GradeRow]
    students: tuple[str, ...]
    fingerprint: str


def _fingerprint(collected: Collected, limits: Limits, isolated: bool) -> str:
    digest = hashlib.sha256()
    document = {
        "submitted": sorted(
            [s, c, hashlib.sha256(p.read_bytes()).hexdigest()]
            for (s, c), p in collected.submitted.items()
        ),
        "students": collected.folders,
        "problems": [list(astuple(row)) for row in collected.problems],
        "sources": {
            c: hashlib.sha256(collected.available[c].read_bytes()).hexdigest()
            for c in collected.chapters
        },
        "limits": asdict(limits),
        "isolated": isolated,
    }
    digest.update(json.dumps(document, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _chapter_info(cells: list[Cell], source: dict[str, Any]) -> ChapterInfo:
    hidden_tests = [
        c.grade_id for c in nbgrader_cells(source) if c.is_test and HIDDEN_BEGIN in text(c.source)
    ]
    return ChapterInfo(
        cells=tuple(c.grade_id for c in cells if c.graded),
        hidden_tests=tuple(hidden_tests),
        hidden_lines=tuple(sorted(hidden_lines(source))),
    )


def plan(
    collected: Collected,
    release_dir: Path,
    *,
    limits: Limits,
    isolated: bool,
    students: Sequence[str] | None = None,
    shard: Shard | None = None,
) -> Plan:
    """Prepare every submission this run grades (see the module docstring).

    ``release_dir`` holds nbgrader's student copies (``<chapter>/<chapter>_exercises.ipynb``).
    The pairs of the class are sorted by chapter, then student; shard K of N takes those at
    positions K, K + N, K + 2N, ... (each shard gets a share of every chapter), and the
    rows of what is not a submission go to shard 0.
    """
    released, sources, cells = {}, {}, {}
    for chapter in collected.chapters:
        name = f"{chapter}{EXERCISES_SUFFIX}"
        released[chapter] = json.loads((release_dir / chapter / name).read_text("utf-8"))
        sources[chapter] = json.loads(collected.available[chapter].read_text("utf-8"))
        cells[chapter] = nbgrader_cells(released[chapter])
    every_pair = sorted((c, s) for s in collected.students for c in collected.chapters)
    wanted = set(students) if students is not None else None
    if shard is not None:
        owned = [p for i, p in enumerate(every_pair) if i % shard.count == shard.index]
    else:
        owned = [p for p in every_pair if wanted is None or p[1] in wanted]
    pairs = sorted((student, chapter) for chapter, student in owned)
    fixed = [
        row for row in collected.problems
        if (wanted is None or row.student in wanted) and (shard is None or shard.index == 0)
    ]  # fmt: skip
    for row in fixed:
        log.warning("%s/: %s", row.student, row.message)

    tasks: dict[Key, Task] = {}
    for student, chapter in pairs:
        path = collected.submitted.get((student, chapter))
        if path is None:
            fixed += error_rows(student, chapter, cells[chapter], Status.MISSING,
                                missing_message(chapter))  # fmt: skip
            continue
        notebook, problem = read_submission(path)
        if notebook is None:
            log.warning("%s/%s: %s", student, path.name, problem)
            fixed += error_rows(student, chapter, cells[chapter], Status.ERROR, problem)
            continue
        prepared = prepare(notebook, released[chapter], sources[chapter])
        for values in prepared.notes.values():
            for note in values:
                log.warning("%s/%s: %s", student, path.name, note)
        flags = review(prepared.student_code)
        for flag in flags:
            log.warning("%s/%s: review: %s", student, path.name, flag)
        tasks[student, chapter] = Task(prepared, "; ".join(flags))
    covered = tuple(sorted(wanted)) if wanted is not None else tuple(collected.folders)
    return Plan(
        chapters={c: _chapter_info(cells[c], sources[c]) for c in collected.chapters},
        cells=cells,
        hidden={c: hidden_lines(sources[c]) for c in collected.chapters},
        pairs=pairs,
        tasks=tasks,
        fixed=fixed,
        students=covered,
        fingerprint=_fingerprint(collected, limits, isolated),
    )


# --- 3. run -------------------------------------------------------------------------------


def run(
    the_plan: Plan,
    sandbox: Sandbox,
    jobs: int,
    finished: Callable[[Key, RunResult], None],
) -> None:
    """Run every task's notebook, ``jobs`` sandboxes at a time; ``finished(key, result)``
    is called in this thread as each run ends (in the order they end).

    Each running sandbox holds a slot number, which gives it a user id of its own.
    """
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def one(key: Key) -> RunResult:
        slot = slots.get()
        try:
            return sandbox.run(the_plan.tasks[key].prepared.notebook, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, key): key for key in sorted(the_plan.tasks)}
        for future in as_completed(futures):
            finished(futures[future], future.result())


# --- 4. score -----------------------------------------------------------------------------


def score(
    the_plan: Plan, key: Key, result: RunResult, limits: Limits, page: bool
) -> tuple[list[GradeRow], str | None]:
    """The rows of one run, and its feedback page (HTML) if ``page`` (None if not graded)."""
    student, chapter = key
    task = the_plan.tasks[key]
    if result.notebook is None:
        message = f"could not be graded: {result.failure}"
        log.warning("%s/%s%s: %s", student, chapter, EXERCISES_SUFFIX, message)
        return error_rows(student, chapter, the_plan.cells[chapter], Status.ERROR, message,
                          task.flags), None  # fmt: skip
    rows = score_rows(student, chapter, the_plan.cells[chapter], task.prepared, result,
                      task.flags, limits.memory_mb)  # fmt: skip
    html = feedback_page(result.notebook, rows, the_plan.hidden[chapter]) if page else None
    return rows, html


# --- all of it ----------------------------------------------------------------------------


def grade_results(
    submissions_dir: str | Path,
    *,
    book_dir: str | Path | None = None,
    workdir: str | Path | None = None,
    limits: Limits | None = None,
    jobs: int | None = None,
    sandbox: str = "auto",
    students: Sequence[str] | None = None,
    shard: Shard | None = None,
    pages: bool = False,
    progress: Progress | None = None,
    verbose: bool = False,
) -> Results:
    """Grade a class (or some students of it, or one shard of it): collect, plan, run, score.

    Takes the arguments of :func:`grade` (``limits`` for its three limits), and:

    Args:
        students: grade only these students (their ids); the chapters are still every
            chapter that anybody handed in.
        shard: grade only this shard of the (student, chapter) pairs.
        pages: render each graded notebook's feedback page (into ``Results.pages``).
        progress: called as ``progress(done, total)`` as the notebooks are graded.

    Raises:
        CourseworkError: as :func:`grade`; a student asked for that has no folder; both
            ``students`` and ``shard``.
    """
    limits = limits or Limits()
    jobs = DEFAULT_JOBS if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs <= 0:
        raise CourseworkError(f"jobs must be a positive number of sandboxes, got {jobs!r}")
    if students is not None and shard is not None:
        raise CourseworkError(
            "--student and --shard cannot be combined: regrade students in one run"
        )
    collected = collect(submissions_dir, book_dir)
    if students is not None:
        unknown = sorted(set(students) - set(collected.students))
        if unknown:
            raise CourseworkError(
                f"no folder for student {', '.join(map(repr, unknown))} in "
                f"'{collected.submissions_dir}': expected one of its student folders"
            )
    the_sandbox = Sandbox(sandbox, limits)
    if not the_sandbox.isolated:
        log.warning("%s", isolation_warning())
    if not collected.chapters:  # nothing to release or run: only what is not a submission
        the_plan = plan(collected, Path(), limits=limits, isolated=False, students=students,
                        shard=shard)  # fmt: skip
        results = Results(list(the_plan.fixed), the_plan.chapters, students=the_plan.students,
                          fingerprint=the_plan.fingerprint)  # fmt: skip
        results.sort()
        return results

    with working_folder(workdir) as work:
        chapters = {c: collected.available[c] for c in collected.chapters}
        release_dir = released_copies(chapters, work / "course", verbose)
        the_plan = plan(collected, release_dir, limits=limits, isolated=the_sandbox.isolated,
                        students=students, shard=shard)  # fmt: skip
        the_sandbox.prepare(work / "seed")
        running = min(jobs, max(1, len(the_plan.tasks)))
        memory = machine_memory_mb()
        if memory is not None and running * limits.memory_mb > memory:
            log.warning(
                "%d sandboxes at once x %d MiB each (--jobs x --memory) is more than this "
                "machine's %d MiB: lower --jobs or --memory, or a heavy class may run out "
                "of memory", running, limits.memory_mb, memory,
            )  # fmt: skip
        results = Results(list(the_plan.fixed), the_plan.chapters, students=the_plan.students,
                          fingerprint=the_plan.fingerprint)  # fmt: skip
        results.pairs = tuple(the_plan.pairs)
        total, done = len(the_plan.tasks), [0]
        if progress is not None:
            progress(0, total)

        def finished(key: Key, result: RunResult) -> None:
            rows, page = score(the_plan, key, result, limits, pages)
            results.rows.extend(rows)
            if page is not None:
                results.pages[key] = page
            if result.reply is not None:
                results.timing[key] = (round(result.wall_s, 3), result.reply.timing.cells_s)
                if workdir is not None:
                    student, chapter = key
                    target = work / "graded" / student / f"{chapter}{EXERCISES_SUFFIX}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(json.dumps(result.notebook), encoding="utf-8")
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

        run(the_plan, the_sandbox, running, finished)
    results.sort()
    return results


def grade(
    submissions_dir: str | Path,
    *,
    book_dir: str | Path | None = None,
    workdir: str | Path | None = None,
    timeout: int = Limits.timeout,
    notebook_timeout: int = Limits.notebook_timeout,
    memory_mb: int = Limits.memory_mb,
    jobs: int | None = None,
    sandbox: str = "auto",
    feedback_dir: str | Path | None = None,
    students: Sequence[str] | None = None,
    verbose: bool = False,
) -> list[GradeRow]:
    """Grade every submission; one row per student and graded cell.

    Every chapter that any student submitted is graded for every student (a student
    without that notebook gets status ``missing`` and 0 points). Each notebook runs in a
    sandbox of its own (:class:`.sandbox.Sandbox`), ``jobs`` at a time; the rows are the
    same whatever ``jobs`` is.

    Args:
        submissions_dir: one sub-folder per student (hidden entries are ignored).
        book_dir: where the chapters' source notebooks are (default: :func:`default_book`).
        workdir: a folder to keep nbgrader's course folder (``course/``) and every executed
            notebook (``graded/<student>/<chapter>_exercises.ipynb``, hidden tests
            included: for the instructor only). Default: a temporary folder, removed.
        timeout: seconds of CPU time one cell may use. notebook_timeout: seconds of CPU time
            for a whole notebook (each with a far wall-clock backstop, :mod:`.runner`).
        memory_mb: data memory per process of the sandbox (RLIMIT_DATA), in MiB; ``jobs``
            sandboxes at once may use up to ``jobs`` times as much. The three default to
            :class:`.limits.Limits`' defaults.
        jobs: sandboxes at the same time (default :data:`DEFAULT_JOBS`, one per CPU core).
        sandbox: ``"auto"`` (bubblewrap when usable, else a loud warning), ``"bwrap"``
            (required) or ``"none"`` (no isolation, with the warning).
        feedback_dir: if given, write ``<student>/<chapter>_feedback.html`` there (the old
            pages of the students graded are removed first, as the command line does).
        students: grade only these students (a regrade); None: everybody.
        verbose: show nbgrader's log on stderr.

    Returns:
        The rows, sorted by student, then chapter, then the cells' order in the notebook.
        Problems with a submission are also logged (``logging``, level WARNING).

    Raises:
        CourseworkError: a missing folder, no chapters, or a limit that is not positive.
    """
    limits = Limits(timeout=timeout, notebook_timeout=notebook_timeout, memory_mb=memory_mb)
    results = grade_results(
        submissions_dir, book_dir=book_dir, workdir=workdir, limits=limits, jobs=jobs,
        sandbox=sandbox, students=students, pages=feedback_dir is not None, verbose=verbose,
    )  # fmt: skip
    if feedback_dir is not None:
        write_pages(results.pages, feedback_dir, results.students)
    return results.rows
