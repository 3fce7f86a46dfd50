"""What the course's tools know of the machine they run on.

Its CPU, which the benchmarks record (:func:`describe`; ``benchmarks/*.py`` import it), and
what the grader sizes its sandboxes by: the cores this process may use (:func:`cores`, the
default ``--jobs``) and the physical memory (:func:`memory_mb`).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cores", "cpu_model", "describe", "memory_mb"]


def cores() -> int:
    """The CPU cores this process may use (a Slurm or container allocation included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def memory_mb() -> int | None:
    """The machine's physical memory in MiB (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict[str, object]:
    """The machine a benchmark ran on: CPU, cores, torch's threads and versions, load."""
    import torch  # only here: bench_kernels' parent process never imports torch

    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }
