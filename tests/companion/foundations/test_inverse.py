"""companion.foundations.inverse against torch.linalg, and the identities of the sheet's
inverse-and-determinant table."""

from __future__ import annotations

import math

import pytest
import torch

from companion.foundations import inverse

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-4, "rtol": 1e-4}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}


def _matrix(n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, n, generator=g, dtype=torch.float64) + 2 * torch.eye(n)).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_determinant_and_inverse_equal_torch_linalg(dtype, n):
    A = _matrix(n, n, dtype)
    torch.testing.assert_close(inverse.determinant(A), torch.linalg.det(A), **TOL[dtype])
    torch.testing.assert_close(inverse.inverse(A), torch.linalg.inv(A), **TOL[dtype])
    assert inverse.inverse(A).dtype == dtype


def test_determinant_needs_pivoting_and_counts_the_swaps():
    # a zero in the top-left corner: without a row swap the elimination divides by 0
    P = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    assert inverse.determinant(P) == -1.0
    A = torch.tensor([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [3.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(inverse.determinant(A), torch.linalg.det(A))
    torch.testing.assert_close(inverse.inverse(A) @ A, torch.eye(3, dtype=torch.float64))


def test_singular_matrices():
    S = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64)
    assert inverse.determinant(S) == 0
    with pytest.raises(ValueError, match="A must be invertible, got a singular matrix"):
        inverse.inverse(S)
    assert math.isinf(float(inverse.condition_number(S))) or inverse.condition_number(S) > 1e15


def test_determinant_identities():
    A, B = _matrix(4, 1, torch.float64), _matrix(4, 2, torch.float64)
    det = inverse.determinant
    torch.testing.assert_close(det(A @ B), det(A) * det(B))
    torch.testing.assert_close(det(A.T), det(A))
    torch.testing.assert_close(det(inverse.inverse(A)), 1 / det(A))
    torch.testing.assert_close(det(3 * A), 3**4 * det(A))
    torch.testing.assert_close(inverse.inverse(A @ B), inverse.inverse(B) @ inverse.inverse(A))


@pytest.mark.parametrize(
    "A",
    [
        [[2.0, 0.0], [0.0, 3.0]],
        [[1.0, 2.0], [0.0, 1.0]],
        [[0.0, -1.0], [1.0, 0.0]],
        [[1.0, 2.0], [3.0, 4.0]],
    ],
)
def test_the_image_of_the_unit_square_has_area_abs_det(A):
    A = torch.tensor(A, dtype=torch.float64)
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(inverse.polygon_area(square @ A.T), torch.linalg.det(A).abs())


def test_polygon_area_of_a_triangle_and_either_orientation():
    triangle = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    assert inverse.polygon_area(triangle) == 6.0
    assert inverse.polygon_area(triangle.flip(0)) == 6.0


@pytest.mark.parametrize("n", [1, 3, 8])
def test_random_orthogonal_matrices(n):
    Q = inverse.random_orthogonal(n, generator=torch.Generator().manual_seed(n))
    eye = torch.eye(n, dtype=torch.float64)
    torch.testing.assert_close(Q.T @ Q, eye)
    torch.testing.assert_close(Q @ Q.T, eye)
    torch.testing.assert_close(torch.linalg.det(Q).abs(), torch.tensor(1.0, dtype=torch.float64))
    x = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close((Q @ x).norm(), x.norm())
    assert inverse.random_orthogonal(3, dtype=torch.float32).dtype == torch.float32


def test_random_orthogonal_is_seeded():
    a = inverse.random_orthogonal(4, generator=torch.Generator().manual_seed(5))
    b = inverse.random_orthogonal(4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(4, 4), (6, 3)])
def test_condition_number_equals_torch_and_squares_for_the_normal_equations(shape):
    g = torch.Generator().manual_seed(3)
    A = torch.randn(*shape, generator=g, dtype=torch.float64)
    kappa = inverse.condition_number(A)
    torch.testing.assert_close(kappa, torch.linalg.cond(A))
    torch.testing.assert_close(inverse.condition_number(A.T @ A), kappa**2)
    Q = inverse.random_orthogonal(4, generator=g)
    torch.testing.assert_close(inverse.condition_number(Q), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: inverse.determinant(torch.ones(2, 3)),
            ValueError,
            r"A must have shape \(2, 2\) \(square\)",
        ),
        (
            lambda: inverse.inverse(torch.ones(2, 2, dtype=torch.int64)),
            TypeError,
            "A must be a floating-point tensor",
        ),
        (
            lambda: inverse.polygon_area(torch.ones(4, 3)),
            ValueError,
            r"vertices must have shape \(4, 2\)",
        ),
        (lambda: inverse.random_orthogonal(0), ValueError, "n must be an int >= 1"),
        (lambda: inverse.condition_number(torch.ones(3)), ValueError, r"A must be 2-D \(m, n\)"),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
