"""fxsnn: E:I-balanced spiking neural networks, from surrogate-gradient training to bit-exact FPGA cores.

The public API::

    from fxsnn import load_model, load_dataset, encode_dataset, simulate

    model = load_model("runs/quickstart/model.fxsnn")
    ds = load_dataset("digits", "test")
    result = simulate(model.network, encode_dataset(ds, model.encoder, model.network.num_steps))

docs/architecture.md shows which module owns which step.
"""

from ._version import __version__
from .datasets import Dataset, encode_dataset, load_dataset
from .emulator import SimResult, Trace, simulate
from .encode import EventBatch, latency_encode
from .errors import FxsnnError, UsageError
from .model import Model, ModelFileError, load_model, save_model
from .network import (
    EXCITATORY,
    INHIBITORY,
    Layer,
    LayerParams,
    Network,
    ParameterError,
    neuron_types,
)

__all__ = [
    "EXCITATORY",
    "INHIBITORY",
    "Dataset",
    "EventBatch",
    "FxsnnError",
    "Layer",
    "LayerParams",
    "Model",
    "ModelFileError",
    "Network",
    "ParameterError",
    "SimResult",
    "Trace",
    "UsageError",
    "__version__",
    "encode_dataset",
    "latency_encode",
    "load_dataset",
    "load_model",
    "neuron_types",
    "save_model",
    "simulate",
]
