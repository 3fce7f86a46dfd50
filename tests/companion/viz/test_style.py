"""companion.viz.style: the helpers draw what they are given and check their input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from companion.viz.style import heatmap, show_images, to_numpy, use_course_style


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_use_course_style_sets_small_dpi() -> None:
    use_course_style(90)
    assert matplotlib.rcParams["figure.dpi"] == 90


def test_use_course_style_rejects_extreme_dpi() -> None:
    with pytest.raises(ValueError, match=r"dpi must be an int in \[50, 200\], got 300"):
        use_course_style(300)


def test_to_numpy_detaches_tensors() -> None:
    t = torch.ones(2, requires_grad=True)
    assert isinstance(to_numpy(t * 2), np.ndarray)


def test_heatmap_draws_the_matrix_with_values() -> None:
    m = torch.tensor([[0.1, 0.9], [0.5, 0.5]])
    ax = heatmap(m, row_labels=["a", "b"], col_labels=["c", "d"], annotate=True)
    np.testing.assert_allclose(ax.images[0].get_array(), m.numpy())
    assert [t.get_text() for t in ax.texts] == ["0.10", "0.90", "0.50", "0.50"]


def test_heatmap_rejects_non_matrix() -> None:
    with pytest.raises(ValueError, match=r"matrix must be 2-D, got shape \(3,\)"):
        heatmap(np.zeros(3))


def test_heatmap_rejects_wrong_label_count() -> None:
    with pytest.raises(ValueError, match="row_labels must have 2 entries, got 3"):
        heatmap(np.zeros((2, 2)), row_labels=["a", "b", "c"])


def test_show_images_grid() -> None:
    axes = show_images(torch.zeros(5, 1, 8, 8), titles=list("abcde"), ncols=3)
    assert axes.shape == (2, 3)
    assert axes[0, 0].get_title() == "a"


def test_show_images_rejects_wrong_shape() -> None:
    with pytest.raises(
        ValueError, match=r"images must be \(N, H, W\) or \(N, 1, H, W\), got shape"
    ):
        show_images(np.zeros((2, 3, 8, 8)))


def test_show_images_rejects_wrong_title_count() -> None:
    with pytest.raises(ValueError, match="titles must have 2 entries, got 1"):
        show_images(np.zeros((2, 8, 8)), titles=["a"])


def test_show_images_rejects_bad_ncols() -> None:
    with pytest.raises(ValueError, match="ncols must be an int >= 1, got 0"):
        show_images(np.zeros((2, 8, 8)), ncols=0)


def test_show_images_frame_draws_a_border_without_ticks() -> None:
    axes = show_images(torch.zeros(3, 1, 8, 8), ncols=2, frame=True)
    framed, blank = axes[0, 0], axes[1, 1]
    assert framed.axison
    assert blank.axison is False
    assert framed.get_xticks().size == 0
    assert framed.get_yticks().size == 0
    assert all(spine.get_visible() for spine in framed.spines.values())


def test_show_images_rejects_a_non_bool_frame() -> None:
    with pytest.raises(TypeError, match="frame must be a bool, got int"):
        show_images(np.zeros((2, 8, 8)), frame=1)
