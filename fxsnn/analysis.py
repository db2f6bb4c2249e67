"""Analyses of hidden-layer activity from the paper: population firing rates and Van Rossum distances.

Both work on what the emulator produces: spike counts (:attr:`fxsnn.emulator.SimResult.spike_counts`) and
spike trains (:attr:`fxsnn.emulator.Trace.spikes`, from ``simulate(..., trace=True)``). Every firing rate
fxsnn reports (commands, training history, calibration) is computed here, by :func:`rate_hz`.

- Firing rate (docs/paper.md): hidden spikes per sample / hidden neurons / (T * dt), in Hz; here also per
  population, excitatory (E) and inhibitory (I). One step is 1 ms unless ``dt_ms`` says otherwise.
- Van Rossum distance (docs/paper.md): each neuron's 0/1 spike train over the T steps is filtered with the
  causal kernel ``exp(-t / tau)`` (t in steps, ``tau = 1`` step in the paper), ``f(t) = sum_{t' <= t} s(t')
  exp(-(t - t') / tau)``; for neurons n, m, ``D = sqrt(sum_t (f_n(t) - f_m(t))**2 / tau)``. Computed per
  sample for all pairs of hidden neurons, averaged over samples, then grouped into E-E, E-I and I-I pairs,
  each summarised by its mean, (population) standard deviation and median over pairs.
- Continuous-time Van Rossum distance (``metric="continuous"``, van Rossum 2001 with the normalisation of
  elephant's ``van_rossum_distance``): a spike at step t is a spike at time t, each train is convolved with
  ``exp(-t / tau)`` in continuous time and ``D**2 = (2 / tau) * integral_0^inf (f_n - f_m)**2 dt`` (so one
  spike against none gives D = 1). Between two steps the filtered difference ``g`` only decays, so the
  integral over ``[t, t + 1)`` is ``g(t)**2 * tau / 2 * (1 - exp(-2 / tau))``, and after the last step it
  is ``g(T - 1)**2 * tau / 2``: ``D**2 = (1 - exp(-2 / tau)) * sum_{t < T-1} g(t)**2 + g(T - 1)**2``, with
  the discrete formula's ``g``. Both metrics are one kernel with different step weights.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._jit import JIT
from .network import EXCITATORY, INHIBITORY

__all__ = [
    "DT_MS",
    "PAIR_GROUPS",
    "VAN_ROSSUM_METRICS",
    "rate_hz",
    "firing_rates_hz",
    "population_rates_hz",
    "population_rates_from_totals",
    "hidden_layer_rates",
    "van_rossum_matrix",
    "van_rossum_groups",
    "group_pair_distances",
]

#: Milliseconds per step: the paper's dt = 1 ms.
DT_MS = 1.0

#: Group names of :func:`van_rossum_groups`, in the order the paper reports them.
PAIR_GROUPS = ("E-E", "E-I", "I-I")

#: ``metric`` values of :func:`van_rossum_matrix`: the paper's discrete sum (default) and continuous time.
VAN_ROSSUM_METRICS = ("discrete", "continuous")

#: Samples per work item of the Van Rossum kernel. Fixed, so the floating-point summation order (and hence
#: the result, to the last bit) does not depend on the number of threads.
_VR_CHUNK = 32


def _check_types(types, n_neurons: int) -> np.ndarray:
    types = np.asarray(types)
    if types.shape != (n_neurons,):
        raise ValueError(f"types must have one entry per neuron, shape ({n_neurons},), got {types.shape}")
    if types.size and not np.isin(types, (EXCITATORY, INHIBITORY)).all():
        raise ValueError("types must be 0 (excitatory) or 1 (inhibitory)")
    return types


def _check_timing(num_steps, dt_ms) -> float:
    """Seconds per sample, ``num_steps * dt_ms / 1000``, after checking both."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, not {num_steps!r}")
    if not dt_ms > 0:
        raise ValueError(f"dt_ms must be > 0, not {dt_ms!r}")
    return num_steps * dt_ms / 1000.0


