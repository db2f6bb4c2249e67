"""Data sets and encoders: loaders on generated and real files, integrity checks, downloads, SHD binning,
the encoders, and the encoding cache."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import math
import os
import struct
import threading
from pathlib import Path

import h5py
import numba
import numpy as np
import pytest

from fxsnn.datasets import Dataset, cache_root, encode_dataset, load_dataset, registry
from fxsnn.datasets import encoded as encoded_module
from fxsnn.encode import normalize_encoder, rate_encode
from fxsnn.errors import FxsnnError, UsageError

#: The real MNIST / Fashion-MNIST files: FXSNN_DATA_DIR's first entry (as CI sets it), else the shared folder.
SHARED_DATA = Path((os.environ.get("FXSNN_DATA_DIR") or "/work/shared/data").split(os.pathsep)[0])


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Every test gets its own user cache, no FXSNN_* settings, no Debian folder and an empty memory cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for var in ("FXSNN_DATA_DIR", "FXSNN_OFFLINE", "FXSNN_NO_CACHE"):
        monkeypatch.delenv(var, raising=False)
    patch_info(monkeypatch, "fmnist", system_dirs=(tmp_path / "debian" / "fashion-mnist",))
    encoded_module._MEMORY_CACHE.clear()
    yield
    encoded_module._MEMORY_CACHE.clear()


def patch_info(monkeypatch, name: str, **changes) -> None:
    """Replace fields of data set ``name``'s registry entry for one test."""
    monkeypatch.setitem(registry.DATASETS, name, dataclasses.replace(registry.DATASETS[name], **changes))


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return (
        struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def write_idx(path: Path, array: np.ndarray, compress: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = idx_bytes(array)
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(content, mtime=0))
    else:
        path.write_bytes(content)
    return path


def small_split(seed: int, n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


def write_split(folder: Path, split: str, seed: int, compress: bool = True, n: int = 6):
    prefix = registry.IDX_PREFIX[split]
    images, labels = small_split(seed, n)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)
    return images, labels


# ------------------------------------------------------------------------------------------------ digits


def test_digits_split_is_stratified_deterministic_and_partitions_the_data():
    from sklearn.datasets import load_digits

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1438, 359)
    assert train.n_inputs == test.n_inputs == 64 and train.n_classes == 10
    assert train.images.dtype == np.float64 and train.labels.dtype == np.int64
    assert train.images.min() == 0.0 and train.images.max() == 1.0
    assert train.events is None
    all_images, all_labels = load_digits(return_X_y=True)
    for c in range(10):  # stratified: round(20 %) of each class in test
        assert (test.labels == c).sum() == round(0.2 * (all_labels == c).sum())
    # the two splits together are exactly the data set (as multisets of (label, image))
    rows = sorted((int(y), x.tobytes()) for x, y in zip(all_images / 16.0, all_labels, strict=True))
    split_rows = sorted(
        (int(y), x.tobytes()) for ds in (train, test) for x, y in zip(ds.images, ds.labels, strict=True)
    )
    assert rows == split_rows
    again = load_dataset("digits", "test")
    assert np.array_equal(again.images, test.images) and again.fingerprint == test.fingerprint
    assert train.fingerprint != test.fingerprint


