"""The HDL generator: an Amaranth spiking core, bit-exact with docs/fixed-point.md (import: ``fxsnn.hdl``)."""

from .core import SpikingCore
from .cycles import cycle_model
from .datapath import NeuronDatapath
from .generate import generate

__all__ = ["SpikingCore", "NeuronDatapath", "generate", "cycle_model"]
