"""Tools for the course's instructors and maintainers; learners never import this package.

- :mod:`course_tools.coursework`: release the exercises to students and grade their
  submissions in a sandbox (``python -m course_tools.coursework``, or ``course-coursework``);
- :mod:`course_tools.notebooks`: what the course knows about its notebooks (nbgrader's cell
  format, the kernels' environment, PyTorch's CPU kernel levels, executing a notebook, the
  wrong answers kept beside each exercises notebook), for the grader, ``tools/``, the
  book's extensions and the benchmarks;
- :mod:`course_tools.machine`: what the tools know of the machine they run on (the CPU the
  benchmarks record, the cores and memory the grader sizes its sandboxes by);
- :mod:`course_tools.reference_vit`: a test oracle, torchvision's Vision Transformer rebuilt
  from PyTorch's own modules, that the tests and a benchmark compare ``companion`` with.
"""
