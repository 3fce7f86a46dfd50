"""Data: the course's dataset, augmentations and batch samplers.

==================  =====================================================================
:mod:`.digits`      scikit-learn's bundled 8x8 digits as seeded, stratified tensor splits
:mod:`.augment`     shifts and placements on a canvas (``fit``'s ``transform``)
:mod:`.samplers`    class-balanced ``P x K`` batches for metric learning
==================  =====================================================================
"""

from companion.data import augment, digits, samplers

__all__ = ["augment", "digits", "samplers"]
