"""Hidden-layer activity of a network on a set of samples: population firing rates and Van Rossum distances.

One emulator pass per chunk of samples gives both (the bit-exact integer network, the same arithmetic as
training and the hardware): the spike counts for :func:`fxsnn.analysis.population_rates_hz` and the spike
trains for :func:`fxsnn.analysis.van_rossum_matrix`. Every sample counts; the distance matrix is the mean over
all samples, grouped into E-E, E-I and I-I pairs by :func:`fxsnn.analysis.group_pair_distances`.
"""

from __future__ import annotations

import numpy as np

from fxsnn.analysis import VAN_ROSSUM_METRICS, group_pair_distances, population_rates_hz, van_rossum_matrix
from fxsnn.emulator import simulate
from fxsnn.encode import EventBatch
from fxsnn.errors import UsageError
from fxsnn.network import Network

__all__ = ["layer_activity", "DEFAULT_SAMPLES", "TRACE_CHUNK"]

#: Training samples the activity is measured on unless told otherwise.
DEFAULT_SAMPLES = 1000
#: Samples per emulator pass: bounds the trace's memory (about 17 bytes per sample, step and neuron).
TRACE_CHUNK = 250


def layer_activity(
    net: Network, events: EventBatch, *, layer: int = 0, metric: str = "discrete", tau: float = 1.0
) -> dict:
    """Firing rates and grouped Van Rossum distances of hidden layer ``layer`` over all samples of ``events``.

    Parameters
    ----------
    net : Network
    events : EventBatch
        The samples (all of them are used).
    layer : int
        Hidden layer index (0: the first hidden layer, the paper's).
    metric : str
        ``"discrete"`` (the paper's formula) or ``"continuous"`` (:func:`fxsnn.analysis.van_rossum_matrix`).
    tau : float
        Van Rossum kernel time constant, in steps.

    Returns
    -------
    dict
        ``{"samples": n, "layer": layer, "metric": metric, "tau_steps": tau, "rates_hz": {"all", "E", "I"},
        "vrd": {"E-E": {...}, "E-I": {...}, "I-I": {...}}}``.
    """
    if metric not in VAN_ROSSUM_METRICS:
        raise UsageError(f"metric must be one of {', '.join(VAN_ROSSUM_METRICS)}, not {metric!r}")
    hidden = net.hidden
    if not 0 <= layer < len(hidden):
        raise UsageError(f"layer {layer} does not exist: the network has {len(hidden)} hidden layer(s)")
    n = events.n_samples
    if n == 0:
        raise UsageError("no samples: activity needs at least one sample")
    types = hidden[layer].types
    distance_sum = np.zeros((types.size, types.size))
    counts = []
    for lo in range(0, n, TRACE_CHUNK):
        part = events.select(np.arange(lo, min(n, lo + TRACE_CHUNK)))
        result = simulate(net, part, trace="spikes")
        spikes = result.trace.spikes[layer]
        distance_sum += van_rossum_matrix(spikes, tau, metric) * spikes.shape[0]
        counts.append(result.spike_counts[layer])
    return {
        "samples": n,
        "layer": layer,
        "metric": metric,
        "tau_steps": float(tau),
        "rates_hz": population_rates_hz(np.concatenate(counts), types, net.num_steps),
        "vrd": group_pair_distances(distance_sum / n, types),
    }