def test_unknown_dataset_and_split_are_rejected():
    with pytest.raises(UsageError, match="unknown data set 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(UsageError, match="unknown split 'val'"):
        load_dataset("digits", "val")
    with pytest.raises(UsageError, match="SHD only"):
        load_dataset("digits", num_steps=10)


# ------------------------------------------------------------------------------------------------ idx files


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("name", ["fmnist", "mnist"])
def test_idx_loader_on_generated_files(tmp_path, name, compress):
    images, labels = write_split(tmp_path / "d", "test", seed=1, compress=compress)
    ds = load_dataset(name, "test", data_dir=tmp_path / "d", download=False)
    assert (ds.name, ds.split, ds.n_inputs, ds.n_classes, ds.num_steps_hint) == (name, "test", 784, 10, 100)
    assert ds.images.dtype == np.float64 and ds.images.shape == (6, 784)
    assert np.array_equal(ds.images, images.reshape(6, -1) / 255.0)
    assert np.array_equal(ds.labels, labels.astype(np.int64))
    assert str(tmp_path / "d") in ds.source


def test_idx_lecun_spelling_and_env_var_with_subfolders(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    images, labels = small_split(2)
    write_idx(root / "fashion-mnist" / "train-images.idx3-ubyte", images, compress=False)
    write_idx(root / "fashion-mnist" / "train-labels.idx1-ubyte", labels, compress=False)
    mnist_images, _ = write_split(root / "mnist", "train", seed=3)
    monkeypatch.setenv("FXSNN_DATA_DIR", os.pathsep.join([str(tmp_path / "nothing-here"), str(root)]))
    fm = load_dataset("fmnist", "train", download=False)
    assert np.array_equal(fm.images, images.reshape(6, -1) / 255.0)
    mn = load_dataset("mnist", "train", download=False)
    assert np.array_equal(mn.images, mnist_images.reshape(6, -1) / 255.0)


def test_search_order_data_dir_then_env_then_cache_then_debian(tmp_path, monkeypatch):
    explicit, env, debian = tmp_path / "explicit", tmp_path / "env", tmp_path / "debian" / "fashion-mnist"
    cache = cache_root() / "fmnist"
    monkeypatch.setenv("FXSNN_DATA_DIR", str(env))
    folders = [explicit / "fashion-mnist", env, cache, debian]
    for seed, folder in enumerate(folders):
        write_split(folder, "test", seed=10 + seed, n=3 + seed)  # the sample count tells which one loaded
    for expected_n, folder in zip([3, 4, 5, 6], folders, strict=True):
        ds = load_dataset("fmnist", "test", data_dir=explicit, download=False)
        assert len(ds) == expected_n, folder
        for f in folder.iterdir():
            f.unlink()


def test_incomplete_folder_is_skipped_and_reported(tmp_path):
    folder = tmp_path / "half"
    write_idx(folder / "t10k-images-idx3-ubyte", small_split(4)[0], compress=True)
    with pytest.raises(FxsnnError, match=r"incomplete, has only t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", "test", data_dir=folder, download=False)


@pytest.mark.skipif(not (SHARED_DATA / "fashion-mnist").is_dir(), reason=f"no shared data at {SHARED_DATA}")
def test_real_fashion_mnist_and_mnist_from_env_var(monkeypatch):
    monkeypatch.setenv("FXSNN_DATA_DIR", str(SHARED_DATA))
    fm = load_dataset("fmnist", "test", download=False)
    assert fm.images.shape == (10000, 784) and fm.labels.shape == (10000,)
    assert np.array_equal(np.bincount(fm.labels), [1000] * 10)  # Fashion-MNIST's test set is balanced
    assert fm.labels[:5].tolist() == [9, 2, 1, 1, 6]
    assert 0.0 <= fm.images.min() and fm.images.max() == 1.0
    mn = load_dataset("mnist", "test", download=False)
    assert mn.images.shape == (10000, 784)
    assert mn.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert fm.fingerprint != mn.fingerprint
    events = encode_dataset(fm, {"kind": "latency"}, 100)
    assert events.n_samples == 10000 and events.num_inputs == 784


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason=f"no shared data at {SHARED_DATA}")
def test_real_file_placed_under_the_other_data_set_fails_its_checksum(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for stem in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / stem).symlink_to(SHARED_DATA / "mnist" / stem)
    with pytest.raises(
        FxsnnError, match=r"t10k-images-idx3-ubyte.gz: checksum mismatch.*official Fashion-MNIST"
    ):
        load_dataset("fmnist", "test", data_dir=tmp_path, download=False)


DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_debian_package_files_pass_the_content_checksum():
    """Debian's .gz files differ from the official ones only in the gzip header; the content hash
    accepts them."""
    ds = load_dataset("fmnist", "test", data_dir=DEBIAN_FMNIST, download=False)
    assert len(ds) == 10000 and ds.labels[:5].tolist() == [9, 2, 1, 1, 6]


# --------------------------------------------------------------------------------------------- corrupt files


def test_truncated_gzip_is_reported_with_its_path(tmp_path):
    write_split(tmp_path, "test", seed=5)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(FxsnnError, match=rf"{path}: corrupt or truncated gzip file"):
        load_dataset("fmnist", "test", data_dir=tmp_path, download=False)


def test_truncated_and_overlong_raw_idx(tmp_path):
    write_split(tmp_path, "test", seed=6, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    content = path.read_bytes()
    path.write_bytes(content[:-1])
    with pytest.raises(FxsnnError, match=rf"{path}: idx file is truncated: header says 6x28x28"):
        load_dataset("fmnist", "test", data_dir=tmp_path, download=False)
    path.write_bytes(content + b"\0")
    with pytest.raises(FxsnnError, match=rf"{path}: idx file is longer than its header says"):
        load_dataset("fmnist", "test", data_dir=tmp_path, download=False)
    path.write_bytes(content[:10])
    with pytest.raises(FxsnnError, match=rf"{path}: idx header is truncated"):
        load_dataset("fmnist", "test", data_dir=tmp_path, download=False)


def test_wrong_magic_and_swapped_files(tmp_path):
    images, labels = write_split(tmp_path, "test", seed=7, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + path.read_bytes()[4:])  # float32 instead of ubyte
    with pytest.raises(
        FxsnnError, match=rf"{path}: not an idx file of unsigned bytes \(magic number 0x00000d03"
    ):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    path.write_bytes(b"PK\x03\x04 a zip archive, not idx")
    with pytest.raises(FxsnnError, match="not an idx file"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    write_idx(path, labels, compress=False)  # a labels file where the images belong
    with pytest.raises(FxsnnError, match=rf"{path}: idx file has 1 dimensions, expected 3"):
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)


def test_mismatched_counts_and_bad_labels(tmp_path):
    write_split(tmp_path, "train", seed=8, compress=True)
    labels_path = write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(5), compress=True)
    with pytest.raises(FxsnnError, match="has 6 images but .* has 5 labels"):
        load_dataset("mnist", "train", data_dir=tmp_path, download=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 2, 3, 4, 10]), compress=True)
    with pytest.raises(FxsnnError, match=rf"{labels_path}: label 10 is out of range"):
        load_dataset("mnist", "train", data_dir=tmp_path, download=False)


