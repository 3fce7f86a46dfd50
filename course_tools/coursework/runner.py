"""Execute one submission inside the sandbox and print the executed notebook (standalone).

This file, ``kernel_watch.py`` and ``protocol.py`` are the only code of the course's tooling
that runs next to student code. The sandbox binds the three read-only and runs ``python
runner.py``; it imports nothing from ``course_tools`` (which the sandbox does not contain),
only its two neighbours (the kernel's clock and cell watch, :mod:`.kernel_watch`; the
protocol's records, :mod:`.protocol`), ``nbclient`` and ``nbformat``.

Protocol (:mod:`course_tools.coursework.protocol`): one ``Request`` as JSON on stdin, one
``Reply`` as JSON on the original stdout.

The notebook is read from stdin, never written to disk, and the result leaves by a file
descriptor the kernel does not inherit: student code finds no copy of its test cells on
disk and cannot forge the result (short of killing this process, which it can only do to
its own submission). Each cell gets ``timeout`` seconds of CPU time; the notebook as a
whole ``notebook_timeout`` seconds, after which the remaining cells are not run. CPU time,
not the wall clock, so that a grade does not depend on what else the grading machine is
doing; each limit has a wall-clock backstop far from what honest code reaches, for code
that waits instead of computing (:class:`.kernel_watch.CellWatch`). The kernel's start-up
counts against neither.

Over the ~300 lines a module may have: one concept, the sandbox's side of a run (the
process's set-up, the guard put into the kernel, ``GuardedClient``'s per-cell steps, the
cell-by-cell loop and its one reply), kept in one script because the sandbox binds and runs
it as a file; what could stand alone (the kernel's CPU clock, the cell watch, the stray
processes) is in :mod:`.kernel_watch`.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import shutil
import signal
import sys
import threading
import time
from typing import Any

if __package__:  # imported as course_tools.coursework.runner (its tests): the same modules
    from . import kernel_watch as _kernel_watch
    from . import protocol as _protocol

    sys.modules.setdefault("protocol", _protocol)
    sys.modules.setdefault("kernel_watch", _kernel_watch)
from kernel_watch import (
    INTERRUPT_GRACE,
    CellWatch,
    KernelClock,
    guard_forks,
    kill_all,
    signal_kernel,
    strays,
)
from protocol import (
    CRASH,
    DEADLINE,
    STARTUP_SECONDS,
    STUCK,
    Reply,
    Request,
    Stopped,
    TimedOut,
    Timing,
    wall_limit,
)

#: When this process started (the start of the run's start-up time).
_STARTED = time.monotonic()


#: Run in the kernel before the first cell: remembers IPython's input machinery as it is
#: (transformers, AST transformers, event callbacks), and defines ``_grader_restore``,
#: which puts it back. It runs before every cell of the instructor's (set-up and test
#: cells), so that an answer that rewrites the cells after it (an input transformer, a
#: ``pre_run_cell`` callback) cannot rewrite the tests. Not airtight (student code runs in
#: the same process); such answers are also flagged for review.
KERNEL_GUARD = """
def _grader_install(ip):
    tm = ip.input_transformer_manager
    saved = (tm, list(tm.cleanup_transforms), list(tm.line_transforms),
             list(tm.token_transformers), list(ip.input_transformers_post),
             list(ip.ast_transformers), {k: list(v) for k, v in ip.events.callbacks.items()})
    methods = ("run_cell", "run_cell_async", "transform_cell", "transform_ast",
               "run_ast_nodes", "run_code", "should_run_async", "run_cell_magic")

    def restore():
        tm, cleanup, line, token, post, ast, events = saved
        ip.input_transformer_manager = tm
        tm.cleanup_transforms, tm.line_transforms = list(cleanup), list(line)
        tm.token_transformers = list(token)
        ip.input_transformers_post, ip.ast_transformers = list(post), list(ast)
        for name, callbacks in events.items():
            ip.events.callbacks[name] = list(callbacks)
        for name in methods:
            ip.__dict__.pop(name, None)
        return True

    ip._grader_restore = restore


