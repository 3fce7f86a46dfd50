"""What the sandbox's runner watches of the kernel: its CPU clock, its cell's limits, and
the processes it starts.

- :class:`KernelClock`: the CPU time of the kernel and its processes (``/proc``), the clock
  of every time limit, so that a grade does not depend on what else the grading machine is
  doing;
- :class:`CellWatch`: interrupts a cell at its CPU limit (or its far wall-clock backstop),
  and kills a kernel that ignores the interrupt;
- :func:`strays`, :func:`kill_all`, :func:`guard_forks`: the processes of the sandbox's own
  pid namespace other than the runner and the kernel (a fork bomb is stopped as it grows).

Like :mod:`.runner`, it runs in the sandbox, bound read-only beside ``runner.py`` and
``protocol.py``, and imports nothing from ``course_tools``: only the protocol's records.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

try:  # imported as course_tools.coursework.kernel_watch (the grader's tests)
    from .protocol import CPU, WALL, WALL_FACTOR, TimedOut
except ImportError:  # in the sandbox: a script's neighbour, beside protocol.py
    from protocol import CPU, WALL, WALL_FACTOR, TimedOut  # type: ignore[no-redef]

__all__ = [
    "INTERRUPT_GRACE",
    "CellWatch",
    "KernelClock",
    "guard_forks",
    "kill_all",
    "signal_kernel",
    "strays",
]

#: Seconds a timed-out cell gets to react to the interrupt before the run is given up.
INTERRUPT_GRACE = 5.0


def strays(keep: set[int]) -> list[int]:
    """Processes of this sandbox's own process tree (its pid namespace) not in ``keep``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep and int(entry) != 1:
            found.append(int(entry))
    return found


def kill_all(pids: list[int]) -> None:
    """SIGKILL each of ``pids`` (those already gone are skipped)."""
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def guard_forks(keep: set[int], threshold: int, tripped: threading.Event) -> None:
    """Kill every stray process as soon as there are more than ``threshold`` (a fork bomb),
    and set ``tripped``; while it stays set (until its cell ends), kill every stray."""
    while True:
        time.sleep(0.02 if tripped.is_set() else 0.2)
        found = strays(keep)
        if tripped.is_set():
            kill_all(found)
        elif len(found) > threshold:
            tripped.set()
            kill_all(found)


class KernelClock:
    """The CPU time, in seconds, that the kernel and the processes it started have used.

    Read from ``/proc/<pid>/stat`` (user and system time of every thread, and of the
    children it has waited for): the kernel's own, and in a pid namespace of its own
    (:attr:`.protocol.Request.own_pid_namespace`) every other process in sight but this runner's,
    which are all the kernel's. Where ``/proc`` cannot be read (not Linux), the wall clock
    since this clock was made stands in.
    """

    def __init__(self, kernel_pid: int, keep: set[int], own_namespace: bool) -> None:
        self.kernel_pid, self.keep, self.own_namespace = kernel_pid, keep, own_namespace
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.made = time.monotonic()
        self.readable = _cpu_ticks(kernel_pid) is not None

    def seconds(self) -> float:
        if not self.readable:
            return time.monotonic() - self.made
        pids = [self.kernel_pid]
        if self.own_namespace:
            pids += strays(self.keep)
        return sum(_cpu_ticks(pid) or 0 for pid in pids) / self.ticks


def _cpu_ticks(pid: int) -> int | None:
    """utime + stime + cutime + cstime of ``pid`` in clock ticks (None: not readable)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15])
    except (OSError, IndexError, ValueError):
        return None


class CellWatch:
    """Interrupts the running cell at its limits, from a thread of its own.

    A cell has ``cpu`` seconds of the kernel's CPU time (:class:`KernelClock`) and, as a
    backstop for code that waits, ``wall`` seconds of wall-clock time. At the first limit
    it crosses the kernel is interrupted (SIGINT, as Jupyter does); a kernel that goes on
    for :data:`INTERRUPT_GRACE` more seconds of CPU time (or ``WALL_FACTOR`` times that of
    wall-clock time) is killed, and the run stops there.

    A fork bomb (``forks``, set by :func:`guard_forks`) is interrupted the same way, at
    once, not at its CPU limit: the guard kills the processes it makes, which take their
    CPU time off the clock with them, so the kernel would fork on for many times its limit
    of wall-clock time, starving every other sandbox on the machine. (A kernel in a fork
    loop ignored the interrupt in every run measured, so it is killed after the grace; the
    graded cells before it keep their points.) ``forked`` tells it from a time-out.
    """

    def __init__(
        self,
        clock: KernelClock,
        interrupt: Any,
        kill: Any,
        forks: threading.Event | None = None,
    ) -> None:
        self.clock, self.interrupt, self.kill = clock, interrupt, kill
        self.forks = forks
        self.lock = threading.Lock()
        self.limits: tuple[float, float] | None = None
        self.crossed: TimedOut | None = None
        self.killed = self.closed = self.forked = False
        self._cpu0 = self._wall0 = self._cpu_at = self._wall_at = 0.0
        threading.Thread(target=self._watch, daemon=True).start()

    def start(self, index: int, cpu: float, wall: float) -> float:
        """Watch cell ``index`` with these limits; returns the CPU clock at its start."""
        with self.lock:
            self.index, self.limits = index, (cpu, wall)
            self.crossed, self.killed, self.forked = None, False, False
            self._cpu0, self._wall0 = self.clock.seconds(), time.monotonic()
            return self._cpu0

    def stop(self) -> float:
        """Stop watching; returns the CPU seconds the cell used."""
        with self.lock:
            self.limits = None
            return self.clock.seconds() - self._cpu0

    def close(self) -> None:
        """End the watching thread."""
        self.closed = True

    def _watch(self) -> None:
        while not self.closed:
            time.sleep(0.05)
            with self.lock:
                if self.limits is None or self.killed:
                    continue
                cpu, wall = self.clock.seconds(), time.monotonic()
                if self.crossed is None and not self.forked:
                    cpu_limit, wall_limit_s = self.limits
                    if self.forks is not None and self.forks.is_set():
                        self.forked = True
                    elif cpu - self._cpu0 > cpu_limit:
                        self.crossed = TimedOut(self.index, round(cpu_limit, 1), CPU)
                    elif wall - self._wall0 > wall_limit_s:
                        self.crossed = TimedOut(self.index, round(wall_limit_s, 1), WALL)
                    else:
                        continue
                    self._cpu_at, self._wall_at = cpu, wall
                    self.interrupt()
                elif (
                    cpu - self._cpu_at > INTERRUPT_GRACE
                    or wall - self._wall_at > WALL_FACTOR * INTERRUPT_GRACE
                ):
                    self.killed = True
                    self.kill()


def signal_kernel(pid: int, signum: int) -> None:
    """Send ``signum`` to the kernel's process group (to the kernel alone if it shares ours,
    as Jupyter's own interrupt does)."""
    try:
        group = os.getpgid(pid)
        if group != os.getpgrp():
            os.killpg(group, signum)
        else:
            os.kill(pid, signum)
    except OSError:
        pass
