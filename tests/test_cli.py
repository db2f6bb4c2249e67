"""``fxsnn info`` and ``fxsnn simulate``: JSON output checked against the emulator, and clean error exits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fxsnn.analysis import firing_rates_hz
from fxsnn.cli import main
from fxsnn.datasets import encode_dataset, load_dataset
from fxsnn.emulator import simulate
from fxsnn.model import Model, make_provenance, save_model
from fxsnn.network import Layer, LayerParams, Network, neuron_types

DIGITS_INPUTS = 64


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Keep encoded-data caches out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("FXSNN_OFFLINE", "1")


def make_network(sizes=(DIGITS_INPUTS, 24, 10), ratio=0.75, num_steps=40, seed=3, **params) -> Network:
    """A random integer network that spikes on latency-coded digits (weights scaled to the threshold)."""
    rng = np.random.default_rng(seed)
    p = LayerParams(threshold=300, **params)
    layers = []
    for k in range(len(sizes) - 1):
        readout = k == len(sizes) - 2
        types = np.zeros(sizes[k + 1], np.int8) if readout else neuron_types(sizes[k + 1], ratio)
        layers.append(Layer(p, rng.integers(0, 120, (sizes[k], sizes[k + 1])), types))
    return Network(tuple(layers), num_steps=num_steps)


@pytest.fixture
def model_path(tmp_path):
    model = Model(
        make_network(),
        dataset="digits",
        scales=(300.0, 40.0),
        provenance=make_provenance(command="test", seed=3),
    )
    return save_model(model, tmp_path / "digits.fxsnn")


def run_json(capsys, argv):
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.count("\n") == 1  # exactly one JSON object on one line
    return json.loads(captured.out)


def run_error(capsys, argv, code):
    assert main(argv) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fxsnn: error: "), captured.err
    return lines[0]


# ------------------------------------------------------------------------------------------------- info


def test_info_json(capsys, model_path):
    info = run_json(capsys, ["info", str(model_path)])
    assert info["model"] == str(model_path)
    assert info["sizes"] == [64, 24, 10] and info["num_steps"] == 40 and info["dataset"] == "digits"
    hidden, readout = info["layers"]
    assert (hidden["n_excitatory"], hidden["n_inhibitory"]) == (18, 6)
    assert hidden["role"] == "hidden" and readout["role"] == "readout"
    assert readout["threshold"] is None and readout["reset"] is None and hidden["threshold"] == 300
    assert hidden["weight_memory_bits"] == 64 * 24 * 8 and readout["weight_memory_bits"] == 24 * 10 * 8
    assert hidden["state_memory_bits"] == 2 * 24 * 24
    assert info["memory_bits"]["total"] == 64 * 24 * 8 + 24 * 10 * 8 + 2 * 34 * 24 + 24
    assert hidden["syn_factor"] == 3354 / 4096 and hidden["mem_tau_steps"] == pytest.approx(10.0, abs=0.01)
    assert hidden["accumulator_bits"] == make_network().accumulator_bits(0)
    assert info["encoder"] == {"kind": "latency", "tau": 20.0, "threshold": 0.2}
    assert info["scales"] == [300.0, 40.0]
    assert info["provenance"]["command"] == "test" and info["provenance"]["seed"] == 3


def test_info_text_shift_mode(capsys, tmp_path):
    net = make_network(sizes=(8, 6, 5, 3), decay_mode="shift", syn_decay=2, mem_decay=3, reset="subtract")
    path = save_model(Model(net), tmp_path / "shift.fxsnn")
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "8 -> 6 -> 5 -> 3" in text and "2 hidden layer(s)" in text
    assert "shift 2, shift 3" in text and "subtract" in text
    assert "4:2" in text  # 6 neurons at ratio 0.75: int(4.5) = 4 excitatory


# --------------------------------------------------------------------------------------------- simulate


def emulator_numbers(net, limit, threads=None, trace=False):
    ds = load_dataset("digits", "test")
    events = encode_dataset(ds, {"kind": "latency", "tau": 20.0, "threshold": 0.2}, net.num_steps)
    events = events.select(slice(0, limit))
    return simulate(net, events, threads=threads, trace=trace), ds.labels[:limit]


@pytest.mark.parametrize("threads", [1, 2])
def test_simulate_json_matches_emulator(capsys, model_path, threads):
    out = run_json(
        capsys,
        ["simulate", str(model_path), "--dataset", "digits", "--limit", "60", "--threads", str(threads)],
    )
    net = make_network()
    result, labels = emulator_numbers(net, 60, threads=threads)
    assert out["samples"] == 60 and out["split"] == "test" and out["threads"] == threads
    assert out["correct"] == int((result.predictions == labels).sum())
    assert out["accuracy"] == out["correct"] / 60
    rates = firing_rates_hz(result.spike_counts[0], net.num_steps)
    (row,) = out["firing_rates_hz"]
    assert (row["n_excitatory"], row["n_inhibitory"]) == (18, 6)
    assert row["excitatory_hz"] == pytest.approx(rates[:18].mean(), rel=1e-12)
    assert row["inhibitory_hz"] == pytest.approx(rates[18:].mean(), rel=1e-12)
    assert row["all_hz"] == pytest.approx(rates.mean(), rel=1e-12)
    assert row["all_hz"] > 0  # the test model does spike, so the comparison above means something
    assert out["input_events_per_sample"] == pytest.approx(result.input_events.mean())
    assert out["synaptic_events_per_sample"] == pytest.approx(result.synaptic_events(net).mean())
    assert out["samples_per_s"] > 0 and out["trace"] is None


def test_simulate_uses_model_dataset_and_writes_trace(capsys, model_path, tmp_path):
    trace_path = tmp_path / "trace.npz"
    out = run_json(capsys, ["simulate", str(model_path), "--limit", "5", "--trace", str(trace_path)])
    assert out["dataset"] == "digits" and out["trace"] == str(trace_path)
    net = make_network()
    result, labels = emulator_numbers(net, 5, trace=True)
    with np.load(trace_path, allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["scores"], result.scores)
        np.testing.assert_array_equal(saved["predictions"], result.predictions)
        np.testing.assert_array_equal(saved["labels"], labels)
        np.testing.assert_array_equal(saved["spikes_0"], result.trace.spikes[0])
        np.testing.assert_array_equal(saved["spike_counts_0"], result.spike_counts[0])
        for k in range(2):
            np.testing.assert_array_equal(saved[f"current_{k}"], result.trace.current[k])
            np.testing.assert_array_equal(saved[f"membrane_{k}"], result.trace.membrane[k])
        assert saved["membrane_1"].shape == (5, 40, 10)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".trace")] == []


def test_simulate_text(capsys, model_path):
    assert main(["simulate", str(model_path), "--limit", "10"]) == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "samples/s" in captured.out and "E (18)" in captured.out


def test_simulate_shd_events_model(capsys, tmp_path):
    """A model for event data (SHD, encoder "bins"): the recorded spikes are re-binned into the model's T."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(5)
    path = tmp_path / "data" / "shd" / "shd_test.h5"
    path.parent.mkdir(parents=True)
    n_samples = 12
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n_samples,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n_samples,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n_samples):
            n = int(rng.integers(0, 400))
            times[i] = rng.uniform(0.0, 1.2, n).astype(np.float32)
            units[i] = rng.integers(0, 700, n).astype(np.uint16)
        f.create_dataset("labels", data=rng.integers(0, 20, n_samples).astype(np.uint16))
    net = make_network(sizes=(700, 16, 20), num_steps=50)
    encoder = {"kind": "bins", "max_time": 1.0}
    model_path = save_model(Model(net, encoder=encoder, dataset="shd"), tmp_path / "shd.fxsnn")
    out = run_json(capsys, ["simulate", str(model_path), "--data-dir", str(tmp_path / "data")])
    ds = load_dataset("shd", "test", data_dir=tmp_path / "data")
    result = simulate(net, encode_dataset(ds, encoder, 50))
    assert out["dataset"] == "shd" and out["samples"] == n_samples and out["encoder"] == encoder
    assert out["correct"] == int((result.predictions == ds.labels).sum())
    assert out["input_events_per_sample"] == pytest.approx(result.input_events.mean())
    assert out["input_events_per_sample"] > 0


