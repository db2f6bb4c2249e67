"""The cycle model of :class:`fxsnn.hdl.SpikingCore`: cycles per sample, exactly, without back-pressure.

A sample is counted from the cycle in which the core accepts its first event to the cycle in which the
host accepts its results beat, both included, with the host always offering the next event and always
ready for results and trace beats. Then, with ``G_l = ceil(N_l / P)`` the groups of layer ``l`` (``N_l``
neurons, ``P`` lanes), ``e_t`` the input events of step ``t`` and ``S_{l,t}`` the spikes of hidden layer
``l`` at step ``t``::

    cycles = sum over t of [ 1 + e_t * G_0                       (events; 1 = the end-of-step beat)
                             + sum over layers l of U_l            (update passes)
                             + sum over hidden l of (1 + S_{l,t} * G_{l+1}) ]   (spike propagation)
             + K + 1                                               (argmax over K classes, results beat)

    U_l = G_l            without the trace stream
    U_l = G_l + N_l      with it (one cycle per group to update, then one per neuron to emit its beat)

Because the model is linear, only the totals over the sample matter. The one-off clear of the accumulators
after reset (``max_l G_l`` cycles) is not part of any sample.
"""

from __future__ import annotations

import numpy as np

from fxsnn.network import Network

__all__ = ["cycle_model", "groups", "CYCLE_MODEL_FORMULA"]

CYCLE_MODEL_FORMULA = (
    "T*(1 + sum_l U_l + L) + E*G_0 + sum_{l<L} S_l*G_{l+1} + K + 1, "
    "G_l = ceil(N_l/P), U_l = G_l (+ N_l with trace), E = input events, S_l = spikes of hidden layer l, "
    "L = hidden layers, K = classes"
)


def groups(n: int, lanes: int) -> int:
    """Groups of ``lanes`` neurons needed for ``n`` neurons: ``ceil(n / lanes)``."""
    return -(-n // lanes)


def _total(value, name: str) -> int:
    array = np.asarray(value)
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer counts, not {value!r}")
    total = int(array.sum()) if array.size else 0
    if total < 0:
        raise ValueError(f"{name} must be non-negative, not {value!r}")
    return total


def cycle_model(network: Network, lanes: int, input_events_per_step, spikes_per_step, *,
                trace: bool = False) -> int:
    """Predicted clock cycles for one sample (see the module docstring for what is counted).

    Parameters
    ----------
    network : Network
    lanes : int
        P, the neurons updated per cycle.
    input_events_per_step : int or array of int
        Input events of the sample, per step (length T) or as a total.
    spikes_per_step : sequence
        One entry per hidden layer: its spikes per step (length T) or the total over the sample.
    trace : bool
        Whether the core was generated with (and drains) the trace stream.

    Returns
    -------
    int
    """
    if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
        raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
    hidden = len(network.layers) - 1
    if len(spikes_per_step) != hidden:
        raise ValueError(
            f"spikes_per_step needs one entry per hidden layer ({hidden}), got {len(spikes_per_step)}")
    sizes = [layer.n_out for layer in network.layers]
    g = [groups(n, lanes) for n in sizes]
    update = sum(g) + (sum(sizes) if trace else 0)
    events = _total(input_events_per_step, "input_events_per_step")
    cycles = network.num_steps * (1 + update + hidden) + events * g[0]
    for layer in range(hidden):
        cycles += _total(spikes_per_step[layer], f"spikes_per_step[{layer}]") * g[layer + 1]
    return cycles + network.n_outputs + 1
