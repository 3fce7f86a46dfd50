"""tools/check_kernels.py: which kernels it can select (course_tools.notebooks.kernels),
and which notebooks it runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_kernels", ROOT / "tools" / "check_kernels.py")
check_kernels = importlib.util.module_from_spec(spec)
sys.modules["check_kernels"] = check_kernels
spec.loader.exec_module(check_kernels)

from course_tools.notebooks import kernels  # noqa: E402


def test_the_kernel_without_simd_is_always_available_and_selected() -> None:
    levels, best = kernels.available_levels()
    assert "default" in levels
    assert best.isupper(), best
    assert kernels.capability("default") == "DEFAULT"


def test_a_level_the_cpu_lacks_is_not_available() -> None:
    """PyTorch reports AVX512 when asked for it even on a CPU without AVX-512 (whose
    kernels then die of an illegal instruction): the CPU's flags decide."""
    avx2_only = frozenset({"sse4_2", "avx", "avx2", "fma"})
    levels, _ = kernels.available_levels(flags=avx2_only)
    assert "avx512" not in levels
    assert "default" in levels
    assert "avx512" not in kernels.available_levels(flags=frozenset())[0]
    flags = kernels.cpu_flags()
    if flags is not None and not {"avx512f", "avx512bw"} <= flags:
        assert "avx512" not in kernels.available_levels()[0]


def test_training_notebooks_are_the_ones_importing_the_training_code() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in check_kernels.training_notebooks()}
    assert "book/transformers/vision_transformer.ipynb" in found
    assert "book/representation/triplet_loss.ipynb" in found
    assert "book/foundations/linear_algebra.ipynb" not in found