_grader_install(get_ipython())
del _grader_install
"""
_INSTALL = f"exec({KERNEL_GUARD!r}, {{'get_ipython': get_ipython}})"
_RESTORE = "get_ipython()._grader_restore()"


def _set_limits(request: Request) -> None:
    """Resource limits for this process and every process it starts (the kernel)."""
    # Memory is RLIMIT_DATA (heap and private writable mappings), not RLIMIT_AS: a CUDA
    # build of torch reserves over 3 GB of address space on import alone, which an
    # address-space limit would refuse, while an allocation counts against either.
    limits = [
        (resource.RLIMIT_DATA, int(request.memory_mb) * 2**20),
        (resource.RLIMIT_NPROC, int(request.max_processes)),
        (resource.RLIMIT_FSIZE, int(request.max_file_mb) * 2**20),
    ]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for which, value in limits:
        if value > 0:
            resource.setrlimit(which, (value, value))


def _private_stdout() -> Any:
    """The result channel: stdout moved to a descriptor no child inherits.

    Descriptors 1 and 2 then point at /dev/null, so whatever the kernel writes at the
    file-descriptor level goes nowhere. Where the platform allows, this process is also
    made non-dumpable, so that a process of the same user cannot open its descriptors
    through /proc.
    """
    fd = os.dup(1)
    os.set_inheritable(fd, False)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass
    return os.fdopen(fd, "w", encoding="utf-8")


def _size(output: dict[str, Any]) -> int:
    return len(json.dumps(output))


def _skip_slow_imports() -> None:
    """Leave out what nbformat's import pulls in but a run never uses.

    ``jsonschema`` imports ``rfc3987_syntax`` (if installed) for its "iri" format, which
    builds a grammar on import: over 3 s of every sandbox's start-up on a busy machine,
    for a format no notebook schema uses. Without it, jsonschema skips that one check.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def __getattr__(name: str) -> Any:
    """``GuardedClient``, the module's one lazy name: see :func:`client_class`."""
    if name == "GuardedClient":
        return client_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def client_class() -> Any:
    """The class ``GuardedClient`` (a ``NotebookClient``), made once, on first use.

    Made here, not at the module's top level, because nbformat and nbclient are imported
    only once a run starts: after :func:`_skip_slow_imports` (which must precede them) and
    with stdout and stderr already moved away from the kernel (:func:`_private_stdout`), as
    the runner always did. The module's ``__getattr__`` still gives it as
    ``runner.GuardedClient``, so tests import it like any module-level class. It closes over
    nothing but those imports: all of a run's state is on the instance.
    """
    _skip_slow_imports()
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    class GuardedClient(NotebookClient):  # type: ignore[misc]
        """nbclient with the runner's guards, and the state of one run of ``request``.

        ``used`` and ``cut``: the output bytes of each cell, and the cells whose outputs
        were cut at ``max_output_bytes``; ``timed_out``: the cells interrupted at a limit;
        ``current``: the cell running; ``tripped``: set by the fork guard; ``startup_s``,
        ``cells_s`` and ``cpu_s``: the start-up's and the cells' times, and the cells' CPU
        time. :meth:`guard_kernel` once the kernel runs, then :meth:`run_guarded` per cell.
        """

        def __init__(self, request: Request) -> None:
            super().__init__(
                nbformat.from_dict(request.notebook),
                # No time-out of nbclient's own: CellWatch interrupts, and kills a kernel
                # that ignores the interrupt (nbclient then sees a dead kernel).
                timeout=None,
                startup_timeout=STARTUP_SECONDS,
                # Outputs that follow a cell's reply are waited for well past any load's
                # delay, so no output (an error among them) is lost on a busy machine.
                iopub_timeout=int(wall_limit(INTERRUPT_GRACE)),
                allow_errors=True,
                # One output per stream and cell, however the kernel's writes were split
                # into messages: its output thread flushes on a timer, so on a busy machine
                # one print can arrive as two messages (seen: a feedback page that differed
                # between two gradings of the same notebook by a split "mean of values:
                # 5.0" / "\n").
                coalesce_streams=True,
                kernel_name="python3",
                resources={"metadata": {"path": os.getcwd()}},
                # No history database to create in each fresh home folder.
                extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"],
                shell_timeout_interval=1,
                # Nothing of the kernel outlives the sandbox: no graceful shutdown to wait for.
                shutdown_kernel="immediate",
            )
            self.request = request
            self.budget = int(request.max_output_bytes) or None
            self.used: dict[int, int] = {}
            self.cut: list[int] = []
            self.timed_out: list[TimedOut] = []
            self.current = -1
            self.tripped = threading.Event()
            self.startup_s = self.cells_s = self.cpu_s = 0.0
            self.keep: set[int] = set()
            self.sweep = False  # the kernel's strays are killed after each cell
            self.watch: CellWatch | None = None

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            """nbclient's, within the cell's output budget: past it, the output is dropped
            and the cell's outputs end with one note that they were cut."""
            out = super().output(outs, msg, display_id, cell_index)
            budget = self.budget
            if budget is None or out is None or not outs or outs[-1] is not out:
                return out
            used = self.used.get(cell_index, 0) + _size(out)
            self.used[cell_index] = used
            if used > budget:
                outs.pop()
                if cell_index not in self.cut:
                    self.cut.append(cell_index)
                    note = f"[output cut: this cell printed more than {budget} bytes]\n"
                    outs.append(nbformat.v4.new_output("stream", name="stdout", text=note))
                return None
            return out

        def evaluate(self, expression: str) -> None:
            """Evaluate ``expression`` in the kernel as a user expression: it goes through
            none of IPython's input transformers (a silent, empty cell carries it)."""
            msg_id = self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"x": expression}
            )
            self.wait_for_reply(msg_id)

        def guard_kernel(self) -> None:
            """In the started kernel: install the guard, start the fork guard (in a pid
            namespace of the sandbox's own) and the cell watch."""
            request, keep = self.request, self.keep
            keep.add(os.getpid())
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            pid = int(process.pid) if process is not None else -1
            if process is not None:
                keep.add(pid)
            self.evaluate(_INSTALL)
            self.sweep = bool(request.own_pid_namespace) and len(keep) == 2
            if self.sweep:
                limit = max(4, int(request.max_processes) // 4 or 32)
                guard = threading.Thread(target=guard_forks, args=(keep, limit, self.tripped))
                guard.daemon = True
                guard.start()
            self.watch = CellWatch(
                KernelClock(pid, keep, bool(request.own_pid_namespace)),
                lambda: signal_kernel(pid, signal.SIGINT),
                lambda: signal_kernel(pid, signal.SIGKILL),
                self.tripped,
            )

        def run_guarded(self, index: int, cell: Any, cpu: float, wall: float) -> Stopped | None:
            """Run code cell ``index`` within ``cpu`` and ``wall`` seconds; a
            :class:`Stopped` where the run ends there (the kernel died or was killed)."""
            watch = self.watch
            assert watch is not None, "guard_kernel() first"
            self.current = index
            meta = cell.metadata.get("nbgrader", {})
            began = time.monotonic()
            try:
                if (meta.get("locked") or meta.get("grade")) and not meta.get("solution"):
                    self.evaluate(_RESTORE)
                watch.start(index, cpu, wall)
                try:
                    self.execute_cell(cell, index)
                finally:
                    self.cpu_s += watch.stop()
            except DeadKernelError:
                return self._dead(index, cell, watch)
            finally:
                self.cells_s += time.monotonic() - began
            if self.sweep:
                kill_all(strays(self.keep))  # what a cell starts ends with it
            if self.tripped.is_set() or watch.forked:
                self.tripped.clear()
                if watch.forked:  # stopped by its interrupt: that error is not the cell's
                    cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
                cell.outputs.append(_fork_bomb_output())
            if watch.crossed is not None:
                cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"] + [
                    _timeout_output(watch.crossed)
                ]
                self.timed_out.append(watch.crossed)
            return None

        def _dead(self, index: int, cell: Any, watch: CellWatch) -> Stopped:
            """Why the kernel died in cell ``index``: killed at a limit, or a crash."""
            crossed = watch.crossed
            if watch.killed and watch.forked:
                cell.outputs = [_fork_bomb_output()]
                message = "the cell started too many processes (a fork bomb?), and the kernel "
                return Stopped(STUCK, index, message + "did not stop when interrupted")
            if not (watch.killed and crossed is not None):
                return Stopped(CRASH, index, "the kernel died")
            cell.outputs = [_timeout_output(crossed)]
            self.timed_out.append(crossed)
            message = f"{crossed.words}, and the kernel did not stop when interrupted"
            if self.tripped.is_set():
                message = f"{crossed.words}: the cell started too many processes (a fork bomb?)"
            return Stopped(STUCK, index, message)

        def reply(self, stopped: Stopped | None) -> Reply:
            """The run's one :class:`Reply`, as it stands."""
            timing = Timing(startup_s=round(self.startup_s, 3), cells_s=round(self.cells_s, 3))
            return Reply(dict(self.nb), stopped, tuple(self.cut), tuple(self.timed_out), timing)

    return GuardedClient


