"""Training: the loop and the recipes that use it.

==================  =====================================================================
:mod:`.loop`        ``fit``, ``predict``, ``accuracy`` and the ``History`` of a run
:mod:`.recipes`     how a chapter trains its model (``train_on_digits``)
==================  =====================================================================
"""

from companion.train import loop, recipes

__all__ = ["loop", "recipes"]
