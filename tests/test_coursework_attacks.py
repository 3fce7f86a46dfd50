"""The attack suite: a class of submissions written to break the grader, in its sandbox.

A grading run (bubblewrap required: CI installs it) over the toy chapter, where every
student but ``honest`` attacks from the answer cell of Exercise 2 (and answers Exercise 3
correctly, so what they can cost themselves is visible). The run is made twice, and every
test checks both: two sandboxes at a time (``jobs=2``), and as two shards, each a separate
``grade --shard K/2`` process, run side by side and merged:

- ``snoop`` searches the whole disk for the gradebook, other submissions, solutions and
  hidden tests, tries to rewrite the gradebook and the other submissions it can name, and
  writes into the home folder, the repository and the submissions folder;
- ``loop``, ``forkbomb``, ``alloc`` (2 GiB), ``bigline`` (a 50 MB line) and ``crash``
  (``os._exit(1)``, in Exercise 3 after a correct Exercise 2) each cost only their author;
- ``transformer`` and ``copier`` are the two cheats of issue 14: flagged for review.

Each attack must change nothing for anybody else: ``honest`` is graded exactly as alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from course_tools.coursework import EXERCISES_SUFFIX, find_bwrap, grade, merge

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DIR = ROOT / "tests" / "fixtures" / "coursework"
FIXTURE = FIXTURE_DIR / f"toy{EXERCISES_SUFFIX}"
#: Seconds of CPU time per cell: the endless loop burns all of it in each of the two runs;
#: the snoop's walk of the whole sandbox, the slowest honest-ish cell, takes about 3.5.
TIMEOUT, NOTEBOOK_TIMEOUT = 8, 40

# Prints what it found: names anywhere, contents outside the Python installation (public
# software such as nbgrader itself contains the markers). Then tries to write.
SNOOP = """import os, sys
skip = ("/proc", "/sys", "/dev")
python = (sys.prefix, sys.base_prefix, "/usr")
names, secrets = [], []
for folder, dirs, files in os.walk("/"):
    if folder.startswith(skip):
        dirs[:] = []
        continue
    for name in files:
        path = os.path.join(folder, name)
        if name == "gradebook.db" or name.endswith("_exercises.ipynb"):
            names.append(path)
        if folder.startswith(python):
            continue
        try:
            data = open(path, "rb").read()
        except OSError:
            continue
        if any(m in data for m in (b"BEGIN SOLUTION", b"BEGIN HIDDEN TESTS", b"gradebook.db")):
            secrets.append(path)
print("NAMES", names)
print("SECRETS", secrets)
for path in names:
    try:
        open(path, "w").write("{}")
        print("OVERWROTE", path)
    except OSError:
        pass
for path in [os.path.expanduser("~/pwned"), "@HOME@/pwned", "@REPO@/pwned",
             "@SUBMISSIONS@/pwned", "@SUBMISSIONS@/honest/@NAME@"]:
    try:
        with open(path, "w") as handle:
            handle.write("pwned")
        print("WROTE", path)
    except OSError as error:
        print("REFUSED", path, type(error).__name__)
