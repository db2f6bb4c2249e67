"""The .fxsnn model file: round trips in every mode; bad files rejected with clear messages."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import numpy as np
import pytest

from fxsnn.errors import FxsnnError
from fxsnn.model import (
    FORMAT_VERSION,
    MODEL_TYPE,
    Model,
    ModelFileError,
    copy_model,
    load_model,
    make_provenance,
    save_model,
    validate_encoder,
)
from fxsnn.network import Layer, LayerParams, Network, ParameterError, neuron_types


def random_network(seed=0, sizes=(12, 9, 4), ratio=0.8, num_steps=20, **params) -> Network:
    """Random integer network; ``params`` go to every layer's LayerParams."""
    rng = np.random.default_rng(seed)
    p = LayerParams(**params)
    layers = []
    for k in range(len(sizes) - 1):
        n_in, n_out = sizes[k], sizes[k + 1]
        readout = k == len(sizes) - 2
        types = np.zeros(n_out, np.int8) if readout else neuron_types(n_out, ratio)
        layers.append(Layer(p, rng.integers(0, p.weight_max + 1, (n_in, n_out)), types))
    return Network(tuple(layers), num_steps=num_steps)


def assert_same_model(a: Model, b: Model) -> None:
    assert a.network.num_steps == b.network.num_steps
    assert a.network.metadata == b.network.metadata
    assert len(a.network.layers) == len(b.network.layers)
    for la, lb in zip(a.network.layers, b.network.layers, strict=True):
        assert la.params == lb.params
        assert la.weights.dtype == lb.weights.dtype == np.int32
        assert la.types.dtype == lb.types.dtype == np.int8
        np.testing.assert_array_equal(la.weights, lb.weights)
        np.testing.assert_array_equal(la.types, lb.types)
    assert a.encoder == b.encoder
    assert a.dataset == b.dataset
    assert a.scales == b.scales
    assert a.provenance == b.provenance


MODES = [
    dict(),
    dict(decay_mode="shift", syn_decay=2, mem_decay=3, reset="subtract", threshold=100),
    dict(
        weight_bits=2, state_bits=8, threshold=0, decay_mode="multiply", frac_bits=1, syn_decay=2, mem_decay=0
    ),
    dict(weight_bits=16, weight_shift=15, state_bits=32, frac_bits=16, syn_decay=65536, mem_decay=1),
]


@pytest.mark.parametrize("params", MODES)
@pytest.mark.parametrize("sizes", [(5, 3, 2), (12, 9, 4), (7, 6, 5, 4, 3)])
@pytest.mark.parametrize("ratio", [0.0, 0.8, 1.0])
def test_round_trip_all_modes(tmp_path, params, sizes, ratio):
    net = random_network(sizes=sizes, ratio=ratio, **params)
    model = Model(net, dataset="fmnist", scales=tuple(float(k + 1) for k in range(len(sizes) - 1)))
    path = save_model(model, tmp_path / "m.fxsnn")
    assert_same_model(load_model(path), model)


@pytest.mark.parametrize(
    "encoder",
    [
        {"kind": "latency", "tau": 20.0, "threshold": 0.2},
        {"kind": "rate", "max_rate": 0.5},
        {"kind": "bins", "max_time": 1.5},
    ],
)
@pytest.mark.parametrize("dataset", [None, "digits", "mnist", "shd"])
def test_round_trip_encoders_datasets(tmp_path, encoder, dataset):
    net = Network(random_network().layers, num_steps=65535, metadata={"note": "x", "sizes": [1, 2]})
    provenance = make_provenance(
        command="fxsnn test", seed=7, config={"lr": 0.01}, training={"acc": [0.5, 0.6]}
    )
    model = Model(net, encoder=encoder, dataset=dataset, scales=None, provenance=provenance)
    loaded = load_model(save_model(model, tmp_path / "m.fxsnn"))
    assert_same_model(loaded, model)
    assert loaded.provenance["seed"] == 7 and loaded.provenance["fxsnn_version"]


def test_same_model_gives_same_bytes_and_load_save_is_stable(tmp_path):
    model = Model(random_network(), provenance={"created": "fixed"})
    a = save_model(model, tmp_path / "a.fxsnn").read_bytes()
    b = save_model(load_model(tmp_path / "a.fxsnn"), tmp_path / "b.fxsnn").read_bytes()
    assert a == b


