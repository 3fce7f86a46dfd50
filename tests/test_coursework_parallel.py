"""Grading a class at scale: parallel sandboxes, shards and merge, regrades, time-outs told,
and Gradescope's ``results.json``.

One small class of the toy chapter, handed in twice (as chapters ``toy`` and ``twin``, the
same notebook under two names), is graded four ways, all through the command line:
serially (``--jobs 1``), with ``--jobs 2`` while CPU-burning processes (one per core) load
the machine, as three shards run as separate processes by GNU parallel and merged, and (for
the regrade) once more for one student. Every way must give the same files, byte for byte:
a grade may not depend on what else the grading machine is doing (one student's answer
loops until its time-out, which is CPU time, not the wall clock).
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from course_tools.coursework import (
    ANSWER_TIMED_OUT,
    DEFAULT_JOBS,
    EXERCISES_SUFFIX,
    gradescope_results,
    merge,
    read_grades_csv,
    release,
)
from course_tools.coursework.cli import main
from course_tools.notebooks.cells import hidden_lines

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "coursework" / f"toy{EXERCISES_SUFFIX}"
CHAPTERS = ("toy", "twin")
SHARDS = 3
TIMEOUT = 4
#: CPU-burning processes beside the ``--jobs 2`` grading: one per core.
BURNERS = len(os.sched_getaffinity(0))
INSTALL_PARALLEL = "apt-get install parallel (Debian's GNU parallel)"
# Defines mean, then loops until its time-out: the test after it still passes.
DEFINES_THEN_LOOPS = "def mean(xs):\n    return sum(xs) / len(xs)\n\n\nwhile True:\n    pass\n"
CORRECT_VARIANCE = "def variance(xs):\n    c = sum(xs) / len(xs)\n    return sum((x - c) ** 2 for x in xs) / len(xs)\n"  # noqa: E501


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _answered(released: dict[str, Any], answers: dict[str, str]) -> str:
    copy = json.loads(json.dumps(released))
    for cell in copy["cells"]:
        if _nbgrader(cell).get("grade_id") in answers:
            cell["source"] = answers[_nbgrader(cell)["grade_id"]]
    return json.dumps(copy)


def _run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
    return status, out.getvalue(), err.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def _differences(expected: dict[str, bytes], got: dict[str, bytes]) -> str:
    """The files that differ between two gradings, each with its differing lines ("" if
    none): what a failure of "the same results every way" shows."""
    import difflib

    report = []
    for name in sorted(set(expected) | set(got)):
        if name not in expected or name not in got:
            report.append(f"{name}: only in {'the first' if name in expected else 'the second'}")
        elif expected[name] != got[name]:
            lines = difflib.unified_diff(
                expected[name].decode("utf-8", "replace").splitlines(),
                got[name].decode("utf-8", "replace").splitlines(),
                name,
                name,
                lineterm="",
                n=0,
            )
            report.append("\n".join(lines))
    return "\n".join(report)


def _comparable(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` with ``execution_time`` (Gradescope's only measured field) left out of
    each Gradescope document."""
    out = dict(files)
    for name, data in files.items():
        if name.startswith("gradescope/"):
            document = json.loads(data)
            document.pop("execution_time")
            out[name] = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
    return out