def execute_request(request: Request, emit: Any) -> None:
    """Execute ``request.notebook`` cell by cell and ``emit`` the :class:`Reply` once.

    The limits are CPU time (:class:`CellWatch`): ``request.timeout`` seconds a cell and
    ``request.notebook_timeout`` for all the cells together, each with its wall-clock
    backstop (:func:`protocol.wall_limit`). They start once the kernel is ready: its
    start-up counts against no limit of the notebook's.
    """
    client = client_class()(request)
    emitted = threading.Lock()

    def finish(stopped: Stopped | None) -> None:
        if emitted.acquire(blocking=False):
            emit.write(client.reply(stopped).to_json())
            emit.flush()

    def give_up() -> None:
        """The last resort when the kernel no longer answers: report, then exit."""
        finish(Stopped(STUCK, client.current, "the kernel stopped answering"))
        os._exit(0)

    notebook_cpu, cell_cpu = float(request.notebook_timeout), float(request.timeout)
    notebook_wall = wall_limit(notebook_cpu)
    last = STARTUP_SECONDS + notebook_wall + wall_limit(INTERRUPT_GRACE) + 5
    watchdog = threading.Timer(last, give_up)
    watchdog.daemon = True
    stopped: Stopped | None = None
    watchdog.start()
    with client.setup_kernel():
        client.guard_kernel()
        ready = time.monotonic()
        client.startup_s = ready - _STARTED
        for index, cell in enumerate(client.nb.cells):
            if cell.cell_type != "code":
                continue
            cpu_left = notebook_cpu - client.cpu_s
            wall_left = notebook_wall - (time.monotonic() - ready)
            if cpu_left <= 0 or wall_left <= 0:
                spent = "CPU time" if cpu_left <= 0 else "time, waiting included"
                message = f"the notebook's {request.notebook_timeout:g} s of {spent} were used up"
                stopped = Stopped(DEADLINE, index, message)
                break
            cpu, wall = min(cell_cpu, cpu_left), min(wall_limit(cell_cpu), wall_left)
            stopped = client.run_guarded(index, cell, cpu, wall)
            if stopped is not None:
                break
        client.watch.close()
    finish(stopped)
    watchdog.cancel()


def _fork_bomb_output() -> Any:
    """The error a cell that started too many processes ends with."""
    import nbformat

    return nbformat.v4.new_output(
        "error",
        ename="ProcessLimitError",
        traceback=[],
        evalue="this cell started too many processes (a fork bomb?); they were stopped",
    )


def _timeout_output(timed: TimedOut) -> Any:
    import nbformat

    return nbformat.v4.new_output("error", ename="TimeoutError", evalue=timed.words, traceback=[])


def _seed(dirs: dict[str, str]) -> None:
    """Copy read-only seed folders (a Matplotlib font cache) to writable places."""
    for target, seed in dirs.items():
        if os.path.isdir(seed) and not os.path.exists(target):
            shutil.copytree(seed, target)


def main() -> int:
    request = Request.from_json(sys.stdin.read())
    sys.stdin.close()
    emit = _private_stdout()
    os.makedirs(os.environ.get("HOME", "/tmp/home"), exist_ok=True)
    os.makedirs(request.workdir, exist_ok=True)
    os.chdir(request.workdir)
    _seed(request.seed_dirs)
    _set_limits(request)
    execute_request(request, emit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