def test_header_content(tmp_path):
    path = save_model(Model(random_network(sizes=(6, 5, 3), ratio=0.6)), tmp_path / "m.fxsnn")
    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read("header.json"))
        assert sorted(archive.namelist()) == sorted(
            [
                "header.json",
                "layers/0/weights.npy",
                "layers/0/types.npy",
                "layers/1/weights.npy",
                "layers/1/types.npy",
            ]
        )
        for name, spec in header["arrays"].items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == spec["sha256"]
    assert header["type"] == MODEL_TYPE and header["format_version"] == FORMAT_VERSION
    assert [(la["n_excitatory"], la["n_inhibitory"]) for la in header["network"]["layers"]] == [
        (3, 2),
        (3, 0),
    ]
    weights_spec = header["arrays"]["layers/0/weights.npy"]
    assert (weights_spec["shape"], weights_spec["dtype"]) == ([6, 5], "<u2")


# ------------------------------------------------------------------------------------- Model validation


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(encoder={"kind": "gauss"}), "encoder: unknown encoder kind 'gauss'"),
        (dict(encoder={"kind": "latency", "tau": -1.0, "threshold": 0.2}), "tau must be a finite number > 0"),
        (dict(encoder={"kind": "latency", "tau": 20.0, "threshold": 1.0}), "threshold must be in (0, 1)"),
        (dict(encoder={"kind": "rate", "max_rate": 1.5}), "max_rate is a spike probability per step"),
        (dict(encoder={"kind": "rate", "max_rate": 0.5, "seed": 1}), "unknown parameter(s) 'seed'"),
        (dict(encoder={"kind": "rate", "max_rate": float("nan")}), "must be a finite number > 0"),
        (dict(encoder="latency"), "encoder: an encoder must be a dict"),
        (dict(dataset="cifar"), "dataset must be one of"),
        (dict(scales=(1.0,)), "scales has 1 entries but the network has 2 layers"),
        (dict(scales=(1.0, 0.0)), "scales[1] must be > 0"),
        (dict(scales=(1.0, "a")), "scales[1] must be a number"),
        (dict(scales="12"), "scales must be a sequence"),
        (dict(provenance={"x": float("inf")}), "provenance must be JSON-serialisable"),
        (dict(provenance={"x": object()}), "provenance must be JSON-serialisable"),
        (dict(provenance=[1]), "provenance must be a dict"),
        (dict(network="net"), "network must be a Network"),
    ],
)
def test_model_rejects_bad_fields(changes, message):
    fields = dict(network=random_network(), encoder={"kind": "latency", "tau": 20.0, "threshold": 0.2})
    fields.update(changes)
    with pytest.raises(ParameterError) as info:
        Model(**fields)
    assert message in str(info.value)


def test_validate_encoder_normalises_numbers_and_fills_defaults():
    assert validate_encoder({"kind": "latency", "tau": 20, "threshold": np.float32(0.25)}) == {
        "kind": "latency",
        "tau": 20.0,
        "threshold": 0.25,
    }
    assert validate_encoder({"kind": "latency"}) == {"kind": "latency", "tau": 20.0, "threshold": 0.2}


def test_copy_model_revalidates():
    model = Model(random_network(), dataset="digits")
    assert copy_model(model, dataset="mnist").dataset == "mnist"
    with pytest.raises(ParameterError, match="dataset must be one of"):
        copy_model(model, dataset="nope")


# ----------------------------------------------------------------------------------------- saving


def test_save_needs_fxsnn_suffix_and_existing_directory(tmp_path):
    model = Model(random_network())
    with pytest.raises(ModelFileError, match=r"must end in '\.fxsnn'"):
        save_model(model, tmp_path / "m.zip")
    with pytest.raises(ModelFileError, match="directory .* does not exist"):
        save_model(model, tmp_path / "missing" / "m.fxsnn")
    with pytest.raises(ModelFileError, match="needs a Model"):
        save_model(random_network(), tmp_path / "m.fxsnn")


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.fxsnn"
    first = Model(random_network(seed=1))
    save_model(first, path)
    before = path.read_bytes()

    def broken_writestr(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken_writestr)
    with pytest.raises(ModelFileError, match="cannot write model .*No space left on device"):
        save_model(Model(random_network(seed=2)), path)
    assert path.read_bytes() == before  # the old model is intact
    assert sorted(os.listdir(tmp_path)) == ["m.fxsnn"]  # and no temporary file is left behind


# ----------------------------------------------------------------------------------------- bad files


@pytest.fixture
def model_path(tmp_path):
    return save_model(Model(random_network(), dataset="digits", scales=(64.0, 8.0)), tmp_path / "good.fxsnn")


