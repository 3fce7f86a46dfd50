"""tools/check_kernels.py: which notebooks it runs (the kernels it can select are tested in
tests/course_tools/notebooks/test_kernels.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_kernels", ROOT / "tools" / "check_kernels.py")
check_kernels = importlib.util.module_from_spec(spec)
sys.modules["check_kernels"] = check_kernels
spec.loader.exec_module(check_kernels)


def test_training_notebooks_are_the_ones_importing_the_training_code() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in check_kernels.training_notebooks()}
    assert "book/transformers/vision_transformer.ipynb" in found
    assert "book/representation/triplet_loss.ipynb" in found
    assert "book/foundations/linear_algebra.ipynb" not in found
