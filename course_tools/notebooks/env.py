"""The environment every notebook kernel runs in: under nbval (the root ``conftest.py``),
``tools/run_notebooks.py``, ``tools/check_exercise_tests.py`` and the grader's sandbox.

Kept in one place so stored outputs, the test suite and graded submissions see the same
settings.
"""

from __future__ import annotations

import importlib.util

__all__ = ["KERNEL_ENV"]

KERNEL_ENV: dict[str, str] = {
    # No progress bars in stored outputs (companion.utils.progress_enabled).
    "COMPANION_PROGRESS": "0",
    # Reproducible set/dict ordering in anything a cell prints.
    "PYTHONHASHSEED": "0",
    # One thread per kernel: the suite runs two notebooks at a time on two cores, and
    # PyTorch's threads fighting over cores slow small models down several times. Stored
    # outputs never depend on it (results that could are rounded, or asserted).
    "OMP_NUM_THREADS": "1",
}

# The kernels' inline backend, whatever the caller's shell has (an MPLBACKEND=Agg there
# would leave stored notebooks without figures). Only where the backend is installed:
# the variable also reaches the test process, which imports matplotlib itself.
if importlib.util.find_spec("matplotlib_inline") is not None:
    KERNEL_ENV["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