def read_members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def canonical_hash(header: dict) -> str:
    body = {k: v for k, v in header.items() if k != "header_sha256"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    ).hexdigest()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def rewrite(path, edit_header=None, arrays=None, rehash=True, extra=None, drop=()):
    """Rewrite the model at ``path``: replace arrays, edit the header, and (rehash) fix every checksum,
    so the check that fires is the one under test, not the checksum."""
    members = read_members(path)
    header = json.loads(members["header.json"])
    for name, array in (arrays or {}).items():
        members[name] = npy(array)
        if rehash:
            header["arrays"][name]["sha256"] = hashlib.sha256(members[name]).hexdigest()
    if edit_header:
        edit_header(header)
    if rehash:
        header["header_sha256"] = canonical_hash(header)
    members["header.json"] = json.dumps(header).encode()
    members.update(extra or {})
    for name in drop:
        del members[name]
    write_members(path, members)


def expect_error(path, *fragments):
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, FxsnnError)
    return message


def test_missing_file_and_directory(tmp_path):
    expect_error(tmp_path / "nope.fxsnn", "does not exist")
    expect_error(tmp_path, "is a directory")


def test_not_a_zip(tmp_path):
    path = tmp_path / "text.fxsnn"
    path.write_text("hello, I am not a model\n")
    expect_error(path, "not an fxsnn model (not a zip archive, or truncated)")
    path.write_bytes(b"")
    expect_error(path, "not a zip archive")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated(model_path, keep):
    data = model_path.read_bytes()
    model_path.write_bytes(data[: int(len(data) * keep)])
    expect_error(model_path, "not a zip archive, or truncated")


def test_corrupted_bytes_in_compressed_array(model_path):
    data = bytearray(model_path.read_bytes())
    with zipfile.ZipFile(model_path) as archive:
        info = archive.getinfo("layers/0/weights.npy")
    # flip bits in the middle of the member's compressed data (after its local header)
    position = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[position] ^= 0xFF
    model_path.write_bytes(bytes(data))
    message = expect_error(model_path)
    assert (
        "'layers/0/weights.npy' is corrupted" in message
        or "checksum mismatch in 'layers/0/weights.npy'" in message
    )


def test_tampered_array_detected_by_checksum(model_path):
    weights = load_model(model_path).network.layers[0].weights.astype("<u2").copy()
    weights[0, 0] ^= 1
    rewrite(model_path, arrays={"layers/0/weights.npy": weights}, rehash=False)
    expect_error(model_path, "checksum mismatch in 'layers/0/weights.npy'", "modified or damaged")


def test_tampered_header_detected_by_checksum(model_path):
    def raise_threshold(header):
        header["network"]["layers"][0]["params"]["threshold"] += 1

    rewrite(model_path, edit_header=raise_threshold, rehash=False)
    expect_error(model_path, "header checksum mismatch", "modified or damaged")


def test_header_not_json(model_path):
    members = read_members(model_path)
    members["header.json"] = b"{not json"
    write_members(model_path, members)
    expect_error(model_path, "header.json is not valid JSON")


def test_wrong_type_tag(model_path):
    rewrite(model_path, edit_header=lambda h: h.update(type="nir.graph"))
    expect_error(model_path, "type tag is 'nir.graph', expected 'fxsnn.model'")


def test_newer_version(model_path):
    rewrite(model_path, edit_header=lambda h: h.update(format_version=FORMAT_VERSION + 1))
    expect_error(
        model_path, f"format version {FORMAT_VERSION + 1} was written by a newer fxsnn", "upgrade fxsnn"
    )


@pytest.mark.parametrize("version", [0, "1", None, 1.5, True])
def test_bad_version(model_path, version):
    rewrite(model_path, edit_header=lambda h: h.update(format_version=version))
    expect_error(model_path, f"format_version must be a positive integer, not {version!r}")


def test_missing_member(model_path):
    rewrite(model_path, drop=["layers/1/types.npy"])
    expect_error(model_path, "member 'layers/1/types.npy' is missing")


def test_unexpected_member(model_path):
    rewrite(model_path, extra={"payload.py": b"print('hi')"})
    expect_error(model_path, "unexpected member(s) ['payload.py']")


