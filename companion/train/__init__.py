"""Training: the loop and the recipes that use it.

========================  ===============================================================
:mod:`.loop`              ``fit``, ``predict``, ``accuracy`` and the ``History`` of a run
:mod:`.recipes`           how a chapter trains its model (``train_on_digits``)
:mod:`.norm_placement`    pre-norm against post-norm on the digits, without warm-up
========================  ===============================================================
"""

from companion.train import loop, norm_placement, recipes

__all__ = ["loop", "norm_placement", "recipes"]
