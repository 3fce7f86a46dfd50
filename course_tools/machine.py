"""What the benchmarks record about the machine they ran on (``benchmarks/*.py`` import it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "describe"]


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