def set_param(k, name, value):
    def edit(header):
        header["network"]["layers"][k]["params"][name] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (set_param(0, "threshold", -1), ["layer 0", "threshold must be in [0,"]),
        (set_param(1, "decay_mode", "exp"), ["layer 1", "decay_mode must be one of"]),
        (set_param(0, "state_bits", 33), ["layer 0", "state_bits must be in [8, 32]"]),
        (set_param(0, "syn_decay", 5000), ["layer 0", "syn_decay must be in [0, 4096]"]),
        (set_param(0, "reset", "hold"), ["layer 0", "reset must be one of"]),
        (set_param(0, "bogus", 1), ["layer 0", "unknown layer parameter(s): ['bogus']"]),
        (
            lambda h: h["network"]["layers"][0]["params"].pop("frac_bits"),
            ["layer 0", "['frac_bits'] missing"],
        ),
        (lambda h: h["network"].update(num_steps=0), ["num_steps must be in [1, 65535]"]),
        (
            lambda h: h.update(encoder={"kind": "latency", "tau": 0.0, "threshold": 0.2}),
            ["encoder: latency encoder tau must be a finite number > 0"],
        ),
        (lambda h: h.update(dataset="imagenet"), ["dataset must be one of"]),
        (lambda h: h.update(scales=[1.0, 2.0, 3.0]), ["scales has 3 entries but the network has 2 layers"]),
        (lambda h: h.pop("provenance"), ["header has no 'provenance' entry"]),
        (
            lambda h: h["network"]["layers"][0].update(n_excitatory=9, n_inhibitory=0),
            ["layer 0: header says 9 excitatory and 0 inhibitory", "types array has 7 and 2"],
        ),
        (
            lambda h: h["arrays"]["layers/0/weights.npy"].update(dtype="<i8"),
            ["'layers/0/weights.npy' is declared as dtype '<i8', expected '<u2'"],
        ),
        (
            lambda h: h["network"]["layers"][0].update(n_in=13),
            ["'layers/0/weights.npy' is declared with shape [12, 9], expected [13, 9]"],
        ),
        (lambda h: h["network"]["layers"][0].update(n_in=0), ["layer 0: n_in must be a positive integer"]),
        (
            lambda h: h["network"]["layers"][1].update(weights="layers/9/weights.npy"),
            ["array 'layers/9/weights.npy' is not described"],
        ),
    ],
)
def test_bad_header_values(model_path, edit, fragments):
    rewrite(model_path, edit_header=edit)
    expect_error(model_path, *fragments)


def test_weight_above_weight_bits(model_path):
    weights = load_model(model_path).network.layers[0].weights.astype("<u2").copy()
    weights[3, 4] = 300  # weight_bits is 8: magnitudes up to 255
    rewrite(model_path, arrays={"layers/0/weights.npy": weights})
    expect_error(model_path, "layer 0", "weight magnitude 300 is outside [0, 255] (weight_bits=8)")


def test_lowered_weight_bits_rejects_existing_weights(model_path):
    rewrite(model_path, edit_header=set_param(1, "weight_bits", 2))
    expect_error(model_path, "layer 1", "is outside [0, 3] (weight_bits=2)")


def test_bad_neuron_type(model_path):
    types = np.array([0, 0, 0, 0, 0, 0, 0, 2, 1], dtype="|u1")
    rewrite(
        model_path,
        arrays={"layers/0/types.npy": types},
        edit_header=lambda h: h["network"]["layers"][0].update(n_excitatory=7, n_inhibitory=1),
    )
    expect_error(model_path, "layer 0", "types must be 0 (excitatory) or 1 (inhibitory)")


def test_inhibitory_readout_rejected(model_path):
    types = np.array([0, 1, 0, 0], dtype="|u1")
    rewrite(
        model_path,
        arrays={"layers/1/types.npy": types},
        edit_header=lambda h: h["network"]["layers"][1].update(n_excitatory=3, n_inhibitory=1),
    )
    expect_error(model_path, "readout neurons have no outgoing weights")


def test_layers_that_do_not_chain(model_path):
    rng = np.random.default_rng(1)

    def edit(header):
        header["network"]["layers"][1]["n_in"] = 8
        header["arrays"]["layers/1/weights.npy"]["shape"] = [8, 4]

    rewrite(
        model_path,
        arrays={"layers/1/weights.npy": rng.integers(0, 10, (8, 4)).astype("<u2")},
        edit_header=edit,
    )
    expect_error(model_path, "layers[1] has 8 inputs but layers[0] has 9 neurons")


def test_array_shape_differs_from_declaration(model_path):
    rewrite(model_path, arrays={"layers/1/types.npy": np.zeros(5, "|u1")})
    expect_error(model_path, "'layers/1/types.npy' has shape [5], expected [4]")


def test_object_array_is_refused(model_path):
    # an object array would need pickle to load: its dtype is refused before any unpickling could happen
    payload = np.array([{"evil": 1}] * 4, dtype=object)

    def edit(header):
        header["arrays"]["layers/1/types.npy"]["dtype"] = "|O"

    rewrite(model_path, arrays={"layers/1/types.npy": payload}, edit_header=edit)
    expect_error(model_path, "'layers/1/types.npy' is declared as dtype '|O', expected '|u1'")


def test_other_zip_file(tmp_path):
    path = tmp_path / "weights.fxsnn"
    with open(path, "wb") as handle:
        np.savez(handle, w=np.zeros((3, 3)))
    expect_error(path, "member 'header.json' is missing (the file is incomplete or not written by fxsnn)")
