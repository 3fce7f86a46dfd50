"""Tools for the course's instructors; learners never import this package.

- :mod:`course_tools.coursework`: release the exercises to students and grade their
  submissions in a sandbox (``python -m course_tools.coursework``, or ``course-coursework``).
"""
