"""Grade ``SUBMISSIONS_DIR/<student_id>/<chapter>_exercises.ipynb``, each in its own sandbox.

The grading process (trusted) does everything but run student code, in four steps:

1. :func:`.planning.collect` reads the students' folders: who handed in which chapter, and
   what in a folder is not a submission;
2. :func:`.planning.make_plan` releases each chapter with nbgrader to learn its cells, reads
   and checks each submission, restores the instructor's test cells and flags suspicious
   code; it picks the (student, chapter) pairs this run grades;
3. :func:`run_all` hands each prepared notebook to a fresh sandbox (:mod:`.sandbox`),
   ``jobs`` at a time;
4. :func:`score` turns each executed notebook that comes back into rows (:mod:`.scoring`)
   and a feedback page (:mod:`.feedback`).

:func:`grade_results` chains them into :class:`.results.Results`; :func:`grade` returns the
rows. No gradebook or source notebook is ever where student code runs, and the submitted
files are only read.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .. import machine
from ..notebooks.cells import EXERCISES_SUFFIX
from .errors import CourseworkError
from .feedback import feedback_page
from .limits import Limits
from .outputs import write_graded_notebook, write_pages
from .planning import Plan, collect, make_plan
from .protocol import RunResult
from .records import GradeRow, Key, Status
from .release import released_copies, working_folder
from .results import Results, Shard
from .sandbox import Sandbox, isolation_warning
from .scoring import error_rows, score_rows

__all__ = [
    "DEFAULT_JOBS",
    "Progress",
    "grade",
    "grade_results",
    "run_all",
    "score",
]

#: ``progress(done, total)``: called as each notebook is graded (and once with 0 first).
Progress = Callable[[int, int], None]

#: Sandboxes run at the same time by default: one per CPU core this process may use.
DEFAULT_JOBS = machine.cores()

log = logging.getLogger("course_tools.coursework")


# --- 3. run -------------------------------------------------------------------------------


def run_all(
    plan: Plan,
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
            return sandbox.run_notebook(plan.tasks[key].prepared.notebook, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, key): key for key in sorted(plan.tasks)}
        for future in as_completed(futures):
            finished(futures[future], future.result())


# --- 4. score -----------------------------------------------------------------------------


def score(
    plan: Plan, key: Key, result: RunResult, limits: Limits, page: bool
) -> tuple[list[GradeRow], str | None]:
    """The rows of one run, and its feedback page (HTML) if ``page`` (None if not graded)."""
    student, chapter = key
    task = plan.tasks[key]
    if result.notebook is None:
        message = f"could not be graded: {result.failure}"
        log.warning("%s/%s%s: %s", student, chapter, EXERCISES_SUFFIX, message)
        return error_rows(student, chapter, plan.cells[chapter], Status.ERROR, message,
                          task.flags), None  # fmt: skip
    rows = score_rows(student, chapter, plan.cells[chapter], task.prepared, result,
                      task.flags, limits.memory_mb)  # fmt: skip
    html = feedback_page(result.notebook, rows, plan.hidden[chapter]) if page else None
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
    sandboxes = Sandbox(sandbox, limits)
    if not sandboxes.isolated:
        log.warning("%s", isolation_warning())
    if not collected.chapters:  # nothing to release or run: only what is not a submission
        plan = make_plan(collected, Path(), limits=limits, isolated=False, students=students,
                         shard=shard)  # fmt: skip
        results = Results(list(plan.fixed), plan.chapters, students=plan.students,
                          fingerprint=plan.fingerprint)  # fmt: skip
        results.sort()
        return results

    with working_folder(workdir) as work:
        chapters = {c: collected.available[c] for c in collected.chapters}
        release_dir = released_copies(chapters, work / "course", verbose)
        plan = make_plan(collected, release_dir, limits=limits, isolated=sandboxes.isolated,
                         students=students, shard=shard)  # fmt: skip
        if plan.tasks:  # the sandboxes' font cache, only where a sandbox will run
            sandboxes.prepare(work / "seed")
        running = min(jobs, max(1, len(plan.tasks)))
        memory = machine.memory_mb()
        if memory is not None and running * limits.memory_mb > memory:
            log.warning(
                "%d sandboxes at once x %d MiB each (--jobs x --memory) is more than this "
                "machine's %d MiB: lower --jobs or --memory, or a heavy class may run out "
                "of memory", running, limits.memory_mb, memory,
            )  # fmt: skip
        results = Results(list(plan.fixed), plan.chapters, students=plan.students,
                          fingerprint=plan.fingerprint)  # fmt: skip
        results.pairs = tuple(plan.pairs)
        total, done = len(plan.tasks), [0]
        if progress is not None:
            progress(0, total)

        def finished(key: Key, result: RunResult) -> None:
            rows, page = score(plan, key, result, limits, pages)
            results.rows.extend(rows)
            if page is not None:
                results.pages[key] = page
            if result.reply is not None:
                results.timing[key] = (round(result.wall_s, 3), result.reply.timing.cells_s)
                if workdir is not None:
                    write_graded_notebook(result.reply.notebook, work / "graded", key)
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

        run_all(plan, sandboxes, running, finished)
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
        book_dir: where the chapters' source notebooks are (default:
            :func:`.chapters.default_book`).
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