# ----------------------------------------------------------------------------------------------- errors


def test_missing_model(capsys, tmp_path):
    line = run_error(capsys, ["info", str(tmp_path / "nope.fxsnn")], 1)
    assert "nope.fxsnn' does not exist" in line
    line = run_error(capsys, ["simulate", str(tmp_path / "nope.fxsnn"), "--dataset", "digits"], 1)
    assert "does not exist" in line


def test_corrupt_model(capsys, model_path):
    model_path.write_bytes(model_path.read_bytes()[:-100])
    for argv in (["info", str(model_path)], ["simulate", str(model_path)]):
        line = run_error(capsys, argv, 1)
        assert str(model_path) in line and "not a zip archive, or truncated" in line


def test_bad_dataset_name(capsys, model_path):
    line = run_error(capsys, ["simulate", str(model_path), "--dataset", "cifar10"], 2)
    assert "unknown data set 'cifar10'; choose one of digits, fmnist, mnist, shd" in line


def test_bad_split(capsys, model_path):
    line = run_error(capsys, ["simulate", str(model_path), "--split", "validation"], 2)
    assert "unknown split 'validation'" in line


def test_mismatched_input_size(capsys, tmp_path):
    path = save_model(Model(make_network(sizes=(10, 6, 10)), dataset="mnist"), tmp_path / "small.fxsnn")
    line = run_error(capsys, ["simulate", str(path), "--dataset", "digits"], 1)
    assert "has 10 inputs but data set 'digits' has 64" in line and "(mnist)" in line


