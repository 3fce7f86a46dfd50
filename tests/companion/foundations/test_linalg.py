"""companion.foundations.linalg: each function against torch.linalg, autograd or a naive loop."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from companion.foundations import linalg, matrix_calculus

DTYPES = [torch.float32, torch.float64]
SHAPES = [(3, 3), (5, 3), (3, 6), (8, 8)]


def tols(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-11}
    )


def randn(*shape: int, dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def random_of_rank(m: int, n: int, r: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """An (m, n) matrix of rank r: the product of (m, r) and (r, n) Gaussian factors."""
    return randn(m, r, dtype=dtype, seed=seed) @ randn(r, n, dtype=dtype, seed=seed + 1)


# ------------------------------------------------------------------------------- vector spaces
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_numerical_rank_matches_torch(dtype: torch.dtype, shape: tuple[int, int]) -> None:
    m, n = shape
    for r in range(min(m, n) + 1):
        A = random_of_rank(m, n, r, dtype, seed=r)
        assert linalg.numerical_rank(A) == r == int(torch.linalg.matrix_rank(A))


@pytest.mark.parametrize("dtype", DTYPES)
def test_numerical_rank_with_tol_matches_torch(dtype: torch.dtype) -> None:
    A = random_of_rank(6, 5, 2, dtype) + 1e-3 * randn(6, 5, dtype=dtype, seed=7)
    assert linalg.numerical_rank(A) == int(torch.linalg.matrix_rank(A)) == 5
    for tol in (1e-1, 1e-2, 1.0):
        expected = int(torch.linalg.matrix_rank(A, atol=tol, rtol=0.0))
        assert linalg.numerical_rank(A, tol=tol) == expected
    assert linalg.numerical_rank(A, tol=1e-1) == 2


def test_numerical_rank_rejects_a_negative_tol() -> None:
    with pytest.raises(ValueError, match=r"tol must be a finite number >= 0, got -1"):
        linalg.numerical_rank(torch.eye(3), tol=-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_is_linearly_independent(dtype: torch.dtype) -> None:
    V = randn(4, 3, dtype=dtype)
    assert linalg.is_linearly_independent(V)
    dependent = torch.cat([V, V[:, :1] - 2 * V[:, 1:2]], dim=1)  # 4th = v1 - 2 v2
    assert not linalg.is_linearly_independent(dependent)
    assert not linalg.is_linearly_independent(randn(3, 4, dtype=dtype))  # 4 vectors in R^3


def test_is_linearly_independent_names_the_layout() -> None:
    with pytest.raises(ValueError, match=r"vectors must be 2-D \(d, k\), one vector per column"):
        linalg.is_linearly_independent(torch.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, 3, 6])
def test_coordinates_in_basis_matches_numpy(dtype: torch.dtype, d: int) -> None:
    basis, v = randn(d, d, dtype=dtype, seed=d), randn(d, dtype=dtype, seed=d + 10)
    c = linalg.coordinates_in_basis(basis, v)
    expected = np.linalg.solve(basis.double().numpy(), v.double().numpy())
    torch.testing.assert_close(c, torch.from_numpy(expected).to(dtype), **tols(dtype))
    torch.testing.assert_close(basis @ c, v, **tols(dtype))


def test_coordinates_in_basis_errors() -> None:
    with pytest.raises(
        ValueError,
        match=r"basis must have shape \(3, 3\) \(square, to be a basis of R\^d\), got \(3, 2\)",
    ):
        linalg.coordinates_in_basis(torch.ones(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match=r"v must have shape \(3,\) to match basis"):
        linalg.coordinates_in_basis(torch.eye(3), torch.ones(4))
    singular = torch.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(ValueError, match=r"must be independent \(rank 2\), got rank 1"):
        linalg.coordinates_in_basis(singular, torch.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "r"), [((5, 4), 2), ((3, 6), 3), ((4, 4), 4), ((4, 4), 0)])
def test_column_and_null_space_bases(dtype: torch.dtype, shape: tuple[int, int], r: int) -> None:
    m, n = shape
    A = random_of_rank(m, n, r, dtype)
    Q, N = linalg.column_space_basis(A), linalg.null_space_basis(A)
    assert Q.shape == (m, r)
    assert N.shape == (n, n - r)  # rank-nullity: r + (n - r) = n
    torch.testing.assert_close(Q.mT @ Q, torch.eye(r, dtype=dtype), **tols(dtype))
    torch.testing.assert_close(N.mT @ N, torch.eye(n - r, dtype=dtype), **tols(dtype))
    scale = max(1.0, float(torch.linalg.matrix_norm(A, 2)))
    torch.testing.assert_close(A @ N, torch.zeros(m, n - r, dtype=dtype), atol=1e-5 * scale, rtol=0)
    # Same subspaces as scipy's (the bases may differ by a rotation, the projectors may not).
    A64, rcond = A.double().numpy(), torch.finfo(dtype).eps * max(m, n)  # torch's default tol
    for ours, theirs in (
        (Q, scipy.linalg.orth(A64, rcond=rcond)),
        (N, scipy.linalg.null_space(A64, rcond=rcond)),
    ):
        theirs = torch.from_numpy(theirs).to(dtype)
        torch.testing.assert_close(ours @ ours.mT, theirs @ theirs.mT, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------- products as linear maps
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_matvec_views_match_matmul(dtype: torch.dtype, shape: tuple[int, int]) -> None:
    A, x = randn(*shape, dtype=dtype), randn(shape[1], dtype=dtype, seed=1)
    torch.testing.assert_close(linalg.matvec_by_columns(A, x), A @ x, **tols(dtype))
    torch.testing.assert_close(linalg.matvec_by_rows(A, x), A @ x, **tols(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("m", "k", "n"), [(2, 3, 4), (5, 1, 5), (4, 4, 2)])
def test_matmul_by_outer_products(dtype: torch.dtype, m: int, k: int, n: int) -> None:
    A, B = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype, seed=1)
    torch.testing.assert_close(linalg.matmul_by_outer_products(A, B), A @ B, **tols(dtype))


def test_product_shape_errors() -> None:
    with pytest.raises(
        ValueError, match=r"x must have shape \(3,\) to match A \(2, 3\), got \(2,\)"
    ):
        linalg.matvec_by_columns(torch.ones(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match=r"x must be 1-D \(d,\), got shape \(3, 1\)"):
        linalg.matvec_by_rows(torch.ones(2, 3), torch.ones(3, 1))
    with pytest.raises(
        ValueError, match=r"B must have shape \(3, 2\) \(rows to match A \(2, 3\)\), got \(2, 2\)"
    ):
        linalg.matmul_by_outer_products(torch.ones(2, 3), torch.ones(2, 2))


def test_type_errors_name_what_came() -> None:
    with pytest.raises(
        TypeError, match=r"A must be a floating-point tensor, got dtype torch.int64"
    ):
        linalg.numerical_rank(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"A must be a torch.Tensor, got list"):
        linalg.spectral_norm([[1.0, 0.0], [0.0, 1.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"A must be 2-D \(m, n\), got shape \(2, 2, 2\)"):
        linalg.frobenius_norm(torch.ones(2, 2, 2))
    with pytest.raises(
        TypeError, match=r"x must have the dtype of A \(torch.float32\), got torch.float64"
    ):
        linalg.matvec_by_columns(torch.ones(2, 2), torch.ones(2, dtype=torch.float64))


# ----------------------------------------------------------------------------- rank and the SVD
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_low_rank_approximation_eckart_young(dtype: torch.dtype, shape: tuple[int, int]) -> None:
    A = randn(*shape, dtype=dtype)
    s = torch.linalg.svdvals(A)
    for k in range(min(shape) + 1):
        A_k = linalg.low_rank_approximation(A, k)
        assert A_k.shape == A.shape
        assert int(torch.linalg.matrix_rank(A_k)) == k
        tail = s[k:]
        spectral_error = tail[0] if k < len(s) else torch.zeros((), dtype=dtype)
        torch.testing.assert_close(
            torch.linalg.matrix_norm(A - A_k, 2), spectral_error, **tols(dtype)
        )
        frobenius_error = torch.sqrt((tail**2).sum())
        torch.testing.assert_close(
            torch.linalg.matrix_norm(A - A_k), frobenius_error, **tols(dtype)
        )
    torch.testing.assert_close(linalg.low_rank_approximation(A, min(shape)), A, **tols(dtype))


def test_low_rank_approximation_matches_naive_sum() -> None:
    A = randn(5, 4)
    U, s, Vh = torch.linalg.svd(A, full_matrices=False)
    naive = sum(s[i] * torch.outer(U[:, i], Vh[i]) for i in range(2))
    torch.testing.assert_close(linalg.low_rank_approximation(A, 2), naive)


def test_low_rank_approximation_errors() -> None:
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 3\], got 4"):
        linalg.low_rank_approximation(torch.ones(3, 5), 4)
    with pytest.raises(ValueError, match=r"k must be an int in \[0, 3\], got -1"):
        linalg.low_rank_approximation(torch.ones(3, 5), -1)
    with pytest.raises(TypeError, match=r"k must be an int, got float"):
        linalg.low_rank_approximation(torch.ones(3, 5), 1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- norms
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3, 10, math.inf])
@pytest.mark.parametrize(("shape", "dim"), [((7,), -1), ((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1)])
def test_vector_norm_matches_torch(
    dtype: torch.dtype, p: float, shape: tuple[int, ...], dim: int
) -> None:
    x = randn(*shape, dtype=dtype)
    expected = torch.linalg.vector_norm(x, ord=p, dim=dim)
    torch.testing.assert_close(linalg.vector_norm(x, p, dim=dim), expected, **tols(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_vector_norm_large_p_and_zero_vector(dtype: torch.dtype) -> None:
    x = torch.tensor([3e5, -4e5], dtype=dtype)  # |x|^8 overflows float32 without rescaling
    expected = torch.linalg.vector_norm(x.double(), 8).to(dtype)  # (torch's float32 gives inf)
    torch.testing.assert_close(linalg.vector_norm(x, 8), expected)
    zero = torch.zeros(3, dtype=dtype)
    assert linalg.vector_norm(zero, 2).item() == 0.0


def test_vector_norm_errors() -> None:
    with pytest.raises(ValueError, match=r"p must be a finite number > 0, got 0"):
        linalg.vector_norm(torch.ones(3), 0)
    with pytest.raises(ValueError, match=r"p must be a finite number > 0, got -2"):
        linalg.vector_norm(torch.ones(3), -2)
    with pytest.raises(TypeError, match=r"p must be a number, got str"):
        linalg.vector_norm(torch.ones(3), "fro")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must have at least 1 dimension, got a 0-D tensor"):
        linalg.vector_norm(torch.tensor(1.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_matrix_norms_match_torch(dtype: torch.dtype, shape: tuple[int, int]) -> None:
    A = randn(*shape, dtype=dtype)
    torch.testing.assert_close(linalg.frobenius_norm(A), torch.linalg.matrix_norm(A), **tols(dtype))
    torch.testing.assert_close(
        linalg.spectral_norm(A), torch.linalg.matrix_norm(A, ord=2), **tols(dtype)
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [0.5, 1, 2, 4, math.inf])
def test_unit_ball_boundary_has_unit_norm(dtype: torch.dtype, p: float) -> None:
    points = linalg.unit_ball_boundary(p, 64, dtype=dtype)
    assert points.shape == (64, 2)
    assert points.dtype == dtype
    norms = torch.linalg.vector_norm(points, ord=p, dim=1)
    torch.testing.assert_close(norms, torch.ones(64, dtype=dtype), **tols(dtype))


def test_unit_ball_boundary_errors() -> None:
    with pytest.raises(ValueError, match=r"n_points must be an int >= 3, got 2"):
        linalg.unit_ball_boundary(2.0, 2)
    with pytest.raises(TypeError, match=r"dtype must be a floating-point dtype, got torch.int32"):
        linalg.unit_ball_boundary(2.0, dtype=torch.int32)


# --------------------------------------------------------------- inner products and projections
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, 5, 16])
def test_project_onto_matches_naive_loop(dtype: torch.dtype, d: int) -> None:
    v, u = randn(d, dtype=dtype), randn(d, dtype=dtype, seed=1)
    vu = sum(float(v[i]) * float(u[i]) for i in range(d))
    uu = sum(float(u[i]) ** 2 for i in range(d))
    expected = torch.tensor([vu / uu * float(u[i]) for i in range(d)], dtype=dtype)
    projection = linalg.project_onto(v, u)
    torch.testing.assert_close(projection, expected, **tols(dtype))
    residual = v - projection
    assert abs(float(residual @ u)) < 1e-4 * float(v.norm() * u.norm())
    P = linalg.projection_matrix(u[:, None])  # the same line, as a column space
    torch.testing.assert_close(P @ v, projection, **tols(dtype))


def test_project_onto_errors() -> None:
    with pytest.raises(ValueError, match=r"u must be a nonzero vector to span a line"):
        linalg.project_onto(torch.ones(3), torch.zeros(3))
    with pytest.raises(ValueError, match=r"u must have shape \(3,\) to match v, got \(2,\)"):
        linalg.project_onto(torch.ones(3), torch.ones(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "r"), [((5, 2), 2), ((6, 3), 3), ((6, 4), 2), ((3, 3), 3)])
def test_projection_matrix(dtype: torch.dtype, shape: tuple[int, int], r: int) -> None:
    A = random_of_rank(*shape, r, dtype)
    P = linalg.projection_matrix(A)
    torch.testing.assert_close(P, A @ torch.linalg.pinv(A), rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(P @ P, P, **tols(dtype))  # idempotent
    torch.testing.assert_close(P, P.mT, **tols(dtype))  # symmetric
    torch.testing.assert_close(P @ A, A, rtol=1e-4, atol=1e-4)  # leaves the columns fixed
    if r == shape[1]:  # independent columns: the normal-equations formula
        normal = A @ torch.linalg.solve(A.mT @ A, A.mT)
        torch.testing.assert_close(P, normal, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "dim"), [((5,), -1), ((4, 8), -1), ((4, 8), 0), ((2, 3, 4), 1)])
def test_cosine_similarity_matches_torch(
    dtype: torch.dtype, shape: tuple[int, ...], dim: int
) -> None:
    x, y = randn(*shape, dtype=dtype), randn(*shape, dtype=dtype, seed=1)
    expected = F.cosine_similarity(x, y, dim=dim)
    torch.testing.assert_close(linalg.cosine_similarity(x, y, dim=dim), expected, **tols(dtype))
    torch.testing.assert_close(
        linalg.cosine_similarity(x, 3 * x, dim=dim), torch.ones_like(expected), **tols(dtype)
    )


def test_cosine_similarity_of_a_zero_vector_is_zero_like_torch() -> None:
    x, zero = torch.ones(4), torch.zeros(4)
    assert linalg.cosine_similarity(x, zero).item() == F.cosine_similarity(x, zero, dim=0).item()
    assert linalg.cosine_similarity(x, zero).item() == 0.0


def test_cosine_similarity_errors() -> None:
    with pytest.raises(ValueError, match=r"y must have the shape of x \(2, 3\), got \(3,\)"):
        linalg.cosine_similarity(torch.ones(2, 3), torch.ones(3))
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got 0"):
        linalg.cosine_similarity(torch.ones(3), torch.ones(3), eps=0)


# ------------------------------------------------------------------ eigenvalues: the picture
@pytest.mark.parametrize("dtype", DTYPES)
def test_transform_unit_circle(dtype: torch.dtype) -> None:
    A = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=dtype)  # eigenvalues 1 and 3
    circle, image = linalg.transform_unit_circle(A, 400)
    assert circle.shape == image.shape == (400, 2)
    naive = torch.stack([A @ circle[i] for i in range(len(circle))])
    torch.testing.assert_close(image, naive, **tols(dtype))
    radii = image.norm(dim=1)  # the ellipse's semi-axes are |λ| = 1 and 3 (symmetric A)
    assert abs(radii.max().item() - 3.0) < 1e-3
    assert abs(radii.min().item() - 1.0) < 1e-3


def test_transform_unit_circle_needs_a_2x2_matrix() -> None:
    with pytest.raises(ValueError, match=r"A must have shape \(2, 2\) \(a map of the plane\)"):
        linalg.transform_unit_circle(torch.eye(3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_stay_on_the_input_device_and_dtype(dtype: torch.dtype) -> None:
    A, x = randn(3, 3, dtype=dtype), randn(3, dtype=dtype, seed=1)
    for out in (
        linalg.matvec_by_columns(A, x),
        linalg.matmul_by_outer_products(A, A),
        linalg.low_rank_approximation(A, 1),
        linalg.projection_matrix(A),
        linalg.transform_unit_circle(A[:2, :2])[1],
        matrix_calculus.grad_least_squares(A, x, x),
    ):
        assert out.dtype == dtype
        assert out.device == A.device