@contextmanager
def _burning(count: int) -> Iterator[None]:
    """``count`` processes that burn CPU (an endless loop each) for the block's duration."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _parallel() -> str:
    found = shutil.which("parallel")
    if found is None:
        reason = f"the shard test needs GNU parallel, not found: {INSTALL_PARALLEL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    return found


class Class:
    """The class, and its outputs graded each way (``outputs[way]``: a folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.book = root / "book"
        self.book.mkdir()
        for chapter in CHAPTERS:
            shutil.copyfile(FIXTURE, self.book / f"{chapter}{EXERCISES_SUFFIX}")
        (copy,) = release(["toy"], root / "released", book_dir=self.book)
        released = json.loads(copy.read_text(encoding="utf-8"))
        source = FIXTURE.read_text(encoding="utf-8")
        self.submissions = root / "submissions"
        students: dict[str, dict[str, str]] = {
            "ada": {"toy": source, "twin": source},
            "bo": {"toy": json.dumps(released), "twin": json.dumps(released)},
            "cy": {"toy": _answered(released, {"ex3_variance": CORRECT_VARIANCE})},
            "dee": {
                "toy": _answered(
                    released, {"ex2_mean": DEFINES_THEN_LOOPS, "ex3_variance": CORRECT_VARIANCE}
                )
            },
            "eve": {"twin": source, "notes.txt": "see the PDF"},
            "fay": {},
        }
        for student, files in students.items():
            folder = self.submissions / student
            folder.mkdir(parents=True)
            for name, content in files.items():
                filename = name if "." in name else f"{name}{EXERCISES_SUFFIX}"
                (folder / filename).write_text(content, encoding="utf-8")
        self.options = ["--book", str(self.book), "--timeout", str(TIMEOUT),
                        "--notebook-timeout", "60"]  # fmt: skip
        self.outputs: dict[str, Path] = {}
        self.stderr: dict[str, str] = {}
        self.outputs["serial"] = self.grade("serial", ["--jobs", "1"])
        with _burning(BURNERS):
            self.outputs["jobs2"] = self.grade("jobs2", ["--jobs", "2"])

    def grade(self, way: str, extra: list[str]) -> Path:
        folder = self.root / way
        status, _, stderr = _run_main(
            ["grade", str(self.submissions), "--out", str(folder / "grades.csv"),
             "--feedback", str(folder / "feedback"), "--gradescope", str(folder / "gradescope"),
             *self.options, *extra]
        )  # fmt: skip
        assert status == 0, stderr
        self.stderr[way] = stderr
        return folder

    def rows(self, way: str) -> list[dict[str, str]]:
        with (self.outputs[way] / "grades.csv").open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Class:
    return Class(tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def sharded(klass: Class) -> Path:
    """The class graded as SHARDS shards, separate processes run by GNU parallel, merged."""
    parallel = _parallel()
    parts = klass.root / "parts"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}  # fmt: skip
    command = [
        parallel, "--halt", "now,fail=1", "--jobs", "2",
        sys.executable, "-m", "course_tools.coursework", "grade", str(klass.submissions),
        "--shard", "{}/" + str(SHARDS), "--out", str(parts), "--jobs", "1",
        "--workdir", str(klass.root / "work-{}"), *klass.options,
        ":::", *map(str, range(SHARDS)),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    folder = klass.root / "sharded"
    status, _, stderr = _run_main(
        ["merge", str(parts), "--out", str(folder / "grades.csv"), "--feedback",
         str(folder / "feedback"), "--gradescope", str(folder / "gradescope")]
    )  # fmt: skip
    assert status == 0, stderr
    klass.outputs["sharded"] = folder
    return parts


# --- the same results every way -----------------------------------------------------------


def test_jobs_2_gives_byte_identical_results_to_a_serial_run(klass: Class) -> None:
    serial, jobs2 = _files(klass.outputs["serial"]), _files(klass.outputs["jobs2"])
    assert {"grades.csv", "grades-by-student.csv"} <= set(serial)
    assert any(n.startswith("feedback/") for n in serial)
    assert any(n.startswith("gradescope/") for n in serial)
    # CSV files and feedback byte for byte, Gradescope's files but for their time.
    assert _differences(_comparable(serial), _comparable(jobs2)) == ""


def test_shards_merged_equal_a_single_run(klass: Class, sharded: Path) -> None:
    serial, merged = _files(klass.outputs["serial"]), _files(klass.outputs["sharded"])
    assert _differences(_comparable(serial), _comparable(merged)) == ""


def test_shards_split_every_pair_once(klass: Class, sharded: Path) -> None:
    files = sorted(sharded.glob("shard-*-of-*.json"))
    assert [f.name for f in files] == [f"shard-{k}-of-{SHARDS}.json" for k in range(SHARDS)]
    pairs = [tuple(p) for f in files for p in json.loads(f.read_text("utf-8"))["pairs"]]
    students = sorted(p.name for p in klass.submissions.iterdir())
    assert sorted(pairs) == sorted((s, c) for s in students for c in CHAPTERS)
    sizes = [len(json.loads(f.read_text("utf-8"))["pairs"]) for f in files]
    assert max(sizes) - min(sizes) <= 1, sizes  # a fair share each


def _bad_merge(parts: list[Path], tmp_path: Path) -> str:
    status, _, stderr = _run_main(["merge", *map(str, parts), "--out", str(tmp_path / "g.csv")])
    assert status == 2
    assert not (tmp_path / "g.csv").exists()
    return stderr


def test_merge_refuses_missing_duplicated_and_mismatched_shards(
    sharded: Path, tmp_path: Path
) -> None:
    files = sorted(sharded.glob("shard-*-of-*.json"))
    assert "missing shards 1/3: expected all 3 partial results" in _bad_merge(
        [files[0], files[2]], tmp_path
    )
    twice = tmp_path / "copy.json"
    shutil.copyfile(files[1], twice)
    assert "duplicated shard 1/3: both" in _bad_merge([*files, twice], tmp_path)
    other = json.loads(files[2].read_text("utf-8"))
    other["fingerprint"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    stderr = _bad_merge([files[0], files[1], tmp_path / "other.json"], tmp_path)
    assert "mismatched shards: " in stderr
    assert "graded other submissions, sources or limits than" in stderr
    other = json.loads(files[2].read_text("utf-8"))
    other["shard"] = [0, 2]
    (tmp_path / "n2.json").write_text(json.dumps(other), encoding="utf-8")
    stderr = _bad_merge([files[0], tmp_path / "n2.json"], tmp_path)
    assert "is shard 0/2 but" in stderr
    assert "one of 3" in stderr
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    assert "is not a partial-results file" in _bad_merge([tmp_path / "notes.json"], tmp_path)
    assert "partial results '" in _bad_merge([tmp_path / "nowhere.json"], tmp_path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--shard", "3/3", "--out", "{tmp}/parts"], "--shard must be K/N with 0 <= K < N"),
        (["--shard", "a/b", "--out", "{tmp}/parts"], "--shard must be K/N with 0 <= K < N"),
        (["--shard", "0/2", "--out", "{tmp}/parts", "--feedback", "{tmp}/f"],
         "--feedback is written by merge"),
        (["--shard", "0/2", "--out", "{tmp}/g.csv", "--student", "ada"],
         "--student and --shard cannot be combined"),
        (["--student", "zed", "--out", "{tmp}/g.csv"], "no folder for student 'zed' in"),
    ],
)  # fmt: skip
def test_shard_and_student_usage_errors(argv: list[str], expected: str, klass: Class,
                                        tmp_path: Path) -> None:  # fmt: skip
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    status, _, stderr = _run_main(["grade", str(klass.submissions), *klass.options, *argv])
    assert status == 2
    assert expected in stderr


def _slurm() -> str:
    """sbatch, where a Slurm controller answers here (else the test is skipped)."""
    sbatch, sinfo = shutil.which("sbatch"), shutil.which("sinfo")
    if sbatch is None or sinfo is None:
        pytest.skip("no Slurm here (sbatch, sinfo): the job-array check runs where one is")
    try:
        done = subprocess.run([sinfo, "-h", "-o", "%T"], capture_output=True, text=True,
                              timeout=20, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("Slurm's controller does not answer (sinfo timed out)")
    if done.returncode != 0 or not {"idle", "mixed"} & set(done.stdout.split()):
        pytest.skip(f"no idle Slurm node here (sinfo: {done.stdout.strip() or done.stderr})")
    return sbatch


def _page_block(marker: str) -> str:
    """The code block of the instructors' page that contains ``marker``."""
    page = (ROOT / "book" / "intro" / "instructors.md").read_text(encoding="utf-8")
    blocks = [b.split("\n", 1)[1] for b in page.split("```")[1::2] if marker in b]
    assert len(blocks) == 1, f"expected one code block with {marker!r} on the page"
    return blocks[0]


def test_the_pages_slurm_job_array_merges_to_a_single_run(klass: Class, tmp_path: Path) -> None:
    """The page's Slurm script, as written but for the test's limits, as a 3-task array."""
    sbatch = _slurm()
    script = _page_block("#SBATCH --array")
    assert "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" in script
    script = script.replace("--out shards/", "--out shards/ " + " ".join(klass.options[2:]))
    (tmp_path / "grade.sbatch").write_text(script, encoding="utf-8")
    (tmp_path / "logs").mkdir()
    (tmp_path / "submissions").symlink_to(klass.submissions)
    (tmp_path / "book").symlink_to(klass.book)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run(
        [sbatch, "--wait", "--array=0-2", "--cpus-per-task=1", "--mem=1G", "grade.sbatch"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    logs = "".join(p.read_text() for p in sorted((tmp_path / "logs").glob("*")))
    assert done.returncode == 0, done.stderr + logs[-3000:]
    merged = tmp_path / "merged"
    status, _, stderr = _run_main(
        ["merge", str(tmp_path / "shards"), "--out", str(merged / "grades.csv"),
         "--feedback", str(merged / "feedback")]
    )  # fmt: skip
    assert status == 0, stderr
    serial = _files(klass.outputs["serial"])
    assert _files(merged) == {n: d for n, d in serial.items() if not n.startswith("gradescope/")}


# --- regrade ------------------------------------------------------------------------------


def test_regrading_one_student_changes_only_their_rows(klass: Class, tmp_path: Path) -> None:
    before = klass.outputs["serial"]
    after = tmp_path / "after"
    shutil.copytree(before, after)
    submissions = tmp_path / "submissions"
    shutil.copytree(klass.submissions, submissions)
    released = json.loads((klass.root / "released" / FIXTURE.name).read_text("utf-8"))
    (submissions / "bo" / f"toy{EXERCISES_SUFFIX}").write_text(
        _answered(released, {"ex3_variance": CORRECT_VARIANCE}), encoding="utf-8"
    )
    status, stdout, stderr = _run_main(
        ["grade", str(submissions), "--student", "bo", "--out", str(after / "grades.csv"),
         "--feedback", str(after / "feedback"), "--gradescope", str(after / "gradescope"),
         *klass.options]
    )  # fmt: skip
    assert status == 0, stderr
    assert "regraded 1 of" in stdout
    old_lines = (before / "grades.csv").read_text("utf-8").splitlines()
    new_lines = (after / "grades.csv").read_text("utf-8").splitlines()
    assert [x for x in old_lines if not x.startswith("bo,")] == [
        x for x in new_lines if not x.startswith("bo,")
    ]
    # bo's rows are where they were, and ex3 of toy is now passed.
    assert [i for i, x in enumerate(old_lines) if x.startswith("bo,")] == [
        i for i, x in enumerate(new_lines) if x.startswith("bo,")
    ]
    rows = {(r.chapter, r.grade_id): r for r in read_grades_csv(after / "grades.csv")
            if r.student == "bo"}  # fmt: skip
    assert (rows["toy", "ex3_test"].score, rows["toy", "ex3_test"].status) == (2.0, "passed")
    assert (rows["twin", "ex3_test"].score, rows["twin", "ex3_test"].status) == (0.0, "failed")
    summary = {r[0]: r for r in csv.reader(io.StringIO((after / "grades-by-student.csv")
                                                        .read_text("utf-8")))}  # fmt: skip
    old_summary = {r[0]: r for r in csv.reader(io.StringIO(
        (before / "grades-by-student.csv").read_text("utf-8")))}  # fmt: skip
    assert summary["bo"] == ["bo", "2", "0", "2"]
    assert {k: v for k, v in summary.items() if k != "bo"} == {
        k: v for k, v in old_summary.items() if k != "bo"
    }
    old_files, new_files = _files(before), _files(after)
    others = {n for n in old_files if not n.startswith(("grades", "feedback/bo/",
                                                         "gradescope/bo/"))}  # fmt: skip
    assert {n: old_files[n] for n in others} == {n: new_files[n] for n in others}
    assert new_files["feedback/bo/toy_feedback.html"] != old_files["feedback/bo/toy_feedback.html"]
    assert json.loads(new_files["gradescope/bo/results.json"])["score"] == 2


# --- time-outs ----------------------------------------------------------------------------


def test_a_timed_out_answer_is_told_on_the_tests_after_it(klass: Class) -> None:
    rows = {r["grade_id"]: r for r in klass.rows("serial")
            if r["student"] == "dee" and r["chapter"] == "toy"}  # fmt: skip
    told = f"answer cell 'ex2_mean' timed out after {TIMEOUT} s of CPU time and was interrupted"
    test = rows["ex2_test"]
    assert (test["status"], test["score"]) == (ANSWER_TIMED_OUT, "3"), test  # points stand
    assert told in test["message"]
    # The other exercise is untouched by it; the whole submission is flagged for review.
    assert (rows["ex3_test"]["status"], rows["ex3_test"]["score"]) == ("passed", "2")
    assert told not in rows["ex3_test"]["message"]
    for row in rows.values():
        assert (
            f"answer cell 'ex2_mean' timed out after {TIMEOUT} s of CPU time (interrupted)"
            in row["review"]
        )
    page = (klass.outputs["serial"] / "feedback" / "dee" / "toy_feedback.html").read_text("utf-8")
    assert ANSWER_TIMED_OUT in page
    assert html.escape(told) in page


# --- Gradescope ---------------------------------------------------------------------------

#: Gradescope's autograder results.json, its documented fields: (type, required).
TOP_LEVEL = {"score": ((int, float), True), "execution_time": (int, False),
             "output": (str, False), "visibility": (str, False),
             "stdout_visibility": (str, False), "tests": (list, True)}  # fmt: skip
TEST_FIELDS = {"score": ((int, float), True), "max_score": ((int, float), True),
               "name": (str, True), "number": (str, False), "output": (str, False),
               "tags": (list, False), "visibility": (str, False)}  # fmt: skip
VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}


def _check_schema(document: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    assert set(document) <= set(fields), f"{where}: unknown fields {set(document) - set(fields)}"
    for name, (kind, required) in fields.items():
        if required:
            assert name in document, f"{where}: '{name}' missing"
        if name in document:
            value = document[name]
            assert isinstance(value, kind), (where, name, value)
            assert not isinstance(value, bool), (where, name, value)
    for name in ("visibility", "stdout_visibility"):
        if name in document:
            assert document[name] in VISIBILITY, (where, name, document[name])


def test_gradescope_results_follow_the_documented_format(klass: Class) -> None:
    folder = klass.outputs["serial"] / "gradescope"
    files = sorted(folder.glob("*/results.json"))
    graded = {r["student"] for r in klass.rows("serial") if r["kind"] == "code"}
    assert [p.parent.name for p in files] == sorted(graded)  # one file per student
    hidden = hidden_lines(json.loads(FIXTURE.read_text("utf-8")))
    assert "assert mean([5.0]) == 5.0  # hidden: a single value" in hidden
    for path in files:
        text = path.read_text("utf-8")
        document = json.loads(text)
        _check_schema(document, TOP_LEVEL, str(path))
        assert document["tests"]
        for test in document["tests"]:
            _check_schema(test, TEST_FIELDS, f"{path}: {test.get('name')}")
            assert 0 <= test["score"] <= test["max_score"]
        assert document["score"] == sum(t["score"] for t in document["tests"])
        assert not [line for line in hidden if line.split("  #")[0] in text], path
        assert "HIDDEN TESTS" not in text
    ada = json.loads((folder / "ada" / "results.json").read_text("utf-8"))
    names = [t["name"] for t in ada["tests"]]
    assert names == ["toy: Exercise 2 (ex2_test)", "toy: Exercise 3 (ex3_test)",
                     "twin: Exercise 2 (ex2_test)", "twin: Exercise 3 (ex3_test)"]  # fmt: skip
    assert ada["score"] == 10
    # Both toy test cells hold hidden asserts: shown once grades are published.
    assert {t["visibility"] for t in ada["tests"]} == {"after_published"}
    fay = json.loads((folder / "fay" / "results.json").read_text("utf-8"))
    assert fay["score"] == 0
    assert all("missing" in t["output"] for t in fay["tests"])


def test_gradescope_hidden_tests_can_be_hidden(sharded: Path) -> None:
    results = merge([sharded])
    document = gradescope_results("ada", results, "hidden")
    assert {t["visibility"] for t in document["tests"]} == {"hidden"}
    with pytest.raises(ValueError, match="visibility of hidden tests must be one of"):
        gradescope_results("ada", results, "visible")


# --- the pieces -------------------------------------------------------------------------


def test_default_jobs_is_the_number_of_cores() -> None:
    assert DEFAULT_JOBS == len(os.sched_getaffinity(0))


def test_jobs_times_memory_beyond_the_machine_is_warned(tmp_path: Path) -> None:
    folder = tmp_path / "subs" / "ada"
    folder.mkdir(parents=True)
    (folder / FIXTURE.name).write_text("not a notebook", encoding="utf-8")  # nothing to run
    status, _, stderr = _run_main(
        ["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--book",
         str(FIXTURE.parent), "--memory", str(10**8), "--jobs", "1"]
    )  # fmt: skip
    assert status == 0, stderr
    assert "(--jobs x --memory) is more than this machine's" in stderr