def test_too_few_outputs(capsys, tmp_path):
    path = save_model(Model(make_network(sizes=(64, 6, 4))), tmp_path / "four.fxsnn")
    line = run_error(capsys, ["simulate", str(path), "--dataset", "digits"], 1)
    assert "has 4 outputs but data set 'digits' has 10 classes" in line


def test_no_dataset_anywhere(capsys, tmp_path):
    path = save_model(Model(make_network()), tmp_path / "anon.fxsnn")
    line = run_error(capsys, ["simulate", str(path)], 2)
    assert "records no data set; pass --dataset" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--limit", "0"], "--limit must be a positive number of samples"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--threads", "999"], "--threads 999 is more than the"),
        (["--trace", "out.txt"], "--trace file 'out.txt' must end in .npz"),
    ],
)
def test_bad_options(capsys, model_path, extra, message):
    line = run_error(capsys, ["simulate", str(model_path), *extra], 2)
    assert message in line


def test_no_trace_file_on_error(capsys, model_path, tmp_path):
    trace_path = tmp_path / "t.npz"
    run_error(capsys, ["simulate", str(model_path), "--dataset", "cifar10", "--trace", str(trace_path)], 2)
    assert not trace_path.exists()


def test_missing_data_files(capsys, tmp_path, monkeypatch):
    # MNIST: no Debian package location, so with an empty --data-dir, no FXSNN_DATA_DIR, an empty user
    # cache and downloads off it is found nowhere
    monkeypatch.delenv("FXSNN_DATA_DIR", raising=False)
    path = save_model(Model(make_network(sizes=(784, 6, 10)), dataset="mnist"), tmp_path / "m.fxsnn")
    empty = tmp_path / "empty"
    empty.mkdir()
    line = run_error(capsys, ["simulate", str(path), "--data-dir", str(empty)], 1)
    assert "not found" in line and str(empty) in line


# ------------------------------------------------------------------------------------ installed script


def test_console_script_end_to_end(model_path, tmp_path):
    script = shutil.which(
        "fxsnn", path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    )
    assert script, "the fxsnn console script is not installed (pip install -e .)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "FXSNN_OFFLINE": "1"}
    info = subprocess.run(
        [script, "info", str(model_path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    assert json.loads(info.stdout)["sizes"] == [64, 24, 10]
    sim = subprocess.run(
        [script, "simulate", str(model_path), "--limit", "20", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=300,
    )
    out = json.loads(sim.stdout)
    result, labels = emulator_numbers(make_network(), 20)
    assert out["correct"] == int((result.predictions == labels).sum())
    bad = subprocess.run(
        [script, "info", str(tmp_path / "missing.fxsnn")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"fxsnn: error: model file '{tmp_path / 'missing.fxsnn'}' does not exist"
    ]


def test_output_into_a_closed_pipe_is_quiet(model_path):
    """`fxsnn info MODEL | head -n 0`: no BrokenPipeError traceback on stderr, the SIGPIPE exit status."""
    import subprocess
    import sys

    script = "import sys; sys.argv = ['fxsnn', 'info', sys.argv[1]]\nfrom fxsnn.cli import entry; entry()"
    proc = subprocess.Popen([sys.executable, "-c", script, str(model_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes anything
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
