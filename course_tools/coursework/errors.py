"""The two errors the coursework tool raises on purpose."""

from __future__ import annotations

__all__ = ["CourseworkError", "ReleaseError"]


class CourseworkError(ValueError):
    """A usage error: a missing folder, an unknown chapter, a bad option value."""


class ReleaseError(RuntimeError):
    """nbgrader could not turn a source exercises notebook into a student copy."""
