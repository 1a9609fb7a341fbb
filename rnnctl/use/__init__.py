"""Using a trained model: the run folder's model loaded and checked (``trained``), and what the
commands ``rnnctl sample``, ``eval``, ``export`` and ``import`` do with it."""

from .trained import PARAMS, Trained, load_trained

__all__ = ["PARAMS", "Trained", "load_trained"]
