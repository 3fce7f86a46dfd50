"""course_tools.notebooks.kernels.run_in_child: the one "kernel level x seed in a fresh
interpreter" harness of the benchmarks (no torch needed: the children here print by hand)."""

from __future__ import annotations

import pytest

from course_tools.notebooks import kernels


def _printing(obj: str) -> list[str]:
    return ["-c", f"import json, os; print('noise'); print(json.dumps({obj}))"]


def test_run_in_child_returns_the_last_json_line_with_the_level_set() -> None:
    out = kernels.run_in_child(
        _printing("{'capability': 'AVX2', 'aten': os.environ.get('ATEN_CPU_CAPABILITY'), "
                  "'threads': os.environ.get('OMP_NUM_THREADS')}"),
        "avx2",
    )  # fmt: skip
    assert out == {"capability": "AVX2", "aten": "avx2", "threads": "1"}


def test_run_in_child_refuses_another_level() -> None:
    with pytest.raises(RuntimeError, match="asked for avx2, the child ran DEFAULT"):
        kernels.run_in_child(_printing("{'capability': 'DEFAULT'}"), "avx2")


def test_run_in_child_reports_a_failed_child() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)at default failed:\n.*ZeroDivisionError"):
        kernels.run_in_child(["-c", "1 / 0"], "default")
