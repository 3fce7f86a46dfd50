"""Linear algebra for the cheat-sheet: spaces, products, rank, norms, projections.

The matrix gradients are in :mod:`companion.foundations.matrix_calculus`.

Each function is a small, readable version of one identity on the sheet; the tests check it
against its ``torch.linalg`` / ``torch.nn.functional`` / ``torch.autograd`` twin (or a naive
loop where PyTorch has none). Vectors are 1-D tensors ``(d,)`` (or ``(..., d)`` where a
docstring says so), matrices are 2-D ``(m, n)``, and every input must be a floating-point
tensor; a bad shape or dtype raises a ``ValueError`` / ``TypeError`` that names what was
expected and what came.

=====================================  ====================================================
vector spaces                          :func:`is_linearly_independent`,
                                       :func:`coordinates_in_basis`,
                                       :func:`column_space_basis`, :func:`null_space_basis`
products as linear maps                :func:`matvec_by_columns`, :func:`matvec_by_rows`,
                                       :func:`matmul_by_outer_products`
rank and the SVD                       :func:`numerical_rank`, :func:`low_rank_approximation`
norms                                  :func:`vector_norm`, :func:`frobenius_norm`,
                                       :func:`spectral_norm`, :func:`unit_ball_boundary`
inner products and projections         :func:`project_onto`, :func:`projection_matrix`,
                                       :func:`cosine_similarity`
eigenvalues (the picture)              :func:`transform_unit_circle`
=====================================  ====================================================

Longer than the ~300 lines a module may take: one cheat-sheet's identities, each a short
function, in the order of the sheet.
"""

from __future__ import annotations

import math

import torch

from companion.checks import (
    check_floating,
    check_int,
    check_matrix,
    check_ndim,
    check_number,
    check_same_dtype,
    check_same_shape,
    check_shape,
    check_vector,
)

__all__ = [
    "column_space_basis",
    "coordinates_in_basis",
    "cosine_similarity",
    "frobenius_norm",
    "is_linearly_independent",
    "low_rank_approximation",
    "matmul_by_outer_products",
    "matvec_by_columns",
    "matvec_by_rows",
    "null_space_basis",
    "numerical_rank",
    "project_onto",
    "projection_matrix",
    "spectral_norm",
    "transform_unit_circle",
    "unit_ball_boundary",
    "vector_norm",
]


def _check_p(p: float) -> float:
    """``p`` of a p-norm: a number > 0, or ``math.inf``."""
    if not isinstance(p, bool) and p == math.inf:
        return math.inf
    return check_number("p", p, low=0, low_open=True)


def _rank_from_singular_values(s: torch.Tensor, shape: tuple[int, int], tol: float | None) -> int:
    if tol is None:
        largest = s.max().item() if s.numel() else 0.0
        tol = largest * max(shape) * torch.finfo(s.dtype).eps
    else:
        tol = check_number("tol", tol, low=0)
    return int((s > tol).sum().item())


# ----------------------------------------------------------------------------- vector spaces
def numerical_rank(A: torch.Tensor, *, tol: float | None = None) -> int:
    """The number of singular values of ``A`` (shape ``(m, n)``) above ``tol``.

    ``rank(A) = #{i : σ_i > tol}``; by default ``tol = σ_max · max(m, n) · eps(dtype)``, the
    threshold ``torch.linalg.matrix_rank`` uses, so rounding noise is not counted.
    """
    A = check_matrix("A", A, "(m, n)")
    return _rank_from_singular_values(torch.linalg.svdvals(A), tuple(A.shape), tol)


def is_linearly_independent(vectors: torch.Tensor, *, tol: float | None = None) -> bool:
    """Whether the ``k`` columns of ``vectors`` (shape ``(d, k)``) are linearly independent.

    ``c_1 v_1 + … + c_k v_k = 0`` only for ``c = 0``  ⇔  ``rank([v_1 … v_k]) = k``.
    """
    vectors = check_ndim(
        "vectors", check_floating("vectors", vectors), 2, "(d, k), one vector per column"
    )
    return numerical_rank(vectors, tol=tol) == vectors.shape[1]