"""
ATTACKS = {
    "loop": "while True:\n    pass\n",
    "forkbomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
    "        pass\n",
    "alloc": "block = bytearray(2 * 1024**3)\n",
    "bigline": "print('x' * 50_000_000)\n",
    "transformer": 'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n',
    "copier": "import json\nsource = json.load(open('../../source/toy/toy_exercises.ipynb'))\n"
    "for cell in source['cells']:\n    exec(''.join(cell['source']), globals())\n",
}


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


SHARDS = 2


def _sharded(submissions: Path, work: Path, env: dict[str, str]) -> list[Any]:
    """The rows of the class graded as SHARDS ``grade --shard`` processes at once, merged."""
    paths = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "course_tools.coursework", "grade", str(submissions),
               "--book", str(FIXTURE_DIR), "--timeout", str(TIMEOUT), "--notebook-timeout",
               str(NOTEBOOK_TIMEOUT), "--sandbox", "bwrap", "--jobs", "1",
               "--out", str(work / "parts")]  # fmt: skip
    children = []
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    for k in range(SHARDS):
        shard = ["--shard", f"{k}/{SHARDS}", "--workdir", str(work / f"shard-{k}")]
        children.append(
            subprocess.Popen([*command, *shard], env={**env, "PYTHONPATH": paths}, **pipes)
        )
    for child in children:
        _, err = child.communicate(timeout=600)
        assert child.returncode == 0, err.decode()[-3000:]
    return merge([work / "parts"]).rows


class Attacked:
    """One grading run of the attackers and one honest student (``jobs`` or ``shards``)."""

    def __init__(self, root: Path, released: Path, way: str = "jobs") -> None:
        self.way = way
        student = json.loads(released.read_text(encoding="utf-8"))
        source = json.loads(FIXTURE.read_text(encoding="utf-8"))
        answers = {_nbgrader(c).get("grade_id"): "".join(c["source"]) for c in source["cells"]}
        self.submissions, self.home, self.work = root / "submissions", root / "home", root / "work"
        self.home.mkdir()
        snoop = SNOOP
        for key, value in [
            ("@HOME@", self.home),
            ("@REPO@", ROOT),
            ("@SUBMISSIONS@", self.submissions),
            ("@NAME@", FIXTURE.name),
        ]:
            snoop = snoop.replace(key, str(value))  # fmt: skip
        attacks = {"honest": "", "snoop": snoop, "crash": "", **ATTACKS}
        for name, attack in attacks.items():
            notebook = json.loads(json.dumps(student))
            for cell in notebook["cells"]:
                grade_id = _nbgrader(cell).get("grade_id")
                if grade_id == "ex2_mean":
                    keep = name not in ("transformer", "copier")  # they only cheat
                    cell["source"] = attack + "\n" + (answers["ex2_mean"] if keep else "")
                elif grade_id == "ex3_variance":
                    crash = "import os\nos._exit(1)\n" if name == "crash" else ""
                    cell["source"] = crash + answers["ex3_variance"]
            folder = self.submissions / name
            folder.mkdir(parents=True)
            (folder / FIXTURE.name).write_text(json.dumps(notebook), encoding="utf-8")
        before = _digest(self.submissions)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("HOME", str(self.home))
            patch.setenv("SECRET_TOKEN", "instructor-only")
            if way == "shards":
                rows = _sharded(self.submissions, self.work, dict(os.environ))
            else:
                rows = grade(
                    self.submissions, book_dir=FIXTURE_DIR, workdir=self.work, timeout=TIMEOUT,
                    notebook_timeout=NOTEBOOK_TIMEOUT, jobs=2, sandbox="bwrap",
                )  # fmt: skip
        self.unchanged = _digest(self.submissions) == before
        self.rows = {(r.student, r.grade_id): r for r in rows}

    def row(self, student: str, grade_id: str) -> Any:
        return self.rows[student, grade_id]

    def graded(self, student: str) -> Path:
        """The executed notebook of ``student`` (in the workdir of the shard that ran it)."""
        (path,) = self.work.glob(f"**/graded/{student}/{FIXTURE.name}")
        return path

    def outputs(self, student: str) -> str:
        path = self.graded(student)
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "".join(
            "".join(o.get("text", "")) for c in cells for o in c.get("outputs", [])
        )  # fmt: skip


@pytest.fixture(scope="module", params=["jobs", "shards"])
def attacked(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Attacked:
    if find_bwrap() is None:
        pytest.fail(
            "the attack suite needs bubblewrap: apt-get install bubblewrap (CI installs it)"
        )
    root = tmp_path_factory.mktemp("attacks")
    from course_tools.coursework import release

    (released,) = release(["toy"], root / "released", book_dir=FIXTURE_DIR)
    return Attacked(root, released, request.param)


HONEST = {"ex1_answer": (0.0, "no answer"), "ex2_test": (3.0, "passed"),
          "ex3_test": (2.0, "passed"), "ex4_answer": (0.0, "no answer")}  # fmt: skip


def test_the_honest_student_is_graded_as_if_alone(attacked: Attacked) -> None:
    for grade_id, expected in HONEST.items():
        row = attacked.row("honest", grade_id)
        assert (row.score, row.status) == expected, row
        assert row.review == "", row
    assert attacked.unchanged, "a submitted file was changed"


def test_the_disk_holds_no_secret_and_no_gradebook(attacked: Attacked) -> None:
    out = attacked.outputs("snoop")
    assert "NAMES []" in out, out[:2000]
    assert "SECRETS []" in out, out[:2000]
    assert "OVERWROTE" not in out


def test_writes_to_home_repo_and_submissions_land_nowhere(attacked: Attacked) -> None:
    out = attacked.outputs("snoop")
    assert not (attacked.home / "pwned").exists()
    assert not (ROOT / "pwned").exists()
    assert not (attacked.submissions / "pwned").exists()
    assert attacked.unchanged
    # Inside, the writes to the real paths failed; the snoop's own answers still count.
    assert f"REFUSED {ROOT}/pwned" in out
    assert (attacked.row("snoop", "ex2_test").status, attacked.row("snoop", "ex3_test").status) == (
        "passed",
        "passed",
    )
    assert "reads or lists files" in attacked.row("snoop", "ex2_test").review
    assert "opens a database" in attacked.row("snoop", "ex2_test").review


def test_endless_loop_costs_its_cell_only(attacked: Attacked) -> None:
    row = attacked.row("loop", "ex2_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert (
        f"answer cell 'ex2_mean' raised TimeoutError: timed out after {TIMEOUT} s of CPU time"
        in (row.message)
    )
    assert attacked.row("loop", "ex3_test").status == "passed"


def test_fork_bomb_costs_only_its_author(attacked: Attacked) -> None:
    row = attacked.row("forkbomb", "ex2_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert "too many processes (a fork bomb?)" in row.message or "timed out" in row.message
    assert "ends or signals processes" in row.review


def test_two_gigabytes_fail_with_a_memory_error(attacked: Attacked) -> None:
    row = attacked.row("alloc", "ex2_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert "answer cell 'ex2_mean' raised MemoryError" in row.message
    assert attacked.row("alloc", "ex3_test").status == "passed"


def test_a_50_megabyte_line_is_cut(attacked: Attacked) -> None:
    row = attacked.row("bigline", "ex2_test")
    assert (row.score, row.status) == (3.0, "passed")
    assert "the output of cell 'ex2_mean' was cut (too long)" in row.message
    graded = attacked.graded("bigline")
    assert graded.stat().st_size < 1_000_000


def test_a_kernel_crash_keeps_the_points_before_it(attacked: Attacked) -> None:
    assert (attacked.row("crash", "ex2_test").score, attacked.row("crash", "ex2_test").status) == (
        3.0,
        "passed",
    )
    row = attacked.row("crash", "ex3_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert "the kernel died in cell 'ex3_variance' (Exercise 3)" in row.message
    assert "ends or signals processes" in row.review


@pytest.mark.parametrize(
    ("student", "why"),
    [("transformer", "touches the kernel's machinery (get_ipython, input_transformers"),
     ("copier", "reads or lists files")],
)  # fmt: skip
def test_the_two_cheats_are_flagged(student: str, why: str, attacked: Attacked) -> None:
    for grade_id in HONEST:
        assert why in attacked.row(student, grade_id).review


def test_the_input_transformer_cheat_earns_nothing(attacked: Attacked) -> None:
    """Its transformer is undone before each test cell, which then runs as written."""
    row = attacked.row("transformer", "ex2_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert "NameError: name 'mean' is not defined" in row.message


def test_the_copier_finds_no_source_to_copy(attacked: Attacked) -> None:
    row = attacked.row("copier", "ex2_test")
    assert (row.score, row.status) == (0.0, "failed")
    assert "FileNotFoundError" in row.message
    assert "runs code built from text" in row.review


def test_the_environment_is_scrubbed(tmp_path: Path) -> None:
    from course_tools.coursework import Limits, Sandbox

    if find_bwrap() is None:
        pytest.fail("needs bubblewrap: apt-get install bubblewrap")
    code = "import os, socket\nprint(sorted(os.environ))\ntry:\n"
    code += "    socket.create_connection(('1.1.1.1', 80), timeout=3)\n    print('ONLINE')\n"
    code += "except OSError as error:\n    print('OFFLINE', error.errno)\nprint(os.listdir('/'))\n"
    cell = {"cell_type": "code", "source": code, "metadata": {}, "outputs": [],
            "execution_count": None, "id": "a"}  # fmt: skip
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SECRET_TOKEN", "instructor-only")
        result = Sandbox("bwrap", Limits(timeout=30)).run_notebook(notebook)
    assert result.notebook is not None, result.failure
    out = "".join(o.get("text", "") for o in result.notebook["cells"][0]["outputs"])
    assert "SECRET_TOKEN" not in out
    assert "OFFLINE" in out
    roots = json.loads(out.strip().splitlines()[-1].replace("'", '"'))
    assert not {"home", "etc", "var", "srv", "mnt", "opt"} & set(roots), roots
