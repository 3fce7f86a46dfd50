"""Test-suite settings shared by every test, nbval's notebook kernels included."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))

import pytest  # noqa: E402
from notebook_env import KERNEL_ENV  # noqa: E402

#: Notebook paths (relative to the repo) that this session collected.
COLLECTED_NOTEBOOKS = pytest.StashKey[set]()

# Kernels started by nbval inherit this process's environment.
os.environ.update(KERNEL_ENV)


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect anything
def pytest_collection_modifyitems(session, config, items) -> None:
    """Remember which notebooks nbval collected (tests/test_notebooks.py checks it)."""
    config.stash[COLLECTED_NOTEBOOKS] = {
        Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        for item in items
        if str(item.path).endswith(".ipynb")
    }