def _check_counts(spike_counts_layer) -> np.ndarray:
    counts = np.asarray(spike_counts_layer)
    if counts.ndim != 2:
        raise ValueError(f"spike counts must be (samples, neurons), got shape {counts.shape}")
    if counts.shape[0] == 0:
        raise ValueError("no samples: firing rates need at least one sample")
    return counts


def rate_hz(total_spikes, n_neurons: int, n_samples: int, num_steps: int, dt_ms: float = DT_MS) -> float:
    """The mean firing rate in Hz of ``n_neurons`` that spiked ``total_spikes`` times in ``n_samples`` samples
    of ``num_steps`` steps: ``total / (n_neurons * n_samples * T * dt)`` (docs/paper.md)."""
    seconds = _check_timing(num_steps, dt_ms)
    return float(total_spikes) / (n_neurons * n_samples * seconds)


def firing_rates_hz(spike_counts_layer, num_steps: int, dt_ms: float = DT_MS) -> np.ndarray:
    """Mean firing rate of each neuron in Hz: spikes per sample / (T * dt).

    Parameters
    ----------
    spike_counts_layer : ndarray, shape (n_samples, H)
        One hidden layer's spike counts (``SimResult.spike_counts[l]``).
    num_steps : int
        Steps per sample, T.
    dt_ms : float
        Step length in milliseconds (the paper's dt = 1 ms).

    Returns
    -------
    ndarray of float64, shape (H,)
        Per-neuron rate averaged over samples. Its mean over neurons is the paper's firing rate.
    """
    counts = _check_counts(spike_counts_layer)
    totals = counts.sum(axis=0, dtype=np.int64)
    return np.array([rate_hz(total, 1, counts.shape[0], num_steps, dt_ms) for total in totals])


def population_rates_from_totals(totals, n_samples: int, types, num_steps: int, dt_ms: float = DT_MS) -> dict:
    """:func:`population_rates_hz` from each neuron's spike total over ``n_samples`` samples."""
    totals = np.asarray(totals)
    types = _check_types(types, totals.shape[0])
    _check_timing(num_steps, dt_ms)

    def rate(mask):
        n = int(mask.sum())
        return rate_hz(int(totals[mask].sum()), n, n_samples, num_steps, dt_ms) if n else None

    return {
        "all": rate(np.ones(totals.shape[0], dtype=bool)),
        "E": rate(types == EXCITATORY),
        "I": rate(types == INHIBITORY),
    }


def population_rates_hz(spike_counts_layer, types, num_steps: int, dt_ms: float = DT_MS) -> dict:
    """Firing rate of the whole layer and of its E and I populations, in Hz (docs/paper.md).

    Parameters
    ----------
    spike_counts_layer : array_like of int, shape (n_samples, H)
        Spikes per sample and neuron (``SimResult.spike_counts[l]``).
    types : array_like, shape (H,)
        Neuron types of the layer (0 = E, 1 = I; ``net.layers[l].types``).
    num_steps : int
        Steps per sample, T.
    dt_ms : float
        Step length in ms (the paper's 1 ms).

    Returns
    -------
    dict
        ``{"all": rate, "E": rate, "I": rate}``: spikes per sample / neurons of the population / (T * dt).
        A population with no neurons gets ``None``.
    """
    counts = _check_counts(spike_counts_layer)
    types = _check_types(types, counts.shape[1])
    totals = counts.sum(axis=0, dtype=np.int64)
    return population_rates_from_totals(totals, counts.shape[0], types, num_steps, dt_ms)


def hidden_layer_rates(net, spike_counts, dt_ms: float = DT_MS) -> list[dict]:
    """Per hidden layer of ``net`` (a :class:`~fxsnn.network.Network`), its E and I counts and the rates of
    :func:`population_rates_hz`: ``{"layer", "n_excitatory", "n_inhibitory", "excitatory_hz",
    "inhibitory_hz", "all_hz"}``. ``spike_counts`` is :attr:`fxsnn.emulator.SimResult.spike_counts`."""
    rows = []
    for k, (layer, counts) in enumerate(zip(net.hidden, spike_counts, strict=True)):
        rates = population_rates_hz(counts, layer.types, net.num_steps, dt_ms=dt_ms)
        rows.append(
            {
                "layer": k,
                "n_excitatory": int(np.count_nonzero(layer.types == EXCITATORY)),
                "n_inhibitory": int(np.count_nonzero(layer.types == INHIBITORY)),
                "excitatory_hz": rates["E"],
                "inhibitory_hz": rates["I"],
                "all_hz": rates["all"],
            }
        )
    return rows


