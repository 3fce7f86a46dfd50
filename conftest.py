"""Test-suite settings shared by every test, nbval's notebook kernels included."""

from __future__ import annotations

import os
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
