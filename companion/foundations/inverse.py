"""Inverse, determinant, orthogonal matrices and conditioning, for the cheat-sheet.

Each function is the textbook algorithm written out, so that the sheet can check its
identities against ``torch.linalg`` (the tests do the same):

======================================  =================================================
:func:`determinant`                     ``det A`` by Gaussian elimination with partial
                                        pivoting: ``(−1)^swaps · Π pivots``
:func:`inverse`                         ``A⁻¹`` by Gauss–Jordan elimination on ``[A | I]``
:func:`polygon_area`                    the area of a polygon (shoelace formula): with the
                                        image of the unit square, ``|det A|``
:func:`random_orthogonal`               a random orthogonal ``Q`` (``QᵀQ = I``)
:func:`condition_number`                ``κ₂(A) = σ_max / σ_min``
======================================  =================================================

Matrices are 2-D floating-point tensors; a square one is ``(n, n)``.
"""

from __future__ import annotations

import torch

from companion.checks import check_floating, check_int, check_matrix, check_shape

__all__ = [
    "condition_number",
    "determinant",
    "inverse",
    "polygon_area",
    "random_orthogonal",
]


def _square(name: str, A: object) -> torch.Tensor:
    A = check_matrix(name, A, "(n, n)")
    check_shape(name, A, (A.shape[0], A.shape[0]), "(square)")
    return A


def determinant(A: torch.Tensor) -> torch.Tensor:
    """``det A`` for ``A`` ``(n, n)``, by elimination: a 0-d tensor.

    Row operations ``r_i ← r_i − c·r_j`` leave the determinant unchanged, a row swap flips
    its sign, and the determinant of the triangular result is the product of its diagonal:
    ``det A = (−1)^swaps · Π_k u_kk``. Partial pivoting (the largest ``|u_ik|`` as pivot)
    keeps the multipliers ``|c| ≤ 1``. A zero pivot column means ``det A = 0``.
    """
    U = _square("A", A).clone()
    n = U.shape[0]
    det = torch.ones((), dtype=U.dtype, device=U.device)
    for k in range(n):
        pivot = int(U[k:, k].abs().argmax()) + k
        if U[pivot, k] == 0:
            return torch.zeros((), dtype=U.dtype, device=U.device)  # singular
        if pivot != k:
            U[[k, pivot]] = U[[pivot, k]]
            det = -det
        det = det * U[k, k]
        U[k + 1 :] -= U[k + 1 :, k : k + 1] / U[k, k] * U[k]  # (n-k-1, n): eliminate below
    return det


def inverse(A: torch.Tensor) -> torch.Tensor:
    """``A⁻¹`` for ``A`` ``(n, n)`` by Gauss–Jordan elimination, ``(n, n)``.

    Row-reduce ``[A | I]`` to ``[I | A⁻¹]``: each row operation is a left multiplication by
    an invertible matrix ``E``, and ``E_k ⋯ E_1 A = I`` means ``E_k ⋯ E_1 = A⁻¹``. (To solve
    ``Ax = b``, ``torch.linalg.solve`` is cheaper and more accurate than forming ``A⁻¹``.)

    Raises:
        ValueError: a singular ``A`` (a zero pivot column).
    """
    A = _square("A", A)
    n = A.shape[0]
    M = torch.cat([A, torch.eye(n, dtype=A.dtype, device=A.device)], dim=1)  # (n, 2n)
    for k in range(n):
        pivot = int(M[k:, k].abs().argmax()) + k
        if M[pivot, k] == 0:
            raise ValueError(f"A must be invertible, got a singular matrix (column {k})")
        if pivot != k:
            M[[k, pivot]] = M[[pivot, k]]
        M[k] = M[k] / M[k, k]
        others = torch.arange(n, device=A.device) != k
        M[others] -= M[others, k : k + 1] * M[k]  # zero column k in every other row
    return M[:, n:]


def polygon_area(vertices: torch.Tensor) -> torch.Tensor:
    """The area of a simple polygon, vertices ``(k, 2)`` in order, by the shoelace formula.

    ``area = ½ |Σ_i (x_i y_{i+1} − x_{i+1} y_i)|`` (indices mod ``k``). The image of the unit
    square ``(0,0), (1,0), (1,1), (0,1)`` under ``x ↦ Ax`` has area ``|det A|``: the
    determinant is the factor by which ``A`` scales areas (volumes in ``n`` dimensions).
    """
    v = check_matrix("vertices", vertices, "(k, 2)")
    check_shape("vertices", v, (v.shape[0], 2), "(k, 2): x, y per vertex")
    nxt = torch.roll(v, -1, dims=0)  # (k, 2): vertex i + 1
    return 0.5 * (v[:, 0] * nxt[:, 1] - nxt[:, 0] * v[:, 1]).sum().abs()


def random_orthogonal(
    n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """A random ``(n, n)`` orthogonal matrix: the ``Q`` of the QR factorisation of a Gaussian
    matrix, its columns' signs fixed so that ``R`` has a positive diagonal (which makes ``Q``
    uniformly distributed over the orthogonal group).

    ``QᵀQ = QQᵀ = I``, so ``Q⁻¹ = Qᵀ``, ``‖Qx‖ = ‖x‖``, ``⟨Qx, Qy⟩ = ⟨x, y⟩`` and
    ``det Q = ±1``.
    """
    n = check_int("n", n, low=1)
    G = torch.randn(n, n, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    return (Q * torch.sign(torch.diagonal(R))).to(dtype)  # (n, n)


def condition_number(A: torch.Tensor) -> torch.Tensor:
    """``κ₂(A) = σ_max / σ_min`` for ``A`` ``(m, n)``, a 0-d tensor (``inf`` if rank-deficient).

    Solving ``Ax = b`` can amplify a relative error in ``b`` by up to ``κ₂(A)``. Since the
    singular values of ``AᵀA`` are the ``σ_i²``, ``κ₂(AᵀA) = κ₂(A)²``: the normal equations
    square the conditioning of least squares (QR or ``torch.linalg.lstsq`` do not).
    """
    A = check_floating("A", check_matrix("A", A, "(m, n)"))
    s = torch.linalg.svdvals(A)  # descending
    return s[0] / s[-1]
