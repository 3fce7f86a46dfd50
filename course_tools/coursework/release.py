"""Turn the instructor's exercises notebooks into student copies with nbgrader.

``release`` runs nbgrader's ``GenerateAssignment`` converter in a course folder of its own
(a temporary folder, or ``workdir``): solution code becomes ``raise NotImplementedError()``,
written answers become "YOUR ANSWER HERE", hidden tests are removed and every tracked cell
is locked. Grading uses the same step to learn each chapter's released cells.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..notebooks.cells import EXERCISES_SUFFIX
from .chapters import default_book, resolve_chapters
from .errors import CourseworkError, ReleaseError

__all__ = ["release", "released_copies", "working_folder"]


@contextlib.contextmanager
def working_folder(workdir: str | Path | None) -> Iterator[Path]:
    """A fresh temporary folder (removed afterwards), or ``workdir`` (kept) if given."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="coursework-") as tmp:
            yield Path(tmp)
    else:
        path = Path(workdir).resolve()
        if path.exists() and not path.is_dir():
            raise CourseworkError(f"--workdir '{path}' is a file: expected a folder")
        path.mkdir(parents=True, exist_ok=True)
        yield path


@contextlib.contextmanager
def _jupyter_folders(work: Path) -> Iterator[None]:
    """Point Jupyter and IPython at folders inside ``work`` (restored afterwards)."""
    env = {
        "JUPYTER_CONFIG_DIR": work / "jupyter" / "config",
        "JUPYTER_DATA_DIR": work / "jupyter" / "data",
        "JUPYTER_RUNTIME_DIR": work / "jupyter" / "runtime",
        "IPYTHONDIR": work / "ipython",
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({key: str(value) for key, value in env.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Errors(logging.Handler):
    """Collects nbgrader's error messages."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _summary(messages: list[str]) -> str:
    """The most telling line of nbgrader's error messages (a traceback's last line)."""
    for message in messages:
        lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
        if len(lines) > 1 and lines[0].startswith("Traceback"):
            return lines[-1]
    return messages[0].strip().splitlines()[0] if messages else ""


def _create_gradebook(path: Path) -> None:
    """Create the gradebook as nbgrader's ``Gradebook`` does, minus its ``alembic``
    subprocess (slow, and it needs the venv's ``bin/`` on ``PATH``)."""
    import nbgrader
    import sqlalchemy
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base

    head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        Base.metadata.create_all(bind=engine)
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(
                sqlalchemy.text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                {"v": head},
            )
    finally:
        engine.dispose()


def released_copies(sources: dict[str, Path], course: Path, verbose: bool = False) -> Path:
    """Run nbgrader's ``GenerateAssignment`` for ``sources`` in the course folder ``course``.

    Returns the folder ``release/`` whose ``<chapter>/<chapter>_exercises.ipynb`` are the
    student copies. nbgrader's gradebook (``course/gradebook.db``) stays in ``course``.

    Raises:
        ReleaseError: nbgrader rejected a source notebook.
    """
    from nbformat.validator import MissingIDFieldWarning
    from nbgrader.converters import GenerateAssignment
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning
    from traitlets.config import Config

    for step in ("source", "release"):
        shutil.rmtree(course / step, ignore_errors=True)
    (course / "gradebook.db").unlink(missing_ok=True)
    course.mkdir(parents=True, exist_ok=True)
    _create_gradebook(course / "gradebook.db")
    for chapter, path in sources.items():
        folder = course / "source" / chapter
        folder.mkdir(parents=True)
        shutil.copyfile(path, folder / f"{chapter}{EXERCISES_SUFFIX}")

    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.assignment_id = "*"
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    config.GenerateAssignment.force = True
    logger = logging.getLogger(f"{__name__}.nbgrader")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    errors = _Errors()
    handlers: list[logging.Handler] = [errors]
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("[nbgrader %(levelname)s] %(message)s"))
        handlers.append(stream)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        with _jupyter_folders(course.parent), warnings.catch_warnings():
            # nbgrader 0.9 with SQLAlchemy 2 warns on every notebook; both harmless.
            warnings.simplefilter("ignore", SAWarning)
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            coursedir = CourseDirectory(config=config, log=logger)
            GenerateAssignment(coursedir=coursedir, config=config, log=logger).start()
    except NbGraderException as error:
        detail = _summary(errors.messages) or str(error)
        raise ReleaseError(f"nbgrader could not release the exercises: {detail}") from error
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
    return course / "release"


def release(
    chapters: Sequence[str | Path] | None,
    out_dir: str | Path,
    *,
    book_dir: str | Path | None = None,
    workdir: str | Path | None = None,
    verbose: bool = False,
) -> list[Path]:
    """Write the student copy of each chapter's exercises to ``out_dir``.

    Args:
        chapters: chapter names (``"attention"``) or paths of exercises notebooks;
            ``None`` or empty means every chapter under ``book_dir``.
        out_dir: folder for ``<chapter>_exercises.ipynb`` (created; same-named files
            are overwritten).
        book_dir: where chapters are looked for (default: :func:`default_book`).
        workdir: nbgrader's working folder (default: a temporary one, removed).
        verbose: show nbgrader's log on stderr.

    Returns:
        The paths written, one per chapter, sorted by chapter.

    Raises:
        CourseworkError: unknown chapter, missing book folder, ``out_dir`` is a file.
        ReleaseError: nbgrader rejected a source notebook (its message says why).
    """
    book = Path(book_dir) if book_dir is not None else default_book()
    sources = resolve_chapters(chapters, book)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CourseworkError(f"--out '{out_dir}' is a file: expected a folder for the notebooks")
    written = []
    with working_folder(workdir) as work:
        folder = released_copies(sources, work / "course", verbose)
        out_dir.mkdir(parents=True, exist_ok=True)
        for chapter in sorted(sources):
            target = out_dir / f"{chapter}{EXERCISES_SUFFIX}"
            shutil.copyfile(folder / chapter / target.name, target)
            written.append(target)
    return written
