"""The sandbox runner's watch of the kernel, each piece alone: CPU time, not the wall clock.

A student's grade must not depend on what else the grading machine is doing, so a cell's
``--timeout`` is the CPU time of the kernel and its processes (:class:`KernelClock`), and the
wall clock is only a far backstop for code that waits (:func:`wall_limit`). The watch that
interrupts a cell (:class:`CellWatch`) is driven here by a clock the test sets by hand.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from course_tools.coursework.kernel_watch import INTERRUPT_GRACE, CellWatch, KernelClock
from course_tools.coursework.protocol import (
    CPU,
    WALL,
    TimedOut,
)


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Wait until ``condition()`` holds (True) or ``seconds`` pass (False)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class HandClock:
    """A CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def seconds(self) -> float:
        return self.now


class Watched:
    """A :class:`CellWatch` on a :class:`HandClock`, recording its interrupts and kills."""

    def __init__(self) -> None:
        self.clock = HandClock()
        self.interrupts = self.kills = 0
        self.watch = CellWatch(self.clock, self._interrupt, self._kill)  # type: ignore[arg-type]

    def _interrupt(self) -> None:
        self.interrupts += 1

    def _kill(self) -> None:
        self.kills += 1


@pytest.fixture
def watched() -> Watched:
    made = Watched()
    yield made
    made.watch.close()


def test_a_cell_is_interrupted_at_its_cpu_limit_however_long_it_took(watched: Watched) -> None:
    watched.watch.start(7, cpu=2.0, wall=3600.0)
    watched.clock.now = 1.9  # under the limit: left alone
    time.sleep(0.3)
    assert (watched.interrupts, watched.watch.crossed) == (0, None)
    watched.clock.now = 2.1
    assert _until(lambda: watched.interrupts == 1)
    assert watched.watch.crossed == TimedOut(7, 2.0, CPU)
    time.sleep(0.2)
    assert (watched.interrupts, watched.kills) == (1, 0)  # interrupted once
    assert watched.watch.stop() == pytest.approx(2.1)


def test_a_kernel_that_computes_on_after_its_interrupt_is_killed(watched: Watched) -> None:
    watched.watch.start(2, cpu=1.0, wall=3600.0)
    watched.clock.now = 1.5
    assert _until(lambda: watched.interrupts == 1)
    watched.clock.now = 1.5 + INTERRUPT_GRACE - 0.5  # still within its grace
    time.sleep(0.3)
    assert watched.kills == 0
    watched.clock.now = 1.5 + INTERRUPT_GRACE + 0.5
    assert _until(lambda: watched.kills == 1)
    assert watched.watch.killed


def test_a_cell_that_waits_meets_the_wall_clock_backstop(watched: Watched) -> None:
    watched.watch.start(4, cpu=10.0, wall=0.3)  # uses no CPU at all
    assert _until(lambda: watched.interrupts == 1)
    assert watched.watch.crossed == TimedOut(4, 0.3, WALL)


def test_a_fork_bomb_is_interrupted_at_once_not_at_its_cpu_limit() -> None:
    """The fork guard's event stops the cell long before its CPU limit; it is told apart
    from a time-out, and the kill after the grace follows the same rule."""
    clock, forks, calls = HandClock(), threading.Event(), []
    watch = CellWatch(
        clock,  # type: ignore[arg-type]
        lambda: calls.append("interrupt"),
        lambda: calls.append("kill"),
        forks,
    )
    try:
        watch.start(3, cpu=60.0, wall=3600.0)
        time.sleep(0.2)
        assert calls == []
        forks.set()
        assert _until(lambda: calls == ["interrupt"])
        assert (watch.forked, watch.crossed) == (True, None)
        clock.now = INTERRUPT_GRACE + 0.5  # the kernel forks on: killed after the grace
        assert _until(lambda: calls == ["interrupt", "kill"])
        forks.clear()
        watch.start(4, cpu=60.0, wall=3600.0)  # the next cell starts afresh
        assert (watch.forked, watch.killed) == (False, False)
    finally:
        watch.close()


def test_a_stopped_watch_interrupts_nothing(watched: Watched) -> None:
    watched.watch.start(1, cpu=1.0, wall=0.2)
    watched.watch.stop()
    watched.clock.now = 50.0
    time.sleep(0.4)
    assert (watched.interrupts, watched.kills) == (0, 0)


def test_kernel_clock_counts_cpu_time_not_waiting() -> None:
    """A process that computes 0.5 s of CPU, then sleeps: the clock sees the one, not the
    other, however busy the machine."""
    code = (
        "import sys, time\n"
        "while time.process_time() < 0.5:\n    pass\n"
        "print('computed', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        clock = KernelClock(child.pid, {child.pid}, own_namespace=False)
        assert clock.readable
        assert child.stdout is not None
        assert child.stdout.readline() == "computed\n"
        computed = clock.seconds()
        assert 0.45 <= computed < 2.0
        time.sleep(0.6)
        assert clock.seconds() - computed < 0.2  # sleeping costs no CPU time
    finally:
        child.kill()
        child.communicate()
