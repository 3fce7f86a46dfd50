"""Visualisation: the figure style, pictures of the foundations, and probes of trained models.

==================  =====================================================================
:mod:`.style`       ``use_course_style``, ``heatmap``, ``show_images``
:mod:`.plots`       unit balls, linear maps, level sets, descent paths
:mod:`.probes`      attention maps, attention rollout, position similarity, PCA
:mod:`.diagrams`    attention, multi-head attention, the encoder block, the ViT pipeline
==================  =====================================================================
"""

from companion.viz import diagrams, plots, probes, style

__all__ = ["diagrams", "plots", "probes", "style"]
