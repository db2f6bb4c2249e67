"""The ``.fxsnn`` model file: one versioned file holding everything needed to run a trained network.

A model is an integer :class:`~fxsnn.network.Network` (weight magnitudes, neuron types, every layer's
:class:`~fxsnn.network.LayerParams`, ``num_steps``) plus what surrounds it: the input encoder, the data set it
was made for, the per-layer float scales of ``docs/fixed-point.md`` section 5, and provenance.

File format (version 1)
-----------------------
A zip archive (deflate) with exactly these members:

``header.json``
    UTF-8 JSON object::

        {"type": "fxsnn.model", "format_version": 1,
         "network": {"num_steps": T, "metadata": {...},
                     "layers": [{"params": {LayerParams fields}, "n_in": .., "n_out": ..,
                                 "n_excitatory": .., "n_inhibitory": ..,
                                 "weights": "layers/0/weights.npy", "types": "layers/0/types.npy"}, ...]},
         "encoder": {...}, "dataset": "digits" | ... | null, "scales": [sigma per layer] | null,
         "provenance": {...},
         "arrays": {member name: {"shape": [...], "dtype": "<u2", "sha256": hex of the member's bytes}},
         "header_sha256": hex}

    ``header_sha256`` is the SHA-256 of the header's canonical form: the object without that key, dumped
    with ``sort_keys=True, separators=(",", ":"), ensure_ascii=True``.
``layers/<k>/weights.npy``
    Weight magnitudes of layer ``k``, ``.npy`` format, dtype ``<u2``, shape ``(n_in, n_out)``.
``layers/<k>/types.npy``
    Neuron types of layer ``k``, dtype ``|u1``, shape ``(n_out,)``: 0 excitatory, 1 inhibitory.

Arrays are read with ``allow_pickle=False``. Loading checks the archive, the type tag, the version, every
checksum, every shape and dtype, and then rebuilds the network through its validating constructors, so the
weight ranges (vs ``weight_bits``), the Dale types, layer chaining and parameter ranges are checked exactly as
for a network built in code. Any problem raises :class:`ModelFileError` naming the file and the problem.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import io
import json
import math
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from zlib import error as zlib_error

import numpy as np

from ._files import atomic_write
from ._version import __version__
from .datasets.registry import DATASETS
from .encode import LATENCY_DEFAULTS, normalize_encoder
from .errors import FxsnnError
from .network import EXCITATORY, INHIBITORY, Layer, LayerParams, Network, ParameterError

__all__ = [
    "Model",
    "ModelFileError",
    "save_model",
    "load_model",
    "copy_model",
    "make_provenance",
    "validate_encoder",
    "FORMAT_VERSION",
    "MODEL_TYPE",
    "MODEL_SUFFIX",
    "DATASET_NAMES",
]

MODEL_TYPE = "fxsnn.model"
FORMAT_VERSION = 1
MODEL_SUFFIX = ".fxsnn"
HEADER_NAME = "header.json"
DATASET_NAMES = tuple(DATASETS)
WEIGHT_DTYPE = np.dtype("<u2")  # magnitudes are at most 16 bits (LayerParams.weight_bits <= 16)
TYPES_DTYPE = np.dtype("|u1")
#: A header larger than this is not one fxsnn wrote (guards against reading huge junk into memory).
MAX_HEADER_BYTES = 16 * 1024 * 1024
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same model gives the same bytes


class ModelFileError(FxsnnError):
    """A model file cannot be read or written: the message names the file and the problem."""


# --------------------------------------------------------------------------------------------- the model


def _float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, not {value!r}")
    return value


def validate_encoder(encoder) -> dict:
    """Check an encoder description and return it normalised, every parameter filled in as a float.

    The rules are :func:`fxsnn.encode.normalize_encoder`'s (written once, where the encoders live):
    ``{"kind": "latency", "tau": 20.0, "threshold": 0.2}`` (tau > 0, 0 < threshold < 1),
    ``{"kind": "rate", "max_rate": p}`` (spike probability per step at pixel value 1, 0 < p <= 1), or
    ``{"kind": "bins", "max_time": s}`` (SHD: recorded spikes binned over ``[0, s)`` seconds).

    Raises
    ------
    ParameterError
        Naming the bad key or value.
    """
    try:
        return normalize_encoder(encoder)
    except FxsnnError as exc:
        raise ParameterError(f"encoder: {exc}") from None


def _json_copy(name: str, value) -> dict:
    if not isinstance(value, dict):
        raise ParameterError(f"{name} must be a dict, not {type(value).__name__}")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be JSON-serialisable (no NaN/inf, str keys): {exc}") from None


def make_provenance(command: str | None = None, seed: int | None = None, config: dict | None = None,
                    training: dict | None = None, **extra) -> dict:
    """A provenance dict: fxsnn version, creation time (UTC ISO 8601), command line, seed, config, summary.

    ``command`` defaults to this process's command line. Extra keyword arguments are added as they are
    (they must be JSON-serialisable).
    """

    if command is None:
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else None
    return {
        "fxsnn_version": __version__,
        "created": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "command": command,
        "seed": seed,
        "config": config if config is not None else {},
        "training": training if training is not None else {},
        **extra,
    }


@dataclass(frozen=True, eq=False)
class Model:
    """An integer network with its encoder, data set, scales and provenance: what a ``.fxsnn`` file holds.

    Parameters
    ----------
    network : Network
        The integer network (weights, types, LayerParams per layer, num_steps).
    encoder : dict
        Input encoder, see :func:`validate_encoder`. Default: the paper's latency code
        (tau 20, threshold 0.2).
    dataset : str or None
        The data set the model is for: one of ``DATASET_NAMES``, or None.
    scales : tuple of float or None
        Per layer (hidden layers then readout), sigma of docs/fixed-point.md section 5: integer state units
        per float unit. None when the model has no float counterpart (e.g. built directly in integers).
    provenance : dict
        JSON-serialisable: fxsnn version, creation time, command, seed, config, training summary
        (see :func:`make_provenance`).
    """

    network: Network
    encoder: dict = field(default_factory=lambda: {"kind": "latency", **LATENCY_DEFAULTS})
    dataset: str | None = None
    scales: tuple | None = None
    provenance: dict = field(default_factory=make_provenance)

    def __post_init__(self):
        if not isinstance(self.network, Network):
            raise ParameterError(f"network must be a Network, not {type(self.network).__name__}")
        object.__setattr__(self, "encoder", validate_encoder(self.encoder))
        if self.dataset is not None and self.dataset not in DATASET_NAMES:
            raise ParameterError(f"dataset must be one of {DATASET_NAMES} or None, not {self.dataset!r}")
        if self.scales is not None:
            if isinstance(self.scales, (str, bytes)) or not hasattr(self.scales, "__len__"):
                raise ParameterError(f"scales must be a sequence of floats, not {self.scales!r}")
            scales = tuple(_float(f"scales[{k}]", s) for k, s in enumerate(self.scales))
            if len(scales) != len(self.network.layers):
                raise ParameterError(
                    f"scales has {len(scales)} entries but the network has {len(self.network.layers)} layers "
                    "(one sigma per hidden layer and one for the readout)"
                )
            for k, s in enumerate(scales):
                if s <= 0:
                    raise ParameterError(f"scales[{k}] must be > 0, not {s!r}")
            object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "provenance", _json_copy("provenance", self.provenance))
        _json_copy("network.metadata", self.network.metadata)


# ------------------------------------------------------------------------------------------------ writing


def _canonical(header: dict) -> bytes:
    body = {key: value for key, value in header.items() if key != "header_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _weights_name(k: int) -> str:
    return f"layers/{k}/weights.npy"


def _types_name(k: int) -> str:
    return f"layers/{k}/types.npy"


def _encode(model: Model) -> dict[str, bytes]:
    """All members of the archive, header last, as bytes."""
    net = model.network
    members: dict[str, bytes] = {}
    arrays: dict[str, dict] = {}
    layers = []
    for k, layer in enumerate(net.layers):
        for name, array in ((_weights_name(k), layer.weights.astype(WEIGHT_DTYPE)),
                            (_types_name(k), layer.types.astype(TYPES_DTYPE))):
            data = _npy_bytes(array)
            members[name] = data
            arrays[name] = {"shape": list(array.shape), "dtype": array.dtype.str,
                            "sha256": hashlib.sha256(data).hexdigest()}
        layers.append({
            "params": layer.params.to_dict(),
            "n_in": layer.n_in,
            "n_out": layer.n_out,
            "n_excitatory": int(np.count_nonzero(layer.types == EXCITATORY)),
            "n_inhibitory": int(np.count_nonzero(layer.types == INHIBITORY)),
            "weights": _weights_name(k),
            "types": _types_name(k),
        })
    header = {
        "type": MODEL_TYPE,
        "format_version": FORMAT_VERSION,
        "network": {"num_steps": net.num_steps, "metadata": net.metadata, "layers": layers},
        "encoder": model.encoder,
        "dataset": model.dataset,
        "scales": list(model.scales) if model.scales is not None else None,
        "provenance": model.provenance,
        "arrays": arrays,
    }
    header = json.loads(json.dumps(header, allow_nan=False))  # plain JSON types only (numpy ints -> int)
    header["header_sha256"] = hashlib.sha256(_canonical(header)).hexdigest()
    members[HEADER_NAME] = json.dumps(header, indent=1, sort_keys=True).encode() + b"\n"
    return members


def save_model(model: Model, path) -> Path:
    """Write ``model`` to ``path`` (which must end in ``.fxsnn``), atomically.

    The archive is written to a temporary file in the same directory and renamed over ``path`` only when
    complete, so a crash or error never leaves a half-written model behind.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ModelFileError
        Wrong suffix, missing directory, or the write failed.
    """
    if not isinstance(model, Model):
        raise ModelFileError(f"save_model needs a Model, not {type(model).__name__}")
    path = Path(path)
    if path.suffix != MODEL_SUFFIX:
        raise ModelFileError(f"model file name {str(path)!r} must end in {MODEL_SUFFIX!r}")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelFileError(f"cannot write model {str(path)!r}: directory {str(directory)!r} does not exist")
    members = _encode(model)
    try:
        with atomic_write(path, "wb", sync=True) as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name in [HEADER_NAME, *(n for n in members if n != HEADER_NAME)]:
                    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, members[name])
    except OSError as exc:
        raise ModelFileError(f"cannot write model {str(path)!r}: {exc.strerror or exc}") from exc
    return path


# ------------------------------------------------------------------------------------------------ reading


class _Reader:
    """Reads and checks one archive; every failure is a ModelFileError naming the file."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, problem: str) -> ModelFileError:
        return ModelFileError(f"model file {str(self.path)!r}: {problem}")

    def member(self, archive: zipfile.ZipFile, name: str, limit: int | None = None) -> bytes:
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise self.fail(
                f"member {name!r} is missing (the file is incomplete or not written by fxsnn)"
            ) from None
        if limit is not None and info.file_size > limit:
            raise self.fail(f"member {name!r} is {info.file_size} bytes, more than the {limit} allowed")
        try:
            return archive.read(info)
        except (zipfile.BadZipFile, zlib_error, EOFError, OSError) as exc:
            raise self.fail(
                f"member {name!r} is corrupted ({exc}); the file is damaged, write it again"
            ) from None

    def header(self, archive: zipfile.ZipFile) -> dict:
        raw = self.member(archive, HEADER_NAME, MAX_HEADER_BYTES)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self.fail(f"{HEADER_NAME} is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise self.fail(f"{HEADER_NAME} must hold a JSON object, not {type(header).__name__}")
        tag = header.get("type")
        if tag != MODEL_TYPE:
            raise self.fail(f"type tag is {tag!r}, expected {MODEL_TYPE!r}: this is not an fxsnn model")
        version = header.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail(f"format_version must be a positive integer, not {version!r}")
        if version > FORMAT_VERSION:
            raise self.fail(
                f"format version {version} was written by a newer fxsnn (this one reads up to version "
                f"{FORMAT_VERSION}); upgrade fxsnn to load it"
            )
        stored = header.get("header_sha256")
        try:
            actual = hashlib.sha256(_canonical(header)).hexdigest()
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{HEADER_NAME} holds values that are not plain JSON ({exc})") from None
        if stored != actual:
            raise self.fail(
                f"header checksum mismatch (stored {stored!r}, computed {actual!r}): "
                "the header was modified or damaged after it was written"
            )
        return header

    def array(self, archive: zipfile.ZipFile, header: dict, name, shape: tuple, dtype: np.dtype):
        arrays = header.get("arrays")
        if not (isinstance(arrays, dict) and isinstance(name, str) and isinstance(arrays.get(name), dict)):
            raise self.fail(f"array {name!r} is not described in the header's 'arrays'")
        spec = arrays[name]
        if spec.get("dtype") != dtype.str:
            raise self.fail(
                f"array {name!r} is declared as dtype {spec.get('dtype')!r}, expected {dtype.str!r}"
            )
        if spec.get("shape") != list(shape):
            raise self.fail(
                f"array {name!r} is declared with shape {spec.get('shape')!r}, expected {list(shape)!r}"
            )
        expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        data = self.member(archive, name, expected_bytes + 4096)
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.get("sha256"):
            raise self.fail(
                f"checksum mismatch in {name!r} (stored {spec.get('sha256')!r}, computed {digest!r}): "
                "the array was modified or damaged after it was written"
            )
        try:
            array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise self.fail(f"array {name!r} is not a valid .npy array ({exc})") from None
        if array.dtype != dtype:
            raise self.fail(f"array {name!r} has dtype {array.dtype.str!r}, expected {dtype.str!r}")
        if array.shape != tuple(shape):
            raise self.fail(f"array {name!r} has shape {list(array.shape)!r}, expected {list(shape)!r}")
        return array

    def model(self) -> Model:
        if not self.path.exists():
            raise ModelFileError(f"model file {str(self.path)!r} does not exist")
        if self.path.is_dir():
            raise ModelFileError(f"model file {str(self.path)!r} is a directory, not a file")
        try:
            archive = zipfile.ZipFile(self.path, "r")
        except zipfile.BadZipFile:
            raise self.fail("not an fxsnn model (not a zip archive, or truncated)") from None
        except OSError as exc:
            raise self.fail(f"cannot be read ({exc.strerror or exc})") from None
        with archive:
            header = self.header(archive)
            expected_names = {HEADER_NAME, *(header.get("arrays") or {})}
            extra = sorted(set(archive.namelist()) - expected_names)
            if extra:
                raise self.fail(f"unexpected member(s) {extra!r} not listed in the header")
            return self.build(archive, header)

    def build(self, archive: zipfile.ZipFile, header: dict) -> Model:
        for key in ("network", "encoder", "dataset", "scales", "provenance", "arrays"):
            if key not in header:
                raise self.fail(f"header has no {key!r} entry")
        spec = header["network"]
        if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
            raise self.fail("header 'network' must be an object with a 'layers' list")
        layers = []
        for k, layer_spec in enumerate(spec["layers"]):
            where = f"layer {k}"
            if not isinstance(layer_spec, dict):
                raise self.fail(f"{where}: description must be an object")
            params_spec = layer_spec.get("params")
            if not isinstance(params_spec, dict):
                raise self.fail(f"{where}: 'params' must be an object of LayerParams fields")
            missing = sorted(set(LayerParams.__dataclass_fields__) - set(params_spec))
            if missing:
                raise self.fail(f"{where}: parameter(s) {missing!r} missing")
            try:
                params = LayerParams.from_dict(params_spec)
            except (ParameterError, TypeError) as exc:
                raise self.fail(f"{where}: {exc}") from None
            n_in, n_out = layer_spec.get("n_in"), layer_spec.get("n_out")
            for label, value in (("n_in", n_in), ("n_out", n_out)):
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise self.fail(f"{where}: {label} must be a positive integer, not {value!r}")
            weights = self.array(archive, header, layer_spec.get("weights"), (n_in, n_out), WEIGHT_DTYPE)
            types = self.array(archive, header, layer_spec.get("types"), (n_out,), TYPES_DTYPE)
            n_exc = int(np.count_nonzero(types == EXCITATORY))
            n_inh = int(np.count_nonzero(types == INHIBITORY))
            if (layer_spec.get("n_excitatory"), layer_spec.get("n_inhibitory")) != (n_exc, n_inh):
                raise self.fail(
                    f"{where}: header says {layer_spec.get('n_excitatory')!r} excitatory and "
                    f"{layer_spec.get('n_inhibitory')!r} inhibitory neurons, "
                    f"the types array has {n_exc} and {n_inh}"
                )
            try:
                layers.append(Layer(params, weights.astype(np.int32), types.astype(np.int8)))
            except ParameterError as exc:
                raise self.fail(f"{where}: {exc}") from None
        metadata = spec.get("metadata", {})
        try:
            network = Network(tuple(layers), num_steps=spec.get("num_steps"), metadata=metadata)
            return Model(
                network=network,
                encoder=header["encoder"],
                dataset=header["dataset"],
                scales=header["scales"],
                provenance=header["provenance"],
            )
        except ParameterError as exc:
            raise self.fail(str(exc)) from None


def load_model(path) -> Model:
    """Read and fully validate a ``.fxsnn`` model file.

    Raises
    ------
    ModelFileError
        The file is missing, not a zip, truncated, corrupted or tampered with (checksums), of another type
        or a newer format version, or holds out-of-range values (shapes, dtypes, weight magnitudes vs
        ``weight_bits``, neuron types, layer chaining, LayerParams ranges, encoder). The message names the
        file and the problem.
    """
    return _Reader(Path(path)).model()


def copy_model(model: Model, **changes) -> Model:
    """A copy of ``model`` with some fields replaced (validated again)."""
    fields = {
        "network": model.network,
        "encoder": copy.deepcopy(model.encoder),
        "dataset": model.dataset,
        "scales": model.scales,
        "provenance": copy.deepcopy(model.provenance),
    }
    fields.update(changes)
    return Model(**fields)
