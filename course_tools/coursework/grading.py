"""Grade ``SUBMISSIONS_DIR/<student_id>/<chapter>_exercises.ipynb``, each in its own sandbox.

The grading process (trusted) does everything but run student code: it releases each
chapter with nbgrader to learn its cells, reads and checks each submission, restores the
instructor's test cells (:func:`.submissions.prepare`), flags suspicious code
(:mod:`.flags`), hands the notebook to a fresh sandbox (:mod:`.sandbox`), and scores the
executed notebook that comes back (:mod:`.scoring`). No gradebook or source notebook is
ever where student code runs, and the submitted files are only read.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .chapters import EXERCISES_SUFFIX, default_book, find_chapters, hidden_lines, nbgrader_cells
from .errors import CourseworkError
from .feedback import write_feedback
from .flags import review
from .limits import Limits
from .release import released_copies, working_folder
from .sandbox import Sandbox, isolation_warning
from .scoring import GradeRow, error_rows, missing_message, score_rows
from .submissions import STUDENT_ID, Prepared, prepare, read_submission, scan_student

__all__ = ["DEFAULT_JOBS", "grade"]

#: Submissions graded at the same time by default (each in its own sandbox).
DEFAULT_JOBS = max(1, min(4, os.cpu_count() or 1))

log = logging.getLogger("course_tools.coursework")


def _seed_matplotlib(folder: Path) -> None:
    """Build Matplotlib's font cache once, for every sandbox to copy (kernels start faster)."""
    env = {**os.environ, "MPLCONFIGDIR": str(folder / "mpl"), "MPLBACKEND": "Agg"}
    subprocess.run(
        [sys.executable, "-c", "import matplotlib.font_manager"],
        env=env, capture_output=True, check=False, timeout=300,
    )  # fmt: skip


