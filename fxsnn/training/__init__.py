"""Surrogate-gradient training whose forward pass is the integer arithmetic of docs/fixed-point.md.

- :mod:`~fxsnn.training.config`: the run's settings (TOML file plus command-line overrides);
- :mod:`~fxsnn.training.data`: the encoded training and test sets;
- :mod:`~fxsnn.training.kernels`: the numba forward (the emulator's network step) and backward kernels;
- :mod:`~fxsnn.training.trainer`: the run (initialisation, epochs, evaluation, optimiser, model files);
- :mod:`~fxsnn.training.checkpoint`: the checkpoint and history files.
"""

from .checkpoint import TrainingError
from .config import DEFAULT_WEIGHT_RANGE, TrainConfig, load_config
from .data import TrainingData, load_training_data
from .kernels import NUM_CHUNKS, SURROGATE_SCALE, Kernels
from .trainer import Trainer, train

__all__ = [
    "DEFAULT_WEIGHT_RANGE",
    "NUM_CHUNKS",
    "SURROGATE_SCALE",
    "Kernels",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "TrainingError",
    "load_config",
    "load_training_data",
    "train",
]
