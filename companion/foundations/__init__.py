"""Foundations: linear algebra, probability and calculus, tensors in and tensors out.

No plotting here (the pictures are in :mod:`companion.viz.plots`).

======================  =================================================================
:mod:`.linalg`          spaces, products, rank, norms, projections, matrix gradients
:mod:`.prob`            distributions, Monte Carlo, likelihood, information
:mod:`.calculus`        a stable softmax, derivatives, Taylor, gradient descent
:mod:`.dot_products`    the variance of ``q·k``, and why attention scales by ``√d_k``
======================  =================================================================
"""

from companion.foundations import calculus, dot_products, linalg, prob

__all__ = ["calculus", "dot_products", "linalg", "prob"]
