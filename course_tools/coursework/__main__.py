"""``python -m course_tools.coursework``: see :mod:`course_tools.coursework.cli`."""

from .cli import main

raise SystemExit(main())