@numba.njit(**JIT)
def _filter_trains(spikes_sample, decay, filtered):
    """``filtered[t, n] = decay * filtered[t-1, n] + spikes[t, n]``: causal exp(-t/tau) kernel, lag 0 = 1."""
    n_steps, n_neurons = spikes_sample.shape
    for n in range(n_neurons):
        filtered[0, n] = np.float64(spikes_sample[0, n])
    for t in range(1, n_steps):
        for n in range(n_neurons):
            filtered[t, n] = decay * filtered[t - 1, n] + np.float64(spikes_sample[t, n])


@numba.njit(parallel=True, **JIT)
def _van_rossum_kernel(spikes, tau, step_weights, chunk_sums):
    """Per chunk of samples, the sum over its samples of ``D[n, m] = sqrt(sum_t w[t] g(t)**2)`` (upper
    triangle n < m), ``g = f_n - f_m`` the filtered difference and ``w = step_weights``.

    Before the earlier of the two neurons' first spikes both filtered trains are exactly 0, so the sum starts
    there (adding ``w * 0.0`` would not change a bit), and against a silent neuron it is the other neuron's
    own sum, computed once per sample in the same order: the same bits as the plain double loop, faster."""
    n_samples, n_steps, n_neurons = spikes.shape
    n_chunks = chunk_sums.shape[0]
    decay = np.exp(-1.0 / tau)
    for chunk in numba.prange(n_chunks):
        filtered = np.empty((n_steps, n_neurons), dtype=np.float64)
        column = np.empty((n_neurons, n_steps), dtype=np.float64)
        first = np.empty(n_neurons, dtype=np.int64)
        own = np.empty(n_neurons, dtype=np.float64)
        acc = chunk_sums[chunk]
        for b in range(chunk * _VR_CHUNK, min(n_samples, (chunk + 1) * _VR_CHUNK)):
            _filter_trains(spikes[b], decay, filtered)
            for n in range(n_neurons):
                first[n] = n_steps
                for t in range(n_steps):
                    column[n, t] = filtered[t, n]
                    if first[n] == n_steps and spikes[b, t, n] != 0:
                        first[n] = t
                total = 0.0
                for t in range(first[n], n_steps):
                    total += step_weights[t] * (column[n, t] * column[n, t])
                own[n] = np.sqrt(total)
            for n in range(n_neurons):
                for m in range(n + 1, n_neurons):
                    if first[m] == n_steps:
                        acc[n, m] += own[n]
                    elif first[n] == n_steps:
                        acc[n, m] += own[m]
                    else:
                        total = 0.0
                        for t in range(min(first[n], first[m]), n_steps):
                            diff = column[n, t] - column[m, t]
                            total += step_weights[t] * (diff * diff)
                        acc[n, m] += np.sqrt(total)


def _step_weights(n_steps: int, tau: float, metric: str) -> np.ndarray:
    """Weight of each step's squared filtered difference in ``D**2`` (the module docstring derives both)."""
    if metric == "discrete":
        return np.full(n_steps, 1.0 / tau)
    weights = np.full(n_steps, -math.expm1(-2.0 / tau))
    if n_steps:
        weights[-1] = 1.0  # the tail after the last step, integrated to infinity
    return weights


