"""fxsnn: E:I-balanced spiking neural networks, from surrogate-gradient training to bit-exact FPGA cores.

The public API::

    from fxsnn import load_model, load_dataset, encode_dataset, simulate

    model = load_model("runs/quickstart/model.fxsnn")
    ds = load_dataset("digits", "test")
    result = simulate(model.network, encode_dataset(ds, model.encoder, model.network.num_steps))

docs/architecture.md shows which module owns which step.
"""

__version__ = "0.1.0"

from .datasets import Dataset, encode_dataset, load_dataset  # noqa: E402
from .emulator import SimResult, Trace, simulate  # noqa: E402
from .encode import EventBatch, latency_encode  # noqa: E402
from .errors import FxsnnError, UsageError  # noqa: E402
from .model import Model, ModelFileError, load_model, save_model  # noqa: E402
from .network import (  # noqa: E402
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
