"""Surrogate-gradient training whose forward pass is the integer arithmetic of docs/fixed-point.md.

- :mod:`~fxsnn.training.config`: the run's settings (TOML file plus command-line overrides);
- :mod:`~fxsnn.training.data`: the encoded training and test sets;
- :mod:`~fxsnn.training.kernels`: the numba forward and backward kernels;
- :mod:`~fxsnn.training.trainer`: the run (initialisation, epochs, evaluation, checkpoints, model files).
"""

from .config import DEFAULT_WEIGHT_RANGE, TrainConfig, load_config
from .data import TrainingData, load_training_data
from .kernels import NUM_CHUNKS, SURROGATE_SCALE, Kernels, forward_network, network_rates_hz
from .trainer import Trainer, TrainingError, train

__all__ = [
    "DEFAULT_WEIGHT_RANGE",
    "NUM_CHUNKS",
    "SURROGATE_SCALE",
    "Kernels",
    "TrainConfig",
    "Trainer",
    "TrainingData",
    "TrainingError",
    "forward_network",
    "load_config",
    "load_training_data",
    "network_rates_hz",
    "train",
]