def test_official_sized_file_with_wrong_content_fails_the_checksum(tmp_path):
    """A file with the official dimensions claims to be the official file, so its SHA-256 must match."""
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28)), compress=True)
    bad = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(60000), compress=True)
    content_sha = hashlib.sha256(idx_bytes(np.zeros(60000))).hexdigest()
    with pytest.raises(
        FxsnnError, match=rf"{bad}: checksum mismatch: .* SHA-256 is {content_sha}, expected "
    ):
        load_dataset("fmnist", "train", data_dir=tmp_path, download=False)


# ----------------------------------------------------------------------------------------- missing / offline


def test_missing_and_offline_names_every_place_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("FXSNN_OFFLINE", "1")
    monkeypatch.setenv("FXSNN_DATA_DIR", str(tmp_path / "envdir"))
    (tmp_path / "given").mkdir()
    with pytest.raises(FxsnnError) as info:
        load_dataset("fmnist", "train", data_dir=tmp_path / "given")
    message = str(info.value)
    places = [
        tmp_path / "given",
        tmp_path / "given" / "fashion-mnist",
        tmp_path / "envdir",
        tmp_path / "envdir" / "fashion-mnist",
        cache_root() / "fmnist",
        tmp_path / "debian" / "fashion-mnist",
    ]
    for place in places:
        assert f"{place} (" in message, place
    assert "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]" in message
    assert "Download is off (FXSNN_OFFLINE is set)" in message
    for fix in ("--data-dir", "FXSNN_DATA_DIR", "apt-get install dataset-fashion-mnist"):
        assert fix in message
    assert "\n" not in message  # the CLI prints one line
    with pytest.raises(FxsnnError, match=r"Download is off \(download=False\)"):
        load_dataset("mnist", "test", download=False)


