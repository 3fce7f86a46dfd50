"""Assign and grade the course's exercises with nbgrader, each submission in a sandbox.

Every chapter's exercises notebook (``book/<part>/<chapter>_exercises.ipynb``) is the
instructor's source, in nbgrader's cell format (see CONTRIBUTING.md). Two commands turn it
into coursework, offline, with no Jupyter server::

    python -m course_tools.coursework release [CHAPTER ...] --out DIR
    python -m course_tools.coursework grade SUBMISSIONS_DIR --out grades.csv --feedback DIR

and, for a cluster, ``grade --shard K/N --out DIR`` on each node, then ``merge DIR``.

The modules, one job each: :mod:`.chapters` (find the book and its exercises),
:mod:`.release` (nbgrader's student copies), :mod:`.submissions` (read and restore a
submission), :mod:`.sandbox` and :mod:`.runner` (run it isolated, with limits; the records
they exchange are in :mod:`.protocol`), :mod:`.records` (a row of grades, its status, a
chapter), :mod:`.scoring` and :mod:`.rules` (the
rules), :mod:`.flags` (what to review), :mod:`.feedback`
(the HTML feedback page), :mod:`.gradescope` (Gradescope's ``results.json`` document),
:mod:`.planning` (collect the submissions and plan a run), :mod:`.grading` (run and score
them: a class, some students of it, or a shard), :mod:`.results` (what a run produces:
shards, merge, regrade), :mod:`.outputs` (every file a run writes or reads: the
CSV files, feedback pages, Gradescope files) and :mod:`.cli`.
"""

from __future__ import annotations

from ..notebooks.cells import EXERCISES_SUFFIX
from .chapters import default_book, find_chapters
from .errors import CourseworkError, ReleaseError
from .flags import review
from .gradescope import gradescope_results
from .grading import DEFAULT_JOBS, grade, grade_results
from .limits import Limits
from .outputs import (
    read_grades_csv,
    write,
    write_grades_csv,
    write_gradescope,
    write_pages,
    write_summary_csv,
)
from .protocol import RunResult
from .records import ANSWER_TIMED_OUT, CSV_FIELDS, ChapterInfo, GradeRow, Status
from .release import release
from .results import Results, Shard, merge
from .sandbox import Sandbox, find_bwrap, isolation_warning

__all__ = [
    "ANSWER_TIMED_OUT",
    "CSV_FIELDS",
    "DEFAULT_JOBS",
    "EXERCISES_SUFFIX",
    "ChapterInfo",
    "CourseworkError",
    "GradeRow",
    "Limits",
    "ReleaseError",
    "Results",
    "RunResult",
    "Sandbox",
    "Shard",
    "Status",
    "default_book",
    "find_bwrap",
    "find_chapters",
    "grade",
    "grade_results",
    "gradescope_results",
    "isolation_warning",
    "merge",
    "read_grades_csv",
    "release",
    "review",
    "write",
    "write_grades_csv",
    "write_gradescope",
    "write_pages",
    "write_summary_csv",
]
