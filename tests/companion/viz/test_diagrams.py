"""companion.viz.diagrams: the four figures draw offline, in the chapters' notation, legibly."""

from __future__ import annotations

import io

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import pytest

from companion.viz import diagrams
from companion.viz.style import use_course_style

# each diagram and the notation it must show
EXPECTED = {
    "draw_scaled_dot_product_attention": [
        r"$QK^\top$",
        r"\sqrt{d_k}",
        "Softmax",
        "$Q$",
        "$V$",
        "weights $A$",
        "$AV$",
    ],
    "draw_multi_head_attention": [r"$W_Q^h$", r"$W_O$", "Concat", r"d_k = D/H", r"$\times H$"],
    "draw_encoder_block": [
        "LayerNorm",
        "Multi-head attention",
        "GELU",
        "residual",
        r"$z_\ell$",
        r"n_\mathrm{blocks}",
    ],
    "draw_vit_pipeline": [
        "patches",
        "Linear $E$",
        r"E_{pos}",
        "cls",
        "Encoder",
        "class scores",
        r"$(C, h, w)$",
        r"n_\mathrm{blocks}",
    ],
}

# the notation page's letters, which a diagram must not use for something else: L is the
# sequence length (never the depth), H the number of heads (never an image's height), the
# model width is D (there is no E/H), and the attention weights are A (P is the patch size)
FORBIDDEN = {
    "draw_scaled_dot_product_attention": ["$P$", "$PV$"],
    "draw_multi_head_attention": ["E/H"],
    "draw_encoder_block": [r"\times L$", "$L$ blocks"],
    "draw_vit_pipeline": ["(C, H, W)", "$L$ blocks", "z_L"],
}


@pytest.fixture(autouse=True)
def _close_figures():
    use_course_style()
    yield
    plt.close("all")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts] + [ax.get_title()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagram_shows_the_chapters_notation(name):
    ax = getattr(diagrams, name)()
    texts = "\n".join(_texts(ax))
    for piece in EXPECTED[name]:
        assert piece in texts, f"{name} does not show {piece!r}"


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_diagram_keeps_the_notation_pages_letters(name):
    ax = getattr(diagrams, name)()
    texts = "\n".join(_texts(ax))
    for piece in FORBIDDEN[name]:
        assert piece not in texts, f"{name} shows {piece!r}, against the notation page"


def test_scores_are_labelled_after_the_scaling():
    ax = diagrams.draw_scaled_dot_product_attention()
    (scores,) = [t for t in ax.texts if t.get_text().startswith("scores $S$")]
    (scale,) = [t for t in ax.texts if "sqrt{d_k}" in t.get_text()]
    assert scores.get_position()[1] == scale.get_position()[1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagram_renders_small_and_legible(name):
    ax = getattr(diagrams, name)()
    fig = ax.figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    assert 5_000 < buffer.tell() < 120_000  # drawn, and small enough to store in a notebook
    width_px = fig.get_figwidth() * 80
    assert 300 <= width_px <= 800  # fits the site's text column
    assert min(t.get_fontsize() for t in ax.texts) >= 8
    # every label lies inside the figure
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    for t in ax.texts:
        box = t.get_window_extent(renderer)
        assert figure_box.x0 - 1 <= box.x0, t.get_text()
        assert box.x1 <= figure_box.x1 + 1, t.get_text()
        assert figure_box.y0 - 1 <= box.y0, t.get_text()
        assert box.y1 <= figure_box.y1 + 1, t.get_text()


def test_diagram_draws_on_a_given_axes():
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    assert diagrams.draw_scaled_dot_product_attention(axes[0]) is axes[0]
    assert diagrams.draw_multi_head_attention(axes[1], num_heads=2) is axes[1]
    assert len(fig.axes) == 2
