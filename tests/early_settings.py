"""The suite's earliest settings: a pytest plugin loaded before any other (``-p
early_settings`` in ``pyproject.toml``'s ``addopts``), in the main process and in every
xdist worker. Neither changes what any test computes; both change what it costs.

1. **No grammar for a format nobody checks.** nbval, a plugin loaded from its entry point,
   imports nbformat, which imports jsonschema, which imports ``rfc3987_syntax`` (if
   installed) for its "iri" string format; that module compiles a grammar on import, about
   2 s of CPU time in every pytest process, for a format no notebook schema uses. Marked
   absent, jsonschema leaves that one format unchecked. The grader's processes do the same
   (``course_tools.coursework.__main__`` and the sandbox's runner).
2. **Freed memory kept for reuse.** The suite allocates and frees arrays of hundreds of MB
   (Fashion-MNIST as float32, distance matrices, activations). glibc serves each from a
   fresh ``mmap`` and returns it on ``free``, so every one is page-faulted in again; on the
   virtual machines CI runs on, a page fault costs tens of microseconds, and converting
   the training images to float32 six times took 1.2-4.3 s instead of 0.5-0.9 s with
   the settings below (measured on this course's 2-core CI machine). ``MALLOC_MMAP_MAX_=0``
   takes every allocation from the heap and ``MALLOC_TRIM_THRESHOLD_`` keeps its freed
   top for reuse. Set in the environment, they reach every process the suite starts
   after this (the xdist workers, nbval's kernels, the site build); a value already set is
   kept. glibc reads them at start-up only, and other C libraries ignore them. The cost is
   memory: freed blocks stay with the process (a kernel running the capstone and the
   Transformer-block chapter peaked at 3.6 GB instead of 2.4 GB; paired runs took 0.83 of
   the time, and the run-data tests 0.63), so only a machine with
   :data:`MALLOC_MIN_MEMORY_GB` or more gets them.
"""

from __future__ import annotations

import os
import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

#: glibc's allocator settings for the processes the suite starts (see 2. above).
MALLOC_SETTINGS = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 36)}
#: The physical memory, in GB, a machine needs for :data:`MALLOC_SETTINGS`.
MALLOC_MIN_MEMORY_GB = 16


def _memory_gb() -> float:
    """This machine's physical memory in GB (0 where the system does not say).

    ``course_tools.machine.memory_mb`` says the same, but this plugin is imported before
    pytest puts the repository's root ahead of ``tests/`` on ``sys.path``, where
    ``course_tools`` would be the tests' package of that name.
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
    except (AttributeError, OSError, ValueError):
        return 0.0


if _memory_gb() >= MALLOC_MIN_MEMORY_GB:
    for _name, _value in MALLOC_SETTINGS.items():
        os.environ.setdefault(_name, _value)
