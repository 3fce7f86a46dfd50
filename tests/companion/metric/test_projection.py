"""companion.metric.projection: PCA fit on training features, against numpy's SVD and an
eigendecomposition of the covariance; the sign convention; uncorrelated projections by
decreasing variance; unit rows when normalised; one test per message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from companion.metric.projection import PCAProjection, fit_pca

DTYPES = [torch.float32, torch.float64]


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-9}


def make_features(n: int, width: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Features with well-separated variances along random directions (so the components
    are well defined), and a non-zero mean."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.linspace(3.0, 0.3, width, dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.randn(width, width, generator=g, dtype=torch.float64))
    z = torch.randn(n, width, generator=g, dtype=torch.float64) * scales
    return (z @ basis.T + torch.arange(width, dtype=torch.float64)).to(dtype)


def _signed(rows: np.ndarray) -> np.ndarray:
    """Each row flipped so that its first largest-magnitude entry is positive."""
    pick = np.abs(rows).argmax(axis=1)
    return rows * np.sign(rows[np.arange(len(rows)), pick])[:, None]


# --- against numpy -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "width", "dim"), [(50, 6, 3), (30, 8, 8), (5, 10, 4), (40, 3, 1)])
def test_fit_pca_matches_numpy_svd_and_covariance_eigenvectors(dtype, n, width, dim):
    x = make_features(n, width, dtype, seed=n + width)
    pca = fit_pca(x, dim)
    assert pca.mean.shape == (width,)
    assert pca.components.shape == (dim, width)
    assert pca.mean.dtype == pca.components.dtype == dtype
    assert pca.dim == dim
    xn = x.double().numpy()
    centred = xn - xn.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (n - 1))
    by_variance = eigenvectors[:, np.argsort(eigenvalues)[::-1]].T  # (F, F), rows
    torch.testing.assert_close(pca.mean.double(), torch.from_numpy(xn.mean(axis=0)), **_tol(dtype))
    for reference in (vt[:dim], by_variance[:dim]):
        torch.testing.assert_close(
            pca.components.double(), torch.from_numpy(_signed(reference).copy()), **_tol(dtype)
        )


def test_each_component_has_a_positive_largest_entry():
    x = make_features(40, 7, torch.float64, seed=1)
    for dim in (1, 4, 7):
        components = fit_pca(x, dim).components
        largest = components.gather(1, components.abs().argmax(dim=1, keepdim=True))
        assert (largest > 0).all()
    # the sign does not depend on the sign the SVD happened to give: -x has the same axes
    torch.testing.assert_close(fit_pca(-x, 4).components, fit_pca(x, 4).components)


def test_the_sign_convention_by_hand():
    # variance along (1, -2)/√5 only: the component is (-1, 2)/√5, its largest entry positive
    t = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], dtype=torch.float64)
    x = t[:, None] * torch.tensor([1.0, -2.0], dtype=torch.float64) + torch.tensor([3.0, 4.0])
    pca = fit_pca(x, 1)
    torch.testing.assert_close(pca.mean, torch.tensor([3.0, 4.0], dtype=torch.float64))
    expected = torch.tensor([[-1.0, 2.0]], dtype=torch.float64) / 5**0.5
    torch.testing.assert_close(pca.components, expected)
    torch.testing.assert_close(pca.project(x)[:, 0], -(5**0.5) * t)


# --- the projections ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_projections_are_uncorrelated_by_decreasing_variance(dtype):
    x = make_features(60, 6, dtype, seed=2)
    pca = fit_pca(x, 4)
    z = pca.project(x).double()  # (60, 4)
    assert z.shape == (60, 4)
    torch.testing.assert_close(z.mean(dim=0), torch.zeros(4, dtype=torch.float64), **_tol(dtype))
    covariance = z.T @ z / (len(z) - 1)
    variances = covariance.diagonal()
    torch.testing.assert_close(covariance, torch.diag(variances), **_tol(dtype))
    assert (variances[:-1] > variances[1:]).all()
    s = torch.linalg.svdvals(x.double() - x.double().mean(dim=0))
    torch.testing.assert_close(variances, s[:4] ** 2 / (len(x) - 1), **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_project_new_features_is_the_formula(dtype):
    train, test = make_features(30, 5, dtype, seed=3), make_features(7, 5, dtype, seed=4)
    pca = fit_pca(train, 2)
    expected = [
        [sum((row[f] - pca.mean[f]) * pca.components[k, f] for f in range(5)) for k in range(2)]
        for row in test
    ]
    torch.testing.assert_close(pca.project(test), torch.tensor(expected, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normalize_gives_unit_rows_in_the_same_directions(dtype):
    train, test = make_features(30, 5, dtype, seed=5), make_features(9, 5, dtype, seed=6)
    pca = fit_pca(train, 3)
    raw, unit = pca.project(test), pca.project(test, normalize=True)
    assert unit.dtype == dtype
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(9, dtype=dtype))
    torch.testing.assert_close(unit * raw.norm(dim=1, keepdim=True), raw)


def test_the_full_projection_keeps_distances():
    # dim = F: a rotation of the centred features, so pairwise distances do not change
    x = make_features(20, 4, torch.float64, seed=7)
    z = fit_pca(x, 4).project(x)
    torch.testing.assert_close(torch.cdist(z, z), torch.cdist(x, x))


def test_a_projection_is_frozen():
    pca = fit_pca(make_features(10, 3, torch.float64), 2)
    assert isinstance(pca, PCAProjection)
    with pytest.raises(AttributeError):
        pca.mean = torch.zeros(3)


# --- errors: one test per message --------------------------------------------------------

FEATURES = make_features(6, 4, torch.float32)


def test_fit_pca_rejects_a_non_tensor():
    with pytest.raises(TypeError, match="features must be a torch.Tensor, got list"):
        fit_pca([[0.0, 1.0]], 1)


def test_fit_pca_rejects_integer_features():
    with pytest.raises(TypeError, match="features must be a floating-point tensor, got dtype"):
        fit_pca(FEATURES.long(), 1)


def test_fit_pca_rejects_a_vector():
    with pytest.raises(ValueError, match=r"features must be 2-D \(N, F\), got shape \(4,\)"):
        fit_pca(FEATURES[0], 1)


def test_fit_pca_needs_two_rows():
    with pytest.raises(ValueError, match=r"features.shape\[0\] must be an int >= 2, got 1"):
        fit_pca(FEATURES[:1], 1)


def test_fit_pca_rejects_a_non_int_dim():
    with pytest.raises(TypeError, match="dim must be an int, got float"):
        fit_pca(FEATURES, 2.0)


def test_fit_pca_rejects_dim_above_the_width():
    with pytest.raises(ValueError, match=r"dim must be an int in \[1, 4\], got 5"):
        fit_pca(FEATURES, 5)


def test_fit_pca_rejects_dim_zero():
    with pytest.raises(ValueError, match=r"dim must be an int in \[1, 4\], got 0"):
        fit_pca(FEATURES, 0)


def test_fit_pca_rejects_dim_above_the_rows_less_one():
    with pytest.raises(ValueError, match=r"dim must be at most N − 1 = 2 \(the rank of 3 centred"):
        fit_pca(FEATURES[:3], 3)


def test_fit_pca_rejects_features_of_too_low_rank():
    flat = torch.zeros(6, 4)
    flat[:, 0] = torch.arange(6.0)  # one direction only
    with pytest.raises(
        ValueError, match="features must span dim = 2 directions once centred, got "
    ):
        fit_pca(flat, 2)
    with pytest.raises(ValueError, match="got rank 0"):
        fit_pca(torch.ones(6, 4), 1)


def test_project_rejects_another_width():
    with pytest.raises(
        ValueError, match=r"features must have shape \(2, 4\) \(N, F of the fit\), got \(2, 3\)"
    ):
        fit_pca(FEATURES, 2).project(torch.zeros(2, 3))


def test_project_rejects_another_dtype():
    with pytest.raises(
        TypeError, match=r"features must have the dtype of the fit \(torch.float32\), got"
    ):
        fit_pca(FEATURES, 2).project(FEATURES.double())


def test_project_rejects_a_vector():
    with pytest.raises(ValueError, match=r"features must be 2-D \(N, F\), got shape \(4,\)"):
        fit_pca(FEATURES, 2).project(FEATURES[0])


def test_project_rejects_a_non_bool_normalize():
    with pytest.raises(TypeError, match="normalize must be a bool, got int"):
        fit_pca(FEATURES, 2).project(FEATURES, normalize=1)