def coordinates_in_basis(basis: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The coordinates ``c`` (shape ``(d,)``) of ``v`` in a basis: ``basis @ c = v``.

    ``basis`` is ``(d, d)``, one basis vector per column; ``v`` is ``(d,)``.

    Raises:
        ValueError: if ``basis`` is not square or its columns are not independent.
    """
    basis = check_matrix("basis", basis, "(m, n)")
    v = check_vector("v", v)
    check_same_dtype("v", v, "basis", basis)
    d = basis.shape[0]
    check_shape("basis", basis, (d, d), "(square, to be a basis of R^d)")
    check_shape("v", v, (d,), f"to match basis {tuple(basis.shape)}")
    rank = numerical_rank(basis)
    if rank < d:
        raise ValueError(f"the columns of basis must be independent (rank {d}), got rank {rank}")
    return torch.linalg.solve(basis, v)


def column_space_basis(A: torch.Tensor, *, tol: float | None = None) -> torch.Tensor:
    """An orthonormal basis of the column space of ``A`` (``(m, n)``), as columns ``(m, r)``.

    From the SVD ``A = U Σ Vᵀ``: the first ``r = rank(A)`` columns of ``U``.
    """
    A = check_matrix("A", A, "(m, n)")
    U, s, _ = torch.linalg.svd(A, full_matrices=False)
    r = _rank_from_singular_values(s, tuple(A.shape), tol)
    return U[:, :r]


def null_space_basis(A: torch.Tensor, *, tol: float | None = None) -> torch.Tensor:
    """An orthonormal basis of ``{x : A x = 0}`` for ``A`` ``(m, n)``, as columns ``(n, n - r)``.

    From the full SVD ``A = U Σ Vᵀ``: the last ``n - r`` rows of ``Vᵀ``. Its width is the
    nullity, so ``rank(A) + nullity(A) = n`` (rank–nullity).
    """
    A = check_matrix("A", A, "(m, n)")
    _, s, Vh = torch.linalg.svd(A, full_matrices=True)
    r = _rank_from_singular_values(s, tuple(A.shape), tol)
    return Vh[r:].mT  # (n, n - r)


# ---------------------------------------------------------------- products as linear maps
def _matvec_inputs(A: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    A = check_matrix("A", A, "(m, n)")
    x = check_vector("x", x)
    check_same_dtype("x", x, "A", A)
    check_shape("x", x, (A.shape[1],), f"to match A {tuple(A.shape)}")
    return A, x


def matvec_by_columns(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A x`` as a combination of the columns of ``A``: ``Σ_j x_j A[:, j]`` (shape ``(m,)``)."""
    A, x = _matvec_inputs(A, x)
    out = torch.zeros(A.shape[0], dtype=A.dtype, device=A.device)
    for j in range(A.shape[1]):
        out = out + x[j] * A[:, j]
    return out


def matvec_by_rows(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A x`` as dot products of the rows of ``A`` with ``x``: ``(A x)_i = A[i, :] · x``."""
    A, x = _matvec_inputs(A, x)
    return torch.stack([torch.dot(A[i], x) for i in range(A.shape[0])])


def matmul_by_outer_products(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``A B`` for ``(m, k) @ (k, n)`` as a sum of ``k`` rank-one matrices.

    ``A B = Σ_l A[:, l] B[l, :]ᵀ`` (column ``l`` of ``A`` times row ``l`` of ``B``).
    """
    A = check_matrix("A", A, "(m, n)")
    B = check_matrix("B", B, "(m, n)")
    check_same_dtype("B", B, "A", A)
    check_shape("B", B, (A.shape[1], B.shape[1]), f"(rows to match A {tuple(A.shape)})")
    out = torch.zeros(A.shape[0], B.shape[1], dtype=A.dtype, device=A.device)
    for col, row in zip(A.mT, B, strict=True):
        out = out + torch.outer(col, row)  # (m, n), rank one
    return out


# ------------------------------------------------------------------------- rank and the SVD
def low_rank_approximation(A: torch.Tensor, k: int) -> torch.Tensor:
    """The best rank-``k`` approximation of ``A`` (``(m, n)``): the truncated SVD.

    ``A_k = Σ_{i ≤ k} σ_i u_i v_iᵀ``. Eckart–Young: no rank-``k`` matrix is closer, and
    ``‖A − A_k‖_2 = σ_{k+1}``, ``‖A − A_k‖_F = sqrt(σ_{k+1}² + … + σ_r²)``.

    Raises:
        ValueError: if ``k`` is outside ``[0, min(m, n)]``.
    """
    A = check_matrix("A", A, "(m, n)")
    k = check_int("k", k, low=0, high=min(A.shape))
    U, s, Vh = torch.linalg.svd(A, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vh[:k]  # (m, k) (k,) (k, n) -> (m, n)


# ------------------------------------------------------------------------------------ norms
def vector_norm(x: torch.Tensor, p: float = 2.0, *, dim: int = -1) -> torch.Tensor:
    """The ``p``-norm along ``dim``: ``‖x‖_p = (Σ_i |x_i|^p)^{1/p}``; ``max_i |x_i|`` at ``p=inf``.

    For ``0 < p < 1`` the formula gives a quasi-norm (its unit ball is not convex). Computed
    as ``m · ‖x / m‖_p`` with ``m = max_i |x_i|`` so that large ``p`` does not overflow.
    Shape: ``x`` ``(..., d, ...)`` -> the shape of ``x`` without ``dim``.
    """
    x = check_floating("x", x)
    p = _check_p(p)
    if x.ndim == 0:
        raise ValueError("x must have at least 1 dimension, got a 0-D tensor")
    magnitude = x.abs()
    largest = magnitude.amax(dim=dim, keepdim=True)
    if math.isinf(p):
        return largest.squeeze(dim)
    scale = torch.where(largest > 0, largest, torch.ones_like(largest))
    return ((magnitude / scale) ** p).sum(dim=dim) ** (1.0 / p) * scale.squeeze(dim)


def frobenius_norm(A: torch.Tensor) -> torch.Tensor:
    """``‖A‖_F = sqrt(Σ_ij A_ij²) = sqrt(Σ_i σ_i²)`` for ``A`` ``(m, n)``; a 0-D tensor."""
    A = check_matrix("A", A, "(m, n)")
    return torch.sqrt((A * A).sum())


def spectral_norm(A: torch.Tensor) -> torch.Tensor:
    """``‖A‖_2 = max_{‖x‖_2 = 1} ‖A x‖_2 = σ_max(A)`` for ``A`` ``(m, n)``; a 0-D tensor."""
    A = check_matrix("A", A, "(m, n)")
    return torch.linalg.svdvals(A).max()


def unit_ball_boundary(
    p: float, n_points: int = 256, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """``n_points`` points ``(n_points, 2)`` on the unit sphere ``{x ∈ R² : ‖x‖_p = 1}``.

    Each direction ``(cos θ, sin θ)``, ``θ`` evenly spaced in ``[0, 2π)``, is divided by its
    own ``p``-norm.
    """
    p = _check_p(p)
    n_points = check_int("n_points", n_points, low=3)
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype}")
    theta = torch.arange(n_points, dtype=dtype) * (2 * math.pi / n_points)
    directions = torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)  # (n_points, 2)
    return directions / vector_norm(directions, p).unsqueeze(1)


# ------------------------------------------------------------ inner products and projections
def project_onto(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The orthogonal projection of ``v`` onto the line through ``u`` (both ``(d,)``).

    ``proj_u(v) = (⟨v, u⟩ / ⟨u, u⟩) u``; the residual ``v − proj_u(v)`` is orthogonal to ``u``.

    Raises:
        ValueError: if ``u`` is the zero vector (it spans no line).
    """
    v = check_vector("v", v)
    u = check_vector("u", u)
    check_same_dtype("u", u, "v", v)
    check_shape("u", u, tuple(v.shape), "to match v")
    uu = torch.dot(u, u)
    if uu == 0:
        raise ValueError("u must be a nonzero vector to span a line, got the zero vector")
    return (torch.dot(v, u) / uu) * u


def projection_matrix(A: torch.Tensor, *, tol: float | None = None) -> torch.Tensor:
    """The ``(m, m)`` matrix ``P`` that projects orthogonally onto the column space of ``A``.

    ``P = Q Qᵀ`` with ``Q`` an orthonormal basis of the columns (:func:`column_space_basis`);
    it equals ``A (AᵀA)⁻¹ Aᵀ`` when the columns are independent. ``P² = P`` and ``Pᵀ = P``.
    """
    Q = column_space_basis(A, tol=tol)  # (m, r)
    return Q @ Q.mT


def cosine_similarity(
    x: torch.Tensor, y: torch.Tensor, *, dim: int = -1, eps: float = 1e-8
) -> torch.Tensor:
    """``cos(x, y) = ⟨x, y⟩ / (‖x‖ ‖y‖)`` along ``dim``, in ``[-1, 1]``.

    Like ``torch.nn.functional.cosine_similarity``, each norm is clamped to at least
    ``eps`` so a zero vector gives 0 instead of a division by zero. ``x`` and ``y`` have the
    same shape ``(..., d, ...)``; the result drops ``dim``.
    """
    x = check_floating("x", x)
    y = check_floating("y", y)
    check_same_dtype("y", y, "x", x)
    check_same_shape("y", y, "x", x)
    check_number("eps", eps, low=0, low_open=True)
    x_norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp_min(eps)
    y_norm = torch.linalg.vector_norm(y, dim=dim, keepdim=True).clamp_min(eps)
    return ((x / x_norm) * (y / y_norm)).sum(dim=dim)


# ----------------------------------------------------------------- eigenvalues: the picture
def transform_unit_circle(
    A: torch.Tensor, n_points: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points ``x`` on the unit circle ``(n_points, 2)`` and their images ``A x`` ``(n_points, 2)``.

    ``A`` is ``(2, 2)``. A linear map sends the circle to an ellipse whose semi-axes are the
    singular values of ``A``; for a symmetric ``A`` the axes point along its eigenvectors.
    """
    A = check_matrix("A", A, "(m, n)")
    check_shape("A", A, (2, 2), "(a map of the plane)")
    circle = unit_ball_boundary(2.0, n_points, dtype=A.dtype).to(A.device)  # (n_points, 2)
    return circle, circle @ A.mT  # row i: A @ circle[i]
