"""Visualisation: the figure style, pictures of the foundations, and probes of trained models.

==================  =====================================================================
:mod:`.style`       ``use_course_style``, ``heatmap``, ``show_images``
:mod:`.plots`       unit balls, linear maps, level sets, descent paths
:mod:`.probes`      attention maps, attention rollout, position similarity, PCA
==================  =====================================================================
"""

from companion.viz import plots, probes, style

__all__ = ["plots", "probes", "style"]
