"""What one sandboxed submission may use (what comes back is in :mod:`.protocol`)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CourseworkError

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    ``timeout`` seconds of CPU time per cell; ``notebook_timeout`` seconds of CPU time for
    the whole notebook (each with a far wall-clock backstop: :func:`.protocol.wall_limit`);
    ``memory_mb`` of data memory per process (heap and private mappings, RLIMIT_DATA);
    ``max_processes`` (processes and threads of the sandbox's user); ``max_output_bytes`` of
    output kept per cell; ``max_file_mb`` per file written; ``tmp_mb`` for the sandbox's
    private ``/tmp``.
    """

    timeout: int = 60
    notebook_timeout: int = 300
    memory_mb: int = 2048
    max_processes: int = 128
    max_output_bytes: int = 100_000
    max_file_mb: int = 64
    tmp_mb: int = 256

    def __post_init__(self) -> None:
        for name in ("timeout", "notebook_timeout", "memory_mb", "max_processes",
                     "max_output_bytes", "max_file_mb", "tmp_mb"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                what = "number of seconds" if "timeout" in name else "whole number"
                raise CourseworkError(f"{name} must be a positive {what}, got {value!r}")