# ------------------------------------------------------------------------------------------------ downloads


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def file_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; yields (base_url, folder, request log)."""
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []
    handler = functools.partial(type("H", (_QuietHandler,), {"requests": requests}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", folder, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve_split(folder: Path, split: str, seed: int) -> tuple[np.ndarray, dict[str, str]]:
    images, labels = write_split(folder, split, seed=seed)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.gz")}
    return images, sums


def test_download_with_checksum_into_the_cache(file_server, monkeypatch):
    base, folder, requests = file_server
    images, sums = serve_split(folder, "test", seed=20)
    patch_info(monkeypatch, "mnist", urls=(base,), gz_sha256=sums)
    ds = load_dataset("mnist", "test", progress=False)
    assert np.array_equal(ds.images, images.reshape(6, -1) / 255.0)
    cache = cache_root() / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert len(requests) == 2
    load_dataset("mnist", "test", progress=False)  # now found in the cache: no new request
    assert len(requests) == 2


def test_download_with_wrong_checksum_is_discarded(file_server, monkeypatch):
    base, folder, requests = file_server
    _, sums = serve_split(folder, "train", seed=21)
    sums["train-images-idx3-ubyte.gz"] = "0" * 64
    patch_info(monkeypatch, "fmnist", urls=(base,), gz_sha256=sums)
    with pytest.raises(FxsnnError) as info:
        load_dataset("fmnist", "train", progress=False)
    message = str(info.value)
    assert f"{base}train-images-idx3-ubyte.gz: checksum mismatch (SHA-256 " in message
    assert f"expected {'0' * 64}); download discarded" in message
    assert "Download into" in message and "failed" in message
    cache = cache_root() / "fmnist"
    assert not cache.exists() or list(cache.iterdir()) == []  # no partial or unverified file left behind


def test_download_falls_back_to_the_next_mirror(file_server, monkeypatch, tmp_path):
    base, folder, requests = file_server
    images, sums = serve_split(folder, "test", seed=22)
    missing_mirror = base + "no-such-mirror/"
    patch_info(monkeypatch, "mnist", urls=(missing_mirror, base), gz_sha256=sums)
    ds = load_dataset("mnist", "test", progress=False)
    assert np.array_equal(ds.images, images.reshape(6, -1) / 255.0)
    assert requests.count("/no-such-mirror/t10k-images-idx3-ubyte.gz") == 1


def test_download_failure_is_reported_with_the_searched_places(file_server, monkeypatch):
    base, folder, requests = file_server
    patch_info(monkeypatch, "mnist", urls=(base,))
    with pytest.raises(
        FxsnnError,
        match=r"MNIST \(mnist\) not found: .* Download into .* failed: .*HTTP Error 404.*retry when online",
    ):
        load_dataset("mnist", "test", progress=False)


# ------------------------------------------------------------------------------------------------ SHD


def write_shd(path: Path, times: list, units: list, labels: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units, strict=True)):
            t[i] = np.asarray(ti, dtype=np.float32)
            u[i] = np.asarray(ui, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), dtype=np.uint16))
    return path


SHD_TIMES = [[0.0, 0.05, 0.12, 0.15, 0.99, 1.0, 1.5], [0.55, 0.31, 0.31], []]
SHD_UNITS = [[3, 3, 5, 5, 699, 1, 2], [0, 7, 2], []]
SHD_LABELS = [3, 19, 0]


def events_of(batch, b):
    steps, indices = batch.sample(b)
    return list(zip(steps.tolist(), indices.tolist(), strict=True))


@pytest.mark.parametrize("compress", [False, True], ids=["h5", "h5.gz"])
def test_shd_binning_on_a_generated_file(tmp_path, compress):
    path = write_shd(tmp_path / "shd" / "shd_train.h5", SHD_TIMES, SHD_UNITS, SHD_LABELS)
    if compress:
        gz = path.with_name("shd_train.h5.gz")
        gz.write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    ds = load_dataset("shd", "train", data_dir=tmp_path, num_steps=10)
    assert (ds.n_inputs, ds.n_classes, ds.num_steps_hint, ds.images) == (700, 20, 10, None)
    assert ds.labels.tolist() == SHD_LABELS
    ev = ds.events
    assert (ev.num_steps, ev.num_inputs, ev.n_samples) == (10, 700, 3)
    # T = 10 over 1 s: step = floor(10 t). Sample 0: 0.0 and 0.05 -> step 0 on unit 3 (merged);
    # 0.12 and 0.15 -> step 1 on unit 5 (merged); 0.99 -> step 9 on unit 699; 1.0 and 1.5 are outside [0, 1)
    # and dropped.
    assert events_of(ev, 0) == [(0, 3), (1, 5), (9, 699)]
    # Sample 1 (unsorted in the file): 0.31 -> step 3 on units 7 and 2, 0.55 -> step 5 on unit 0.
    assert events_of(ev, 1) == [(3, 2), (3, 7), (5, 0)]
    assert events_of(ev, 2) == []
    assert encode_dataset(ds, None, 10) is ev  # the default encoder of SHD is its own binning
    # Re-binned over 0.5 s into 5 steps: step = floor(10 t) again, but only t < 0.5 counts.
    rebinned = encode_dataset(ds, {"kind": "bins", "max_time": 0.5}, 5)
    assert events_of(rebinned, 0) == [(0, 3), (1, 5)]
    assert events_of(rebinned, 1) == [(3, 2), (3, 7)]
    # 2 s in 4 steps: step = floor(2 t); 1.0 and 1.5 now fall into steps 2 and 3.
    wide = load_dataset("shd", "train", data_dir=tmp_path, num_steps=4, max_time=2.0)
    assert events_of(wide.events, 0) == [(0, 3), (0, 5), (1, 699), (2, 1), (3, 2)]
    assert encode_dataset(wide) is wide.events
    with pytest.raises(UsageError, match="shd is recorded as spikes; it takes the encoder"):
        encode_dataset(ds, {"kind": "latency"}, 10)


def test_shd_corrupt_files(tmp_path):
    folder = tmp_path / "shd"
    folder.mkdir()
    path = folder / "shd_test.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # HDF5 signature, nothing behind it
    with pytest.raises(FxsnnError, match=rf"{path}: not a readable HDF5 file"):
        load_dataset("shd", "test", data_dir=tmp_path)
    good = write_shd(tmp_path / "good.h5", SHD_TIMES, SHD_UNITS, SHD_LABELS).read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(FxsnnError, match=rf"{path}: "):
        load_dataset("shd", "test", data_dir=tmp_path)
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros(3, dtype=np.uint16))
    with pytest.raises(FxsnnError, match=rf"{path}: not in SHD's layout, missing spikes/times, spikes/units"):
        load_dataset("shd", "test", data_dir=tmp_path)
    path.unlink()
    write_shd(path, [[0.1]], [[700]], [1])
    with pytest.raises(FxsnnError, match=r"spike units must be in 0..699, found 700"):
        load_dataset("shd", "test", data_dir=tmp_path)
    path.unlink()
    write_shd(path, [[0.1, 0.2]], [[1]], [1])
    with pytest.raises(FxsnnError, match=r"sample 0 has 2 spike times but 1 units"):
        load_dataset("shd", "test", data_dir=tmp_path)
    path.unlink()
    write_shd(path, [[0.1]], [[1]], [20])
    with pytest.raises(FxsnnError, match=r"labels must be a 1-D array of classes 0..19"):
        load_dataset("shd", "test", data_dir=tmp_path)
    path.unlink()
    gz = folder / "shd_test.h5.gz"
    gz.write_bytes(gzip.compress(good)[:-30])
    with pytest.raises(FxsnnError, match=rf"{gz}: corrupt or truncated gzip file"):
        load_dataset("shd", "test", data_dir=tmp_path)
    assert not list((cache_root() / "shd").glob("*.part"))


def test_shd_missing_points_to_its_source(tmp_path):
    with pytest.raises(
        FxsnnError, match=r"SHD \(shd\) not found: looked for shd_train.h5\[.gz\] in .*zenkelab"
    ):
        load_dataset("shd", "train", data_dir=tmp_path)
    with pytest.raises(UsageError, match="num_steps must be an integer in 1..65535"):
        load_dataset("shd", "train", data_dir=tmp_path, num_steps=0)


# ------------------------------------------------------------------------------------------------ encoders


def image_dataset(images, name="digits", fingerprint="") -> Dataset:
    images = np.asarray(images, dtype=np.float64)
    return Dataset(
        name=name,
        split="test",
        labels=np.zeros(images.shape[0], dtype=np.int64),
        n_classes=10,
        n_inputs=images.shape[1],
        num_steps_hint=100,
        images=images,
        events=None,
        fingerprint=fingerprint,
    )


def test_latency_encoder_matches_the_paper_formula_on_hand_picked_pixels():
    """PAPER.md: t = floor(tau * ln(x / (x - 0.2))), tau = 20; below 0.2 no spike; clipped to T - 1."""
    pixels = [0.0, 0.19, 0.2, 0.2005, 0.5, 1.0]
    # 0.0, 0.19: below the threshold 0.2 -> no spike.
    # 0.2:    x - 0.2 = 0 -> infinite time -> clipped to T - 1.
    # 0.2005: 20 * ln(0.2005 / 0.0005) = 20 * ln(401) = 20 * 5.99396 = 119.88 -> 119
    #         (clipped to T - 1 = 99 when T = 100; step 119 when T = 200).
    # 0.5:    20 * ln(0.5 / 0.3) = 20 * 0.510826 = 10.217 -> step 10.
    # 1.0:    20 * ln(1.0 / 0.8) = 20 * 0.223144 = 4.463  -> step 4.
    expected = {100: [(4, 5), (10, 4), (99, 2), (99, 3)], 200: [(4, 5), (10, 4), (119, 3), (199, 2)]}
    for x, step in [(0.2005, 119), (0.5, 10), (1.0, 4)]:  # the hand computations above
        assert math.floor(20 * math.log(x / (x - 0.2))) == step
    for num_steps, events in expected.items():
        batch = encode_dataset(
            image_dataset([pixels]), {"kind": "latency", "tau": 20.0, "threshold": 0.2}, num_steps
        )
        assert events_of(batch, 0) == events, num_steps
    assert normalize_encoder({"kind": "latency"}) == {"kind": "latency", "tau": 20.0, "threshold": 0.2}


def test_latency_encoding_equals_the_formula_pixel_by_pixel():
    """encode_dataset's latency events equal a plain-Python reading of the formula (docs/paper.md), in the
    EventBatch order (sorted by step, then input), for several T, tau and thresholds."""
    ds = load_dataset("digits", "test")
    images = ds.images[:40]
    subset = image_dataset(images)
    for num_steps, tau, threshold in [(100, 20.0, 0.2), (7, 3.0, 0.05), (300, 50.0, 0.6)]:
        ours = encode_dataset(
            subset, {"kind": "latency", "tau": tau, "threshold": threshold}, num_steps, cache=False
        )
        for b, pixels in enumerate(images):
            expected = []
            for i, x in enumerate(pixels):
                if x < threshold:
                    continue
                t = num_steps - 1 if x == threshold else min(math.floor(tau * math.log(x / (x - threshold))),
                                                            num_steps - 1)
                expected.append((t, i))
            assert events_of(ours, b) == sorted(expected), (num_steps, b)
        assert (ours.num_steps, ours.num_inputs) == (num_steps, 64)


def test_rate_encoder_statistics():
    levels = np.array([0.0, 0.25, 0.5, 1.0])
    images = np.tile(levels, (300, 1))
    num_steps, max_rate = 100, 0.4
    batch = rate_encode(images, num_steps, max_rate, seed=3)
    dense = batch.to_dense()  # (300, 100, 4)
    frequency = dense.mean(axis=(0, 1))
    trials = 300 * num_steps
    for x, f in zip(levels, frequency, strict=True):
        p = x * max_rate
        sigma = math.sqrt(p * (1 - p) / trials)
        assert abs(f - p) <= 5 * sigma + 1e-12, (x, f, p)
    assert frequency[0] == 0.0  # a black pixel never spikes
    # independence across steps: spikes of the x = 1 input at t and t + 1 are uncorrelated
    a, b = dense[:, :-1, 3].ravel().astype(float), dense[:, 1:, 3].ravel().astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    full = rate_encode(np.ones((2, 3)), 5, 1.0, seed=0)
    assert full.to_dense().all()  # probability 1 spikes in every step


def test_rate_encoder_is_seeded_and_reproducible():
    ds = image_dataset(np.random.default_rng(0).random((130, 20)))  # more than one block of 64 samples
    a = encode_dataset(ds, {"kind": "rate", "max_rate": 0.3}, 50, seed=1)
    encoded_module._MEMORY_CACHE.clear()
    b = encode_dataset(ds, {"kind": "rate", "max_rate": 0.3}, 50, seed=1)
    c = encode_dataset(ds, {"kind": "rate", "max_rate": 0.3}, 50, seed=2)
    assert a is not b and np.array_equal(a.to_dense(), b.to_dense())
    assert not np.array_equal(a.to_dense(), c.to_dense())
    assert np.array_equal(rate_encode(ds.images, 50, 0.3, seed=1).to_dense(), a.to_dense())
    assert normalize_encoder({"kind": "rate"}) == {"kind": "rate", "max_rate": 0.2}


def test_rate_encoder_does_not_depend_on_thread_count_or_batch_composition():
    images = np.random.default_rng(1).random((40, 30))
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = rate_encode(images, 25, 0.5, seed=9)
    finally:
        numba.set_num_threads(threads)
    multi = rate_encode(images, 25, 0.5, seed=9)
    assert np.array_equal(single.to_dense(), multi.to_dense())
    # a sample's spikes depend on its position in the batch and the seed only, not on the other samples
    assert np.array_equal(rate_encode(images[:10], 25, 0.5, seed=9).to_dense(), multi.to_dense()[:10])
    with pytest.raises(ValueError, match="pixel values in \\[0, 1\\]"):
        rate_encode(images * 2, 25, 0.5)
    with pytest.raises(ValueError, match="max_rate is a spike probability per step"):
        rate_encode(images, 25, 2.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "poisson"}, "unknown encoder kind 'poisson'; choose one of latency, rate, bins"),
        ({"tau": 20.0}, "unknown encoder kind None"),
        ("latency", "an encoder must be a dict"),
        ({"kind": "latency", "taus": 20.0}, "unknown parameter\\(s\\) 'taus' for the latency encoder"),
        ({"kind": "latency", "tau": 0.0}, "latency encoder tau must be a finite number > 0"),
        ({"kind": "latency", "tau": float("nan")}, "latency encoder tau must be a finite number > 0"),
        ({"kind": "latency", "threshold": 1.0}, "threshold must be in \\(0, 1\\)"),
        ({"kind": "latency", "threshold": "0.2"}, "latency encoder threshold must be a number"),
        ({"kind": "rate", "max_rate": 0.0}, "rate encoder max_rate must be a finite number > 0"),
        ({"kind": "rate", "max_rate": 1.5}, "max_rate is a spike probability per step, in \\(0, 1\\]"),
        ({"kind": "rate", "max_rate": True}, "rate encoder max_rate must be a number"),
        ({"kind": "bins", "max_time": -1}, "bins encoder max_time must be a finite number > 0"),
    ],
)
def test_bad_encoder_specs_are_rejected(spec, message):
    with pytest.raises(UsageError, match=message):
        normalize_encoder(spec)


def test_bad_encode_arguments_are_rejected():
    ds = image_dataset(np.full((1, 3), 0.5))
    with pytest.raises(UsageError, match="num_steps must be an integer in 1..65535, got 0"):
        encode_dataset(ds, {"kind": "latency"}, 0)
    with pytest.raises(UsageError, match="num_steps must be an integer in 1..65535, got 2.5"):
        encode_dataset(ds, {"kind": "latency"}, 2.5)
    with pytest.raises(UsageError, match="seed must be a non-negative integer"):
        encode_dataset(ds, {"kind": "rate"}, 10, seed=-1)
    with pytest.raises(UsageError, match="the bins encoder applies to spike data sets"):
        encode_dataset(ds, {"kind": "bins"}, 10)
    with pytest.raises(UsageError, match="needs a Dataset"):
        encode_dataset(np.zeros((1, 3)), {"kind": "latency"}, 10)


# ------------------------------------------------------------------------------------------------ cache


def test_encoding_is_cached_in_memory_and_on_disk(monkeypatch, tmp_path):
    calls = []
    real = encoded_module._encode_uncached

    def counting(*args):
        calls.append(args[1:])
        return real(*args)

    monkeypatch.setattr(encoded_module, "_encode_uncached", counting)
    write_split(tmp_path / "d", "test", seed=30)
    ds = load_dataset("fmnist", "test", data_dir=tmp_path / "d", download=False)
    spec = {"kind": "latency"}
    first = encode_dataset(ds, spec, 100)
    assert len(calls) == 1
    assert encode_dataset(ds, {"kind": "latency", "tau": 20, "threshold": 0.2}, 100) is first  # memory hit
    assert len(calls) == 1
    files = list((cache_root() / "encoded").glob("fmnist-test-latency-T100-*.npz"))
    assert len(files) == 1
    encoded_module._MEMORY_CACHE.clear()
    reloaded = load_dataset("fmnist", "test", data_dir=tmp_path / "d", download=False)
    from_disk = encode_dataset(reloaded, spec, 100)  # a new process would see this: disk hit
    assert len(calls) == 1
    assert np.array_equal(from_disk.to_dense(), first.to_dense())
    encode_dataset(ds, spec, 50)  # other T: encoded again
    encode_dataset(ds, {"kind": "latency", "tau": 10.0}, 100)  # other encoder: encoded again
    encode_dataset(ds, spec, 100, seed=5)  # latency ignores the seed: still cached
    assert len(calls) == 3
    # a corrupt cache file is replaced, not trusted
    encoded_module._MEMORY_CACHE.clear()
    files[0].write_bytes(b"garbage")
    again = encode_dataset(ds, spec, 100)
    assert len(calls) == 4 and np.array_equal(again.to_dense(), first.to_dense())
    assert files[0].stat().st_size > 100
    # other data under the same name and split: different checksum, different cache entry
    write_split(tmp_path / "d2", "test", seed=31)
    other = load_dataset("fmnist", "test", data_dir=tmp_path / "d2", download=False)
    encode_dataset(other, spec, 100)
    assert len(calls) == 5
    assert len(list((cache_root() / "encoded").glob("*.npz"))) == 4
    assert not list((cache_root() / "encoded").glob("*.part"))


def test_hand_built_datasets_with_equal_names_do_not_share_cache_entries():
    first = encode_dataset(image_dataset([[1.0, 0.0]]), {"kind": "latency"}, 10)
    second = encode_dataset(image_dataset([[0.0, 1.0]]), {"kind": "latency"}, 10)
    assert events_of(first, 0) == [(4, 0)] and events_of(second, 0) == [(4, 1)]
    again = encode_dataset(image_dataset([[1.0, 0.0]]), {"kind": "latency"}, 10)
    assert again is first


def test_disk_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("FXSNN_NO_CACHE", "1")
    ds = load_dataset("digits", "test")
    encode_dataset(ds, {"kind": "latency"}, 20)
    assert not (cache_root() / "encoded").exists()