def van_rossum_matrix(spikes, tau: float = 1.0, metric: str = "discrete") -> np.ndarray:
    """Van Rossum distance of every pair of neurons, averaged over samples (docs/paper.md).

    Parameters
    ----------
    spikes : array_like of 0/1, shape (n_samples, T, H)
        Spike trains of one hidden layer (``Trace.spikes[l]``).
    tau : float
        Kernel time constant in steps (the paper's 1).
    metric : str
        ``"discrete"``: the paper's ``sqrt(sum_t (f_n(t) - f_m(t))**2 / tau)``; ``"continuous"``: the
        continuous-time distance with elephant's normalisation (module docstring), spike times in steps.

    Returns
    -------
    ndarray of float64, shape (H, H)
        Symmetric, zero diagonal: entry ``[n, m]`` is the mean over samples of the pair's distance.
    """
    spikes = np.asarray(spikes)
    if spikes.ndim != 3:
        raise ValueError(f"spike trains must be (samples, steps, neurons), got shape {spikes.shape}")
    if spikes.shape[0] == 0:
        raise ValueError("no samples: Van Rossum distances need at least one sample")
    if spikes.size and (spikes.min() < 0 or spikes.max() > 1):
        raise ValueError("spike trains must hold 0 and 1 only")
    if not (isinstance(tau, (int, float, np.floating, np.integer)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be a positive number of steps, not {tau!r}")
    if metric not in VAN_ROSSUM_METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, VAN_ROSSUM_METRICS))}, not {metric!r}")
    spikes = np.ascontiguousarray(spikes, dtype=np.uint8)
    n_samples, n_steps, n_neurons = spikes.shape
    n_chunks = (n_samples + _VR_CHUNK - 1) // _VR_CHUNK
    chunk_sums = np.zeros((n_chunks, n_neurons, n_neurons), dtype=np.float64)
    _van_rossum_kernel(spikes, float(tau), _step_weights(n_steps, float(tau), metric), chunk_sums)
    upper = np.zeros((n_neurons, n_neurons), dtype=np.float64)
    for chunk in range(n_chunks):  # fixed order: the same bits on any number of threads
        upper += chunk_sums[chunk]
    upper /= n_samples
    return upper + upper.T


def van_rossum_groups(spikes, types, tau: float = 1.0, metric: str = "discrete") -> dict:
    """Sample-averaged Van Rossum distances grouped into E-E, E-I and I-I pairs (docs/paper.md).

    Parameters
    ----------
    spikes : array_like of 0/1, shape (n_samples, T, H)
        Spike trains of one hidden layer (``Trace.spikes[l]``).
    types : array_like, shape (H,)
        The layer's neuron types (0 = E, 1 = I).
    tau : float
        Kernel time constant in steps.
    metric : str
        ``"discrete"`` (the paper's) or ``"continuous"`` (:func:`van_rossum_matrix`).

    Returns
    -------
    dict
        :func:`group_pair_distances` of the distance matrix.
    """
    spikes = np.asarray(spikes)
    if spikes.ndim != 3:
        raise ValueError(f"spike trains must be (samples, steps, neurons), got shape {spikes.shape}")
    types = _check_types(types, spikes.shape[2])
    return group_pair_distances(van_rossum_matrix(spikes, tau, metric), types)


def group_pair_distances(distances, types) -> dict:
    """Summaries of a symmetric pair-distance matrix over E-E, E-I and I-I pairs.

    Parameters
    ----------
    distances : array_like of float, shape (H, H)
        Symmetric matrix (:func:`van_rossum_matrix`); only the upper triangle ``n < m`` is read.
    types : array_like, shape (H,)
        Neuron types (0 = E, 1 = I).

    Returns
    -------
    dict
        For each of ``"E-E"``, ``"E-I"``, ``"I-I"``: ``{"mean": float, "std": float, "median": float,
        "pairs": int}`` over the unordered pairs ``n < m`` of that kind (std with ``ddof=0``); the statistics
        are ``None`` when the group has no pair.
    """
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
        raise ValueError(f"distances must be a square (H, H) matrix, got shape {distances.shape}")
    types = _check_types(types, distances.shape[0])
    n, m = np.triu_indices(types.size, k=1)
    inhibitory = (types[n] == INHIBITORY).astype(int) + (types[m] == INHIBITORY).astype(int)
    out = {}
    for group, n_inhibitory in zip(PAIR_GROUPS, (0, 1, 2), strict=True):
        values = distances[n[inhibitory == n_inhibitory], m[inhibitory == n_inhibitory]]
        out[group] = {
            "mean": float(values.mean()) if values.size else None,
            "std": float(values.std()) if values.size else None,
            "median": float(np.median(values)) if values.size else None,
            "pairs": int(values.size),
        }
    return out
