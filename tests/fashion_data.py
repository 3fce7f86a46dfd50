"""Whether Fashion-MNIST is installed, and the skip marker of the tests that read it: they
are skipped where it is missing, except under ``CI=true``, where they run and fail."""

from __future__ import annotations

import os

import pytest

from companion.data import fashion_mnist


def fashion_installed() -> bool:
    """Whether the loader finds the four files."""
    try:
        fashion_mnist.fashion_mnist_dir()
    except fashion_mnist.FashionMNISTNotFoundError:
        return False
    return True


def skip_fashion() -> bool:
    """Whether a test that reads Fashion-MNIST is skipped here."""
    return not fashion_installed() and os.environ.get("CI", "").lower() != "true"


#: Skips a test where Fashion-MNIST is missing (never under ``CI=true``).
needs_fashion = pytest.mark.skipif(
    skip_fashion(),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)
