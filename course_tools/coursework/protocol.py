"""The sandbox <-> runner protocol: typed records, one JSON document each way.

The grading process (:mod:`.sandbox`) writes one :class:`Request` to the runner's stdin; the
runner (:mod:`.runner`, inside the sandbox) answers one :class:`Reply` on its private result
channel. The parent turns that reply, or the lack of one, into a :class:`RunResult`.

This module is bound read-only into the sandbox next to ``runner.py`` and
``kernel_watch.py``, which import it as the top-level module ``protocol``: it must import
nothing but the standard library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "CPU",
    "CRASH",
    "DEADLINE",
    "STARTUP_SECONDS",
    "STUCK",
    "WALL",
    "WALL_FACTOR",
    "WALL_SLACK",
    "Reply",
    "Request",
    "RunResult",
    "Stopped",
    "TimedOut",
    "Timing",
    "timeout_words",
    "wall_limit",
]

#: The reasons a run stops before the last cell: the kernel died, the notebook's time was
#: used up, or the kernel stopped answering (a cell that ignores its interrupt).
CRASH, DEADLINE, STUCK = "crash", "deadline", "stuck"

#: The clocks a time limit is read on. ``CPU``: the CPU time of the kernel and the processes
#: it starts, the same for the same code whatever else the machine is doing, so the limit a
#: computing cell meets (``--timeout``) gives one grade on an idle and on a loaded machine.
#: ``WALL``: the wall clock, a backstop for code that waits instead of computing (a
#: ``sleep``, a lock), set far from anything honest code reaches (:func:`wall_limit`).
CPU, WALL = "cpu", "wall"
#: The wall-clock backstop of a CPU-time limit of ``s`` seconds is
#: ``max(WALL_FACTOR * s, s + WALL_SLACK)``: an honest cell on a machine running
#: ``WALL_FACTOR`` busy processes per core still finishes inside it.
WALL_FACTOR, WALL_SLACK = 5, 30
#: Wall-clock seconds the runner may take to start the kernel: outside every limit of the
#: notebook (a loaded machine starts kernels slowly; no student code runs then).
STARTUP_SECONDS = 120


def wall_limit(cpu_seconds: float) -> float:
    """The wall-clock backstop, in seconds, of a limit of ``cpu_seconds`` of CPU time."""
    return max(WALL_FACTOR * cpu_seconds, cpu_seconds + WALL_SLACK)


def timeout_words(seconds: float, clock: str) -> str:
    """How a time-out is told: ``"timed out after 4 s of CPU time"``, or for the backstop
    ``"timed out after 34 s of waiting (wall clock)"``."""
    what = "of CPU time" if clock == CPU else "of waiting (wall clock)"
    return f"timed out after {seconds:g} s {what}"


@dataclass(frozen=True)
class Request:
    """What the runner is asked to do: execute ``notebook`` under these limits.

    Limits of 0 are not set. ``seed_dirs`` maps a writable target folder to a read-only
    seed copied there first (a Matplotlib font cache); ``workdir`` is the kernel's working
    folder; ``own_pid_namespace`` says that every other process in sight is the
    submission's (bubblewrap's ``--unshare-pid``), so strays may be killed.
    """

    notebook: dict[str, Any]
    timeout: int
    notebook_timeout: int
    max_output_bytes: int = 0
    memory_mb: int = 0
    max_processes: int = 0
    max_file_mb: int = 0
    seed_dirs: dict[str, str] = field(default_factory=dict)
    workdir: str = "/tmp/work"
    own_pid_namespace: bool = False

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass(frozen=True)
class Stopped:
    """Why the run ended before the last cell: ``reason`` (:data:`CRASH`, :data:`DEADLINE`
    or :data:`STUCK`) at cell ``cell`` (its index in the notebook), in words ``message``."""

    reason: str
    cell: int
    message: str


@dataclass(frozen=True)
class TimedOut:
    """Cell ``cell`` ran past its ``seconds`` on ``clock`` (:data:`CPU` or :data:`WALL`) and
    was interrupted (the run went on)."""

    cell: int
    seconds: float
    clock: str = CPU

    @property
    def words(self) -> str:
        """``"timed out after 4 s of CPU time"``: see :func:`timeout_words`."""
        return timeout_words(self.seconds, self.clock)


@dataclass(frozen=True)
class Timing:
    """Where one run's time went, in seconds, measured inside the sandbox.

    ``startup_s``: from the runner's start to a kernel ready for the first cell (imports,
    kernel start-up, the kernel guard); ``cells_s``: executing the notebook's cells.
    """

    startup_s: float = 0.0
    cells_s: float = 0.0


@dataclass(frozen=True)
class Reply:
    """What the runner answers: the executed notebook and what happened on the way.

    ``cut``: indices of cells whose output was cut (too long); ``timed_out``: the cells
    interrupted at their time-out; ``stopped``: None if every cell ran.
    """

    notebook: dict[str, Any]
    stopped: Stopped | None = None
    cut: tuple[int, ...] = ()
    timed_out: tuple[TimedOut, ...] = ()
    timing: Timing = field(default_factory=Timing)

    def to_json(self) -> str:
        return json.dumps(
            {
                "notebook": self.notebook,
                "stopped": None if self.stopped is None else vars(self.stopped),
                "cut": list(self.cut),
                "timed_out": [vars(t) for t in self.timed_out],
                "timing": vars(self.timing),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Reply:
        """Parse a reply; raises ``ValueError``, ``KeyError`` or ``TypeError`` if malformed."""
        data = json.loads(text)
        if not isinstance(data.get("notebook"), dict):
            raise TypeError("the reply has no notebook")
        stopped = data.get("stopped")
        return cls(
            notebook=data["notebook"],
            stopped=None if stopped is None else Stopped(**stopped),
            cut=tuple(int(i) for i in data.get("cut", ())),
            timed_out=tuple(TimedOut(**t) for t in data.get("timed_out", ())),
            timing=Timing(**data.get("timing", {})),
        )


@dataclass(frozen=True)
class RunResult:
    """One sandboxed run as the grading process sees it: the reply, or why there is none.

    ``failure`` is "" when a reply came back; ``wall_s`` is the run's wall-clock time seen
    from outside (sandbox and process start-up included).
    """

    reply: Reply | None
    failure: str = ""
    wall_s: float = 0.0

    @property
    def notebook(self) -> dict[str, Any] | None:
        return None if self.reply is None else self.reply.notebook

    @property
    def stopped(self) -> Stopped | None:
        return None if self.reply is None else self.reply.stopped

    @property
    def cut(self) -> tuple[int, ...]:
        return () if self.reply is None else self.reply.cut

    @property
    def timed_out(self) -> tuple[TimedOut, ...]:
        return () if self.reply is None else self.reply.timed_out

    @property
    def overhead_s(self) -> float:
        """Wall-clock seconds not spent in the notebook's cells (sandbox, kernel, transfer)."""
        cells = 0.0 if self.reply is None else self.reply.timing.cells_s
        return max(0.0, self.wall_s - cells)
