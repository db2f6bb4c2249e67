"""Payload layouts from ``manifest.json``, stimulus packing and capture parsing for the harness.

Everything here is vectorised numpy: the harness (:mod:`fxsnn.sim.wrapper`) moves data through files, and
Python touches each word once per chunk, never once per clock cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fxsnn.encode import EventBatch
from fxsnn.errors import FxsnnError

from .wrapper import Field, HarnessPorts

__all__ = [
    "CaptureError",
    "harness_ports",
    "stimulus_words",
    "write_stimulus",
    "read_hex_columns",
]


class CaptureError(FxsnnError):
    """A capture file from the simulator is malformed (unknown X/Z bits, truncated lines)."""


def _port(manifest: dict, name: str) -> dict | None:
    ports = manifest.get("ports")
    if isinstance(ports, dict):
        return ports.get(name)
    if isinstance(ports, list):
        for port in ports:
            if port.get("name") == name:
                return port
    return None


def _fields(manifest: dict, name: str) -> tuple[int, list[Field]]:
    """``(payload_width, fields)`` of stream port ``name``; array fields become ``name0 .. nameN``."""
    port = _port(manifest, name)
    if port is None:
        raise FxsnnError(f"manifest.json has no port {name!r}; regenerate the core with fxsnn hdl generate")
    payload = port.get("payload", port)
    fields = []
    for entry in payload["fields"]:
        f = Field(
            str(entry["name"]), int(entry["offset"]), int(entry["width"]), bool(entry.get("signed", False))
        )
        count = entry.get("count")
        if count:  # an array of `count` elements of `element_width` bits each
            width = int(entry.get("element_width", f.width // int(count)))
            fields += [
                Field(f"{f.name}{k}", f.offset + k * width, width, f.signed) for k in range(int(count))
            ]
        else:
            fields.append(f)
    width = int(payload.get("width", max(f.offset + f.width for f in fields)))
    return width, fields


def harness_ports(manifest: dict) -> tuple[HarnessPorts, dict]:
    """The harness description and a name -> Field map per stream, from ``manifest``."""
    ew, events = _fields(manifest, "events")
    rw, results = _fields(manifest, "results")
    by_name = {"events": {f.name: f for f in events}, "results": {f.name: f for f in results}}
    for need in ("index", "end_of_step", "end_of_sample"):
        if need not in by_name["events"]:
            raise FxsnnError(f"manifest.json: events payload lacks field {need!r}")
    k = int(manifest["network"]["sizes"][-1])
    scores = [f for f in results if f.name.startswith("scores")]
    if len(scores) != k:
        raise FxsnnError(f"manifest.json: results payload has {len(scores)} scores, expected {k}")
    results_fields = (by_name["results"]["prediction"], *scores)
    trace_width, trace_fields = None, ()
    if _port(manifest, "trace") is not None:
        trace_width, fields = _fields(manifest, "trace")
        by_name["trace"] = {f.name: f for f in fields}
        trace_fields = tuple(by_name["trace"][n] for n in ("layer", "neuron", "spike", "current", "membrane"))
    ports = HarnessPorts(
        events_width=ew,
        end_of_sample_bit=by_name["events"]["end_of_sample"].offset,
        results_width=rw,
        results_fields=results_fields,
        trace_width=trace_width,
        trace_fields=trace_fields,
    )
    return ports, by_name


def stimulus_words(events: EventBatch, event_fields: dict) -> tuple[np.ndarray, np.ndarray]:
    """The ``events`` stream beats of every sample, packed into payload words.

    Per sample and step: one beat per input spike (``end_of_step = 0``), then the end-of-step beat, whose
    ``end_of_sample`` is 1 on the sample's last step. Returns ``(words uint64, offsets int64)`` with sample
    ``b`` owning ``words[offsets[b]:offsets[b+1]]``.
    """
    n, steps_per_sample = events.n_samples, events.num_steps
    idx_f, eos_f, eoS_f = event_fields["index"], event_fields["end_of_step"], event_fields["end_of_sample"]
    counts = np.diff(events.offsets)
    sample_of_event = np.repeat(np.arange(n, dtype=np.int64), counts)
    ev_key = (sample_of_event * steps_per_sample + events.steps) * 2  # spikes first within a step
    marker_sample = np.repeat(np.arange(n, dtype=np.int64), steps_per_sample)
    marker_step = np.tile(np.arange(steps_per_sample, dtype=np.int64), n)
    mk_key = (marker_sample * steps_per_sample + marker_step) * 2 + 1
    ev_word = events.indices.astype(np.uint64) << np.uint64(idx_f.offset)
    last = (marker_step == steps_per_sample - 1).astype(np.uint64)
    mk_word = (np.uint64(1) << np.uint64(eos_f.offset)) | (last << np.uint64(eoS_f.offset))
    keys = np.concatenate([ev_key, mk_key])
    words = np.concatenate([ev_word, mk_word])
    order = np.argsort(keys, kind="stable")  # events are already sorted by index within a step
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts + steps_per_sample, out=offsets[1:])
    return words[order], offsets


def write_stimulus(path: Path, words: np.ndarray, width: int) -> None:
    """Write ``words`` as fixed-width hex lines for ``$readmemh`` (atomically)."""
    digits = -(-width // 4)
    text = "\n".join(f"{int(w):0{digits}x}" for w in words.tolist()) + "\n" if words.size else ""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def read_hex_columns(path: Path, fields: list[Field]) -> list[np.ndarray]:
    """Parse a capture file of fixed-width hex columns (one per field, space-separated) into int64 arrays.

    Signed fields are sign-extended from their width. Raises :class:`CaptureError` on X/Z digits or a
    malformed line, naming the file, the line and the field.
    """
    data = np.fromfile(path, dtype=np.uint8)
    digits = [f.hex_digits for f in fields]
    line_len = sum(digits) + len(fields)  # separators and the newline
    if data.size % line_len:
        raise CaptureError(f"{path}: {data.size} bytes is not a whole number of {line_len}-byte lines")
    rows = data.reshape(-1, line_len)
    columns, start = [], 0
    for f, nd in zip(fields, digits, strict=True):
        chars = rows[:, start : start + nd]
        nibbles = _HEX[chars]
        bad = nibbles == 255
        if bad.any():
            line = int(np.flatnonzero(bad.any(axis=1))[0])
            text = bytes(rows[line]).decode("ascii", "replace").strip()
            raise CaptureError(
                f"{path}: line {line + 1} field {f.name!r} is not plain hex (X/Z bits?): {text!r}"
            )
        value = np.zeros(rows.shape[0], dtype=np.uint64)
        for k in range(nd):
            value = (value << np.uint64(4)) | nibbles[:, k].astype(np.uint64)
        if f.width < 64:
            value &= np.uint64((1 << f.width) - 1)
        value = value.astype(np.int64)
        if f.signed and f.width < 64:
            value = np.where(value >= (1 << (f.width - 1)), value - (1 << f.width), value)
        columns.append(value)
        start += nd + 1
    return columns
