"""Foundations: linear algebra, probability and calculus, tensors in and tensors out.

No plotting here (the pictures are in :mod:`companion.viz.plots`).

========================  ===============================================================
:mod:`.linalg`            spaces, products, rank, norms, projections
:mod:`.inverse`           inverse, determinant, orthogonal matrices, condition number
:mod:`.tensor_ops`        broadcasting and ``einsum``, written out
:mod:`.matrix_calculus`   closed-form gradients: ``∇(aᵀx)``, ``∇(xᵀAx)``, ``∇ log det X``...
:mod:`.prob`              distributions, information, Bayes' rule
:mod:`.estimation`        Monte Carlo and maximum likelihood
:mod:`.calculus`          a stable softmax, Taylor polynomials, gradient descent
:mod:`.autodiff`          gradients by autograd and by finite differences
:mod:`.dot_products`      the variance of ``q·k``, and why attention scales by ``√d_k``
========================  ===============================================================
"""

from companion.foundations import (
    autodiff,
    calculus,
    dot_products,
    estimation,
    inverse,
    linalg,
    matrix_calculus,
    prob,
    tensor_ops,
)

__all__ = [
    "autodiff",
    "calculus",
    "dot_products",
    "estimation",
    "inverse",
    "linalg",
    "matrix_calculus",
    "prob",
    "tensor_ops",
]
