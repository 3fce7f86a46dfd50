"""PyTorch's CPU kernel levels, the environment that selects each, and which this CPU has.

PyTorch chooses its CPU kernels by instruction set (no SIMD, AVX2, AVX-512), and
floating-point sums taken in another order send a training run down another path. Two
libraries choose, independently: ATen (``ATEN_CPU_CAPABILITY``) for most operations and
oneDNN (``ONEDNN_MAX_CPU_ISA``) for convolutions, so a level sets both, as a learner's CPU
of that level would. The variables must be set before torch is imported, so every check
here runs in a fresh interpreter; this module never imports torch.

Used by ``tools/check_kernels.py`` (the notebooks under each level) and the benchmark
that measures the claims' spread over levels (``benchmarks/bench_kernels.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

__all__ = [
    "KERNELS",
    "KERNEL_VARIABLES",
    "LEVELS",
    "REQUIRED_FLAGS",
    "available_levels",
    "capability",
    "cpu_flags",
    "level_env",
    "one_thread_env",
    "run_in_child",
    "run_python",
]

#: Kernel levels, lowest first, with the name ``torch.backends.cpu`` reports for each.
KERNELS: dict[str, str] = {"default": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}
#: The environment of each level: ATen's kernels and oneDNN's (convolutions). The highest
#: level leaves oneDNN to the machine's best, as on a learner's CPU of that kind.
LEVELS: dict[str, dict[str, str]] = {
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
}
#: The variables a level sets (and :func:`level_env` removes first).
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
#: The CPU features (Linux's names in ``/proc/cpuinfo``) each level's kernels execute, as
#: PyTorch checks them before it picks a level by itself. Asked for by name, PyTorch reports
#: the level even on a CPU without them, and its kernels then die of an illegal instruction.
REQUIRED_FLAGS: dict[str, tuple[str, ...]] = {
    "default": (),
    "avx2": ("avx2", "fma"),
    "avx512": ("avx512f", "avx512bw", "avx512vl", "avx512dq"),
}


def level_env(level: str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without any kernel variable, then
    with those of ``level`` (None: none, PyTorch picks by itself)."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k not in KERNEL_VARIABLES}
    if level is not None:
        env.update(LEVELS[level])
    return env


def capability(level: str | None, base: Mapping[str, str] | None = None) -> str:
    """The capability PyTorch reports (``DEFAULT``, ``AVX2``, ...) in a fresh interpreter
    with ``level`` requested (None: what it picks by itself) on top of ``base``."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        env=level_env(level, base),
        check=True,
    )
    return done.stdout.strip()


def cpu_flags() -> frozenset[str] | None:
    """This CPU's feature flags, from ``/proc/cpuinfo`` (None where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def available_levels(
    base: Mapping[str, str] | None = None, flags: frozenset[str] | None = None
) -> tuple[list[str], str]:
    """The levels this CPU can run (lowest first), and the capability PyTorch picks by itself.

    A level is available when the CPU has its features (:data:`REQUIRED_FLAGS`; ``flags``
    default to :func:`cpu_flags`, and where those are unknown, no level above PyTorch's own
    pick) and PyTorch really switches to it when asked.
    """
    best = capability(None, base)
    flags = cpu_flags() if flags is None else flags
    order = list(KERNELS)
    ceiling = next((n for n, reported in KERNELS.items() if reported == best), order[-1])

    def runs(name: str) -> bool:
        if flags is None:
            return order.index(name) <= order.index(ceiling)
        return all(flag in flags for flag in REQUIRED_FLAGS[name])

    levels = [
        name
        for name, reported in KERNELS.items()
        if runs(name) and capability(name, base) == reported
    ]
    return levels, best


def one_thread_env() -> dict[str, str]:
    """This process's environment with one thread, no progress bars and no kernel choice of
    its own (the base of every benchmark child)."""
    return {**level_env(None), "OMP_NUM_THREADS": "1", "COMPANION_PROGRESS": "0"}


def run_python(code: str) -> str:
    """Run ``code`` in a fresh one-thread interpreter (:func:`one_thread_env`) and return
    what it printed, stripped: how a benchmark's parent, which never imports torch, asks
    the package something."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=one_thread_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def run_in_child(command: Sequence[str], level: str) -> dict[str, object]:
    """Run ``command`` (a Python interpreter's arguments, e.g. ``[script, "--child", ...]``)
    in a fresh interpreter at kernel ``level``, one thread (:func:`one_thread_env`), and
    return the JSON object of the last line it prints.

    The child must print a JSON object with ``"capability"``, the kernel set torch reports.

    Raises:
        RuntimeError: if the child fails (with the end of its stderr), or ran another
            kernel level than ``level``.
    """
    done = subprocess.run(
        [sys.executable, *command],
        env=level_env(level, one_thread_env()),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} at {level} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if str(result["capability"]).lower() != level:
        raise RuntimeError(f"asked for {level}, the child ran {result['capability']}")
    return result
