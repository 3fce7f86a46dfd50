"""Training: the loop and the recipes that use it.

========================  ===============================================================
:mod:`.loop`              ``fit``, ``predict``, ``accuracy`` and the ``History`` of a run
:mod:`.recipes`           how a chapter trains its model (``train_on_digits``,
                          ``train_classifier``, ``train_embedding``) and with what settings
:mod:`.experiments`       the Fashion-MNIST retrieval runs of the triplet and capstone chapters
:mod:`.norm_placement`    pre-norm against post-norm on the digits, with or without warm-up
:mod:`.optim`             the update rules written out: SGD, momentum, Adam, AdamW, schedule
========================  ===============================================================
"""

from companion.train import experiments, loop, norm_placement, optim, recipes

__all__ = ["experiments", "loop", "norm_placement", "optim", "recipes"]
