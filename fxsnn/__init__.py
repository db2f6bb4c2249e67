"""fxsnn: E:I-balanced spiking neural networks, from surrogate-gradient training to bit-exact FPGA cores."""

from .encode import EventBatch, latency_encode
from .network import EXCITATORY, INHIBITORY, Layer, LayerParams, Network, ParameterError, neuron_types

__version__ = "0.1.0"

__all__ = [
    "EXCITATORY",
    "INHIBITORY",
    "EventBatch",
    "Layer",
    "LayerParams",
    "Network",
    "ParameterError",
    "latency_encode",
    "neuron_types",
    "__version__",
]
