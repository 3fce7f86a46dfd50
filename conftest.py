"""Test-suite settings shared by every test, nbval's notebook kernels included."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from course_tools.notebooks.env import KERNEL_ENV

ROOT = Path(__file__).resolve().parent

#: Notebook paths (relative to the repo) that this session collected.
COLLECTED_NOTEBOOKS = pytest.StashKey[set]()

# Kernels started by nbval inherit this process's environment.
os.environ.update(KERNEL_ENV)


def _fashion_mnist_missing() -> str | None:
    """The loader's message if Fashion-MNIST is not installed, else None."""
    from companion.data.fashion_mnist import FashionMNISTNotFoundError, fashion_mnist_dir

    try:
        fashion_mnist_dir()
    except FashionMNISTNotFoundError as err:
        return str(err)
    return None


def _uses_fashion_mnist(path: Path) -> bool:
    return path.suffix == ".ipynb" and "fashion_mnist" in path.read_text()


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect anything
def pytest_collection_modifyitems(session, config, items) -> None:
    """Remember which notebooks nbval collected (tests/test_notebooks.py checks it), and
    skip the Fashion-MNIST notebooks, with the loader's message, where the data set is not
    installed (outside CI: under CI=true they run, and fail with that message)."""
    config.stash[COLLECTED_NOTEBOOKS] = {
        Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        for item in items
        if str(item.path).endswith(".ipynb")
    }
    if os.environ.get("CI", "").lower() == "true":
        return
    paths = {Path(str(item.path)) for item in items}
    fashion = {p for p in paths if _uses_fashion_mnist(p)}
    missing = _fashion_mnist_missing() if fashion else None
    if missing:
        skip = pytest.mark.skip(reason=missing)
        for item in items:
            if Path(str(item.path)) in fashion:
                item.add_marker(skip)


# --- the order and grouping of work on xdist's workers ----------------------------------------
#
# ``--dist=loadfile`` hands each worker whole files (a notebook's cells run in order in one
# kernel), by default the files with the most tests first. On two cores that left the
# files that take longest (a few tests, each grading a class in sandboxes) to the end, run
# one after the other on one worker while the other sat idle. The scheduler below keeps
# loadfile's rule, with three refinements: files that share a session fixture are one unit
# (one worker builds it once), a file whose module fixture is parametrized is one unit per
# parameter (each worker builds only its own), and the longest units start first.

#: Files whose tests use the same session-scoped fixture: each runs with the first named.
SAME_UNIT = {  # ``built_site`` and ``site_visits`` (tests/conftest.py)
    "tests/test_site_downloads.py": "tests/test_site.py",
    "tests/test_site_layout.py": "tests/test_site.py",
}
#: Files whose module-scoped fixture is parametrized: one unit per parameter id.
BY_PARAMETER = {"tests/test_coursework_attacks.py": ("jobs", "shards")}
#: Seconds each long unit took (``--durations``, two workers, the 2-core CI machine under the
#: suite's own load): only the order in which units start depends on them, never what runs.
#: Units not named here take a few seconds each and fill the gaps at the end, most tests
#: first.
LONG_UNITS = {
    "tests/test_site.py": 138.0,  # with test_site_downloads.py and test_site_layout.py
    "tests/test_run_data.py": 90.0,
    "book/representation/triplet_loss.ipynb": 60.0,
    "tests/test_wrong_answers.py": 56.0,
    "tests/test_coursework.py": 52.0,
    "tests/test_coursework_parallel.py": 51.0,
    "book/representation/capstone.ipynb": 47.0,
    "book/representation/contrastive.ipynb": 58.0,  # measured alone, not yet in a full run
    "book/transformers/training.ipynb": 45.0,
    "tests/companion/train/test_weights.py": 32.0,
    "tests/test_coursework_attacks.py[shards]": 31.0,
    "tests/test_coursework_attacks.py[jobs]": 27.0,
    "book/transformers/transformer_block.ipynb": 24.0,
    "book/transformers/vision_transformer.ipynb": 22.0,
    "book/transformers/attention.ipynb": 9.0,
    "book/foundations/probability.ipynb": 8.0,
    "book/foundations/linear_algebra.ipynb": 7.0,
    "book/transformers/vision_transformer_exercises.ipynb": 6.0,
    "tests/companion/train/test_open_set.py": 6.0,
    "book/foundations/calculus.ipynb": 6.0,
    "tests/course_tools/notebooks/test_kernels.py": 6.0,
}


def unit_of(nodeid: str) -> str:
    """The unit of work (run by one worker, in collection order) a test belongs to."""
    path = nodeid.split("::", 1)[0]
    for parameter in BY_PARAMETER.get(path, ()):
        if re.search(rf"[\[-]{parameter}[\]-]", nodeid.split("::", 1)[1]):
            return f"{path}[{parameter}]"
    return SAME_UNIT.get(path, path)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """Under ``--dist=loadfile``, the scheduler described above (else xdist's own)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LongestFirst(LoadFileScheduling):
        """loadfile, with units as :func:`unit_of` says, the longest handed out first."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def _assign_work_unit(self, node: object) -> None:
            # The queue is ordered by number of tests (xdist's --loadscope-reorder); move
            # the longest unit to its front (ties keep that order) before it is taken.
            longest = max(self.workqueue, key=lambda unit: LONG_UNITS.get(unit, 0.0))
            self.workqueue.move_to_end(longest, last=False)
            super()._assign_work_unit(node)

    return LongestFirst(config, log)


#: xdist workers per core under ``--numprocesses=auto`` (``--maxprocesses`` still caps them).
#: One: with two per core, the grader's tests starved their own sandboxes (an endless loop
#: met the wall-clock backstop before its CPU-time limit, and the feedback changed with the
#: load), which they exist to rule out.
WORKERS_PER_CORE = 1


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """:data:`WORKERS_PER_CORE` workers per core. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still
    decides where it is set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from course_tools import machine

    return WORKERS_PER_CORE * machine.cores()
