"""course_tools.notebooks.kernels: kernel levels, their environment variables, and the "kernel level
x seed in a fresh interpreter" harness of the benchmarks (no torch needed: the children here print
by hand)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from course_tools.notebooks import kernels

#: What PyTorch answered, by the question: the level asked for and the child's environment.
_ANSWERS: dict[tuple[str | None, tuple[tuple[str, str], ...]], str] = {}


@pytest.fixture(autouse=True, scope="module")
def _each_question_asked_once() -> Iterator[None]:
    """The tests below ask :func:`kernels.capability` (through ``available_levels``) the
    same few questions over and over, each a fresh interpreter that imports torch (seconds
    each, 14 of them): each question is put to a real child once in this module, and its
    answer reused. A question is the level and the child's environment but for
    ``PYTEST_CURRENT_TEST``, which pytest sets anew for every test and torch never reads."""
    real = kernels.capability

    def asked_once(level: str | None, base: Mapping[str, str] | None = None) -> str:
        env = kernels.level_env(level, base)
        env.pop("PYTEST_CURRENT_TEST", None)
        key = (level, tuple(sorted(env.items())))
        if key not in _ANSWERS:
            _ANSWERS[key] = real(level, env)
        return _ANSWERS[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "capability", asked_once)
        yield


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


def test_a_level_sets_both_kernel_variables() -> None:
    env = kernels.level_env("avx2", {"ATEN_CPU_CAPABILITY": "avx512", "HOME": "/h"})
    assert env == {"HOME": "/h", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert kernels.level_env(None, {"ONEDNN_MAX_CPU_ISA": "SSE41"}) == {}
    for level in ("default", "avx2"):
        assert set(kernels.LEVELS[level]) == set(kernels.KERNEL_VARIABLES)


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
