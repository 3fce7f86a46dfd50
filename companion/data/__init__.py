"""Data: the course's data sets, augmentations and batch samplers.

======================  =================================================================
:mod:`.digits`          scikit-learn's bundled 8x8 digits as seeded, stratified splits
:mod:`.fashion_mnist`   Fashion-MNIST's 28x28 clothes, read from its IDX files, no network
:mod:`.augment`         shifts, mirrors and placements (``fit``'s ``transform``)
:mod:`.canvas`          products shrunk and placed at random on a larger canvas
:mod:`.samplers`        class-balanced ``P x K`` batches for metric learning
:mod:`.views`           SimCLR's random views (crop, mirror, jitter), two per image
======================  =================================================================
"""

from companion.data import augment, canvas, digits, fashion_mnist, samplers, views

__all__ = ["augment", "canvas", "digits", "fashion_mnist", "samplers", "views"]