def grade(
    submissions_dir: str | Path,
    *,
    book_dir: str | Path | None = None,
    workdir: str | Path | None = None,
    timeout: int = 60,
    notebook_timeout: int = 300,
    memory_mb: int = 2048,
    jobs: int | None = None,
    sandbox: str = "auto",
    feedback_dir: str | Path | None = None,
    verbose: bool = False,
) -> list[GradeRow]:
    """Grade every submission; one row per student and graded cell.

    Every chapter that any student submitted is graded for every student (a student
    without that notebook gets status ``missing`` and 0 points). Each notebook runs in a
    sandbox of its own (:class:`.sandbox.Sandbox`), ``jobs`` at a time.

    Args:
        submissions_dir: one sub-folder per student (hidden entries are ignored).
        book_dir: where the chapters' source notebooks are (default: :func:`default_book`).
        workdir: a folder to keep nbgrader's course folder (``course/``) and every executed
            notebook (``graded/<student>/<chapter>_exercises.ipynb``, hidden tests
            included: for the instructor only). Default: a temporary folder, removed.
        timeout: seconds one cell may run. notebook_timeout: seconds for a whole notebook.
        memory_mb: data memory per process of the sandbox (RLIMIT_DATA), in MiB.
        jobs: submissions graded at the same time (default :data:`DEFAULT_JOBS`).
        sandbox: ``"auto"`` (bubblewrap when usable, else a loud warning), ``"bwrap"``
            (required) or ``"none"`` (no isolation, with the warning).
        feedback_dir: if given, write ``<student>/<chapter>_feedback.html`` there.
        verbose: show nbgrader's log on stderr.

    Returns:
        The rows, sorted by student, then chapter, then the cells' order in the notebook.
        Problems with a submission are also logged (``logging``, level WARNING).

    Raises:
        CourseworkError: a missing folder, no chapters, or a limit that is not positive.
    """
    limits = Limits(timeout=timeout, notebook_timeout=notebook_timeout, memory_mb=memory_mb)
    jobs = DEFAULT_JOBS if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs <= 0:
        raise CourseworkError(f"jobs must be a positive number of sandboxes, got {jobs!r}")
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
    book = Path(book_dir) if book_dir is not None else default_book()
    available = find_chapters(book)
    if not available:
        raise CourseworkError(
            f"no exercises notebooks (*{EXERCISES_SUFFIX}) found under '{book}': "
            "expected the source notebooks of the chapters to grade (see --book)"
        )
    runner = Sandbox(sandbox, limits)
    if not runner.isolated:
        log.warning("%s", isolation_warning())

    rows: list[GradeRow] = []
    submitted: dict[tuple[str, str], Path] = {}
    for folder in students:
        for chapter, problem in scan_student(folder, available, submitted):
            log.warning("%s/: %s", folder.name, problem)
            rows.append(GradeRow(folder.name, chapter, "", "", "", None, None, "error", problem))
    chapters = sorted({chapter for _, chapter in submitted})
    if not chapters:
        return sorted(rows, key=lambda r: (r.student, r.chapter))

    with working_folder(workdir) as work:
        release = released_copies({c: available[c] for c in chapters}, work / "course", verbose)
        released, sources = {}, {}
        for chapter in chapters:
            name = f"{chapter}{EXERCISES_SUFFIX}"
            released[chapter] = json.loads((release / chapter / name).read_text("utf-8"))
            sources[chapter] = json.loads(available[chapter].read_text("utf-8"))
        cells = {chapter: nbgrader_cells(nb) for chapter, nb in released.items()}
        _seed_matplotlib(work / "seed")
        runner.seed_dir = work / "seed"

        tasks: dict[tuple[str, str], tuple[Prepared, str]] = {}
        for folder in students:
            student = folder.name
            if not STUDENT_ID.fullmatch(student):
                continue
            for chapter in chapters:
                path = submitted.get((student, chapter))
                if path is None:
                    rows += error_rows(student, chapter, cells[chapter], "missing",
                                       missing_message(chapter))  # fmt: skip
                    continue
                notebook, problem = read_submission(path)
                if notebook is None:
                    log.warning("%s/%s: %s", student, path.name, problem)
                    rows += error_rows(student, chapter, cells[chapter], "error", problem)
                    continue
                prepared = prepare(notebook, released[chapter], sources[chapter])
                for values in prepared.notes.values():
                    for note in values:
                        log.warning("%s/%s: %s", student, path.name, note)
                flags = review(prepared.student_code)
                for flag in flags:
                    log.warning("%s/%s: review: %s", student, path.name, flag)
                tasks[student, chapter] = (prepared, "; ".join(flags))

        def finished(key: tuple[str, str], result: Any) -> None:
            student, chapter = key
            prepared, flags = tasks[key]
            if result.notebook is None:
                message = f"could not be graded: {result.failure}"
                log.warning("%s/%s%s: %s", student, chapter, EXERCISES_SUFFIX, message)
                rows.extend(error_rows(student, chapter, cells[chapter], "error", message, flags))
                return
            rows.extend(
                score_rows(student, chapter, cells[chapter], prepared, result.notebook,
                           result.stopped, result.cut, flags, limits.memory_mb)
            )  # fmt: skip
            name = f"{chapter}{EXERCISES_SUFFIX}"
            if workdir is not None:
                target = work / "graded" / student / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(result.notebook), encoding="utf-8")
            if feedback_dir is not None:
                mine = [r for r in rows if r.student == student and r.chapter == chapter]
                write_feedback(
                    result.notebook, mine, hidden_lines(sources[chapter]),
                    Path(feedback_dir) / student / f"{chapter}_feedback.html",
                )  # fmt: skip

        _run_all(runner, tasks, jobs, finished)

    order = {(c, g.grade_id): i for c, cs in cells.items() for i, g in enumerate(cs)}
    rows.sort(key=lambda r: (r.student, r.chapter != "", r.chapter,
                             order.get((r.chapter, r.grade_id), -1)))  # fmt: skip
    return rows


def _run_all(
    runner: Sandbox,
    tasks: dict[tuple[str, str], tuple[Prepared, str]],
    jobs: int,
    finished: Callable[[tuple[str, str], Any], None],
) -> None:
    """Run every task's notebook, ``jobs`` sandboxes at a time; ``finished`` in this thread.

    Each running sandbox holds a slot number, which gives it a user id of its own.
    """
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def one(key: tuple[str, str]) -> Any:
        slot = slots.get()
        try:
            return runner.run(tasks[key][0].notebook, slot)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {key: pool.submit(one, key) for key in sorted(tasks)}
        for key, future in futures.items():
            finished(key, future.result())
