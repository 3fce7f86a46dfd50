"""What the course knows about its notebooks, in one importable place.

- :mod:`.cells`: nbgrader's cell format as the exercises notebooks use it (the metadata,
  the SOLUTION and HIDDEN TESTS markers, the hidden-test placeholder, ``EXERCISES_SUFFIX``,
  the graded cells and their first error);
- :mod:`.env`: the environment every notebook kernel runs in (nbval, the tools, the grader);
- :mod:`.kernels`: PyTorch's CPU kernel levels, the environment that selects each, and
  which ones this CPU has;
- :mod:`.execute`: execute a notebook in place and tag its figure cells;
- :mod:`.wrong_answers`: the plausible wrong answers kept beside each exercises notebook
  (``<chapter>_exercises.wrong.py``), read and turned into submissions to grade.

The book's extensions (``book/_ext``), the instructor tools (``tools/``), the benchmarks
and :mod:`course_tools.coursework` import these; nothing here imports them. Importing a
module here is cheap: nbclient, nbformat and torch are imported only by the functions that
need them.
"""

from __future__ import annotations

__all__ = ["cells", "env", "execute", "kernels", "wrong_answers"]
