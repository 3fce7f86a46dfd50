"""Run one submission's notebook in a sandbox of its own (bubblewrap), with limits.

Every (student, chapter) is executed by :mod:`runner` in a fresh child process. With
bubblewrap (``bwrap``, the sandbox Flatpak builds on) that child sees:

- a private root folder holding, read-only, only the Python installation, the virtual
  environment, the course package ``companion`` and the runner itself (``runner.py``, its
  watch of the kernel, ``kernel_watch.py``, and the records of its protocol,
  ``protocol.py``);
- a private ``/tmp`` (its working folder and home folder), size-limited, thrown away after;
- no network (``--unshare-net``), its own process tree (``--unshare-pid``: no other
  process is visible, and every process it started dies with it), a scrubbed environment;
- a user id of its own (no privileges, no capabilities), so that the process limit counts
  only its own processes;
- limits on memory (data memory, RLIMIT_DATA), processes, file size, CPU time per cell and
  per notebook (each with a far wall-clock backstop, :mod:`.runner`), and output bytes kept.

No file of the instructor's (sources, other submissions, gradebook, repository, home
folder) is inside, and nothing the child writes outlives it: the executed notebook comes
back through a pipe, and only the parent parses it and writes grades.

Without bubblewrap (:data:`NO_SANDBOX`), the same child runs as an ordinary process with the
scrubbed environment and the limits it can set alone; :func:`isolation_warning` says what
is then not isolated.

Over the ~300 lines a module may have: one concept, the child a submission runs in (what it
sees, its environment, its command line, and the one exchange with it), kept together so
that what is isolated can be read in one place.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..notebooks.env import KERNEL_ENV
from .errors import CourseworkError
from .limits import Limits
from .protocol import STARTUP_SECONDS, Reply, Request, RunResult, wall_limit

__all__ = [
    "BWRAP",
    "NO_SANDBOX",
    "SANDBOX_MODES",
    "Sandbox",
    "find_bwrap",
    "isolation_warning",
]

#: bubblewrap's name on ``PATH``.
BWRAP = "bwrap"
#: The sandbox modes: ``auto`` (bubblewrap if installed), ``bwrap`` (required), ``none``.
SANDBOX_MODES: tuple[str, ...] = ("auto", "bwrap", "none")
NO_SANDBOX = "none"
RUNNER = Path(__file__).with_name("runner.py")
PROTOCOL = Path(__file__).with_name("protocol.py")
KERNEL_WATCH = Path(__file__).with_name("kernel_watch.py")
#: Where things sit inside the sandbox.
_INSIDE_RUNNER = "/sandbox/runner.py"
_INSIDE_PROTOCOL = "/sandbox/protocol.py"
_INSIDE_KERNEL_WATCH = "/sandbox/kernel_watch.py"
_INSIDE_LIB = "/sandbox/lib"
_INSIDE_SEED = "/sandbox/seed"
_WORK = "/tmp/work"
_HOME = "/tmp/home"
#: Seconds the parent waits beyond the runner's own last resort (kernel start-up, the
#: notebook's wall-clock backstop, an interrupt's grace) before it kills the child.
_GRACE = 60
#: First user id of the sandboxes (each concurrent slot gets one id of its own).
_UID_BASE = 200_000


def find_bwrap() -> str | None:
    """The path of bubblewrap if it is installed and can make a sandbox here, else None."""
    path = shutil.which(BWRAP)
    if path is None:
        return None
    # The options the sandbox uses (an old bubblewrap lacks --size): they must all work.
    probe = [path, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/",
             "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp", "--", "true"]  # fmt: skip
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def isolation_warning() -> str:
    """The loud warning printed when grading runs without a sandbox."""
    return (
        "WARNING: grading WITHOUT a sandbox (bubblewrap 'bwrap' not found or not usable). "
        "Student code runs as you, with only a scrubbed environment, a private working "
        "folder and limits on memory, file size and time. It is NOT isolated: it can read "
        "your files (the exercise sources with solutions and hidden tests, other students' "
        "submissions, your home folder), write anywhere you can, use the network, and see "
        "your other processes. Install bubblewrap (Debian/Ubuntu: apt-get install "
        "bubblewrap) and grade again, or grade only code you trust."
    )


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]``: the folders above ``path``."""
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class Sandbox:
    """Runs submissions' notebooks, each in its own child process (see the module doc).

    Args:
        mode: one of :data:`SANDBOX_MODES`.
        limits: what each submission may use.
        seed_dir: a folder of read-only files copied into each sandbox's ``/tmp``
            (``mpl/``: a Matplotlib font cache, built once here so kernels start fast);
            :meth:`prepare` builds one.

    Raises:
        CourseworkError: ``mode`` is unknown, or is ``"bwrap"`` and bubblewrap is missing.
    """

    def __init__(self, mode: str, limits: Limits, seed_dir: Path | None = None) -> None:
        if mode not in SANDBOX_MODES:
            raise CourseworkError(
                f"sandbox must be one of {', '.join(SANDBOX_MODES)}, got {mode!r}"
            )
        self.limits = limits
        self.seed_dir = seed_dir
        self.bwrap = find_bwrap() if mode != NO_SANDBOX else None
        if mode == "bwrap" and self.bwrap is None:
            raise CourseworkError(
                "sandbox 'bwrap' was asked for, but bubblewrap is not installed or cannot "
                "create a sandbox here: expected a working 'bwrap' on PATH "
                "(Debian/Ubuntu: apt-get install bubblewrap)"
            )
        self.setpriv = shutil.which("setpriv") if os.geteuid() == 0 else None

    @property
    def isolated(self) -> bool:
        return self.bwrap is not None

    def prepare(self, seed_dir: Path) -> None:
        """Build Matplotlib's font cache once in ``seed_dir/mpl``, for every sandbox to copy
        (kernels start faster), and make ``seed_dir`` this sandbox's :attr:`seed_dir`."""
        env = {**os.environ, "MPLCONFIGDIR": str(seed_dir / "mpl"), "MPLBACKEND": "Agg"}
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env=env, capture_output=True, check=False, timeout=300,
        )  # fmt: skip
        self.seed_dir = seed_dir

    # --- the child's environment and command --------------------------------------------

    def _environment(self, inside: bool, tmp: str) -> dict[str, str]:
        """The scrubbed environment: nothing of the caller's but what Python needs."""
        home, work = (_HOME, _WORK) if inside else (f"{tmp}/home", f"{tmp}/work")
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "TMPDIR": "/tmp" if inside else tmp,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **KERNEL_ENV,  # the test suite's kernel settings (no progress bars, one thread)
            "MKL_NUM_THREADS": "1",
            "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
            "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
            "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": f"{home}/.ipython",
            "MPLCONFIGDIR": f"{home}/.mpl",
            "PWD": work,
        }
        package = _course_package()
        if inside:
            env["PYTHONPATH"] = _INSIDE_LIB
        elif package is not None:
            env["PYTHONPATH"] = str(package.parent)
        return env

    def _bwrap_command(self, slot: int) -> list[str]:
        """bubblewrap's command line for one submission (see the module doc)."""
        assert self.bwrap is not None
        command = [
            self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(self.limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
        ]  # fmt: skip
        made: set[str] = {"/", "/tmp", "/proc", "/dev"}

        def bind(source: str | Path, target: str | Path) -> None:
            for folder in [*_ancestors(str(target))]:
                if folder not in made:
                    command.extend(["--perms", "0755", "--dir", folder])
                    made.add(folder)
            command.extend(["--ro-bind", str(source), str(target)])
            made.add(str(target))

        for name in ("usr", "bin", "lib", "lib64", "sbin"):
            path = Path("/") / name
            if path.is_symlink():
                command.extend(["--symlink", os.readlink(path), str(path)])
            elif path.is_dir():
                bind(path, path)
        for path in _python_folders():
            bind(path, path)
        for hidden in _grading_packages():
            # The grader's own packages are not the students' business (nbgrader's tests
            # even ship a gradebook.db): an empty folder over each.
            command.extend(["--tmpfs", str(hidden)])
        package = _course_package()
        if package is not None:
            bind(package, f"{_INSIDE_LIB}/{package.name}")
        bind(RUNNER, _INSIDE_RUNNER)
        bind(PROTOCOL, _INSIDE_PROTOCOL)
        bind(KERNEL_WATCH, _INSIDE_KERNEL_WATCH)
        if self.seed_dir is not None and self.seed_dir.is_dir():
            bind(self.seed_dir, _INSIDE_SEED)
        command.extend(["--clearenv", "--chdir", "/tmp"])
        for key, value in self._environment(True, "/tmp").items():
            command.extend(["--setenv", key, value])
        inner = [sys.executable, _INSIDE_RUNNER]
        if self.setpriv is not None:
            # Root outside: become a user of its own (its own process count, no privilege).
            uid = str(_UID_BASE + (os.getpid() % 50_000) * 16 + slot % 16)
            drop = ["--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
            command.extend(["--cap-add", "CAP_SETUID,CAP_SETGID", "--", self.setpriv,
                            "--reuid", uid, "--regid", uid, *drop])  # fmt: skip
        else:
            command.append("--")
        return [*command, *inner]

    # --- running ------------------------------------------------------------------------

    def run_notebook(self, notebook: dict[str, Any], slot: int = 0) -> RunResult:
        """Execute ``notebook`` in a fresh sandbox; never raises for what the code did."""
        limits = self.limits
        with tempfile.TemporaryDirectory(prefix="coursework-run-") as tmp:
            inside = self.isolated
            env = self._environment(inside, tmp)
            for folder in ("home", "work"):
                Path(tmp, folder).mkdir()
            seeds = {}
            if self.seed_dir is not None and (self.seed_dir / "mpl").is_dir():
                seed = f"{_INSIDE_SEED}/mpl" if inside else str(self.seed_dir / "mpl")
                seeds[env["MPLCONFIGDIR"]] = seed
            request = Request(
                notebook=notebook,
                timeout=limits.timeout,
                notebook_timeout=limits.notebook_timeout,
                max_output_bytes=limits.max_output_bytes,
                memory_mb=limits.memory_mb,
                # Without a user id of its own the count would include all of the user's.
                max_processes=limits.max_processes if inside and self.setpriv else 0,
                max_file_mb=limits.max_file_mb,
                seed_dirs=seeds,
                workdir=_WORK if inside else env["PWD"],
                own_pid_namespace=inside,
            )
            if inside:
                command = self._bwrap_command(slot)
                cwd = None
            else:
                command = [sys.executable, str(RUNNER)]
                cwd = env["PWD"]
            wait = STARTUP_SECONDS + wall_limit(limits.notebook_timeout) + _GRACE
            return _communicate(command, env, cwd, request, int(wait))


def _communicate(
    command: list[str], env: dict[str, str], cwd: str | None, request: Request, wait: int
) -> RunResult:
    """Start the child, send the request, read the reply (killing it after ``wait`` s)."""
    start = time.perf_counter()
    try:
        child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
    except OSError as error:
        return RunResult(None, f"the grading process could not start: {error}")
    try:
        out, err = child.communicate(request.to_json().encode("utf-8"), timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return RunResult(None, f"the grading process was stopped after {wait} s")
    wall = time.perf_counter() - start
    try:
        return RunResult(Reply.from_json(out.decode("utf-8")), "", wall)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [
            f"exit status {child.returncode}"
        ]
        if child.returncode and child.returncode < 0:
            detail = [f"killed by signal {signal.Signals(-child.returncode).name}"]
        return RunResult(None, f"the grading process failed ({detail[0][:300]})", wall)


def _python_folders() -> list[Path]:
    """The folders Python needs: the installation, and the virtual environment if any."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    executable = Path(sys.executable)
    folders.add(executable.resolve().parent.parent)
    keep = sorted(
        p for p in folders if not any(str(p).startswith(s) for s in ("/usr", "/bin", "/lib"))
    )
    # A folder inside another one is bound with it.
    return [p for p in keep if not any(q != p and q in p.parents for q in keep)]


def _grading_packages() -> list[Path]:
    """Folders of the grading tools inside the bound Python folders (hidden in the sandbox)."""
    found = []
    for name in ("nbgrader",):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))).resolve()
            if any(p in folder.parents for p in _python_folders()):
                found.append(folder)
    return found


def _course_package() -> Path | None:
    """The folder of the ``companion`` package the notebooks import (None: not found)."""
    spec = importlib.util.find_spec("companion")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()
