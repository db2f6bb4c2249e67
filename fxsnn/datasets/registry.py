"""The data sets fxsnn knows: one entry each, with every fact about it written once.

Each :class:`DatasetInfo` says what the data set is (inputs, classes, images or recorded spikes, the usual
number of steps), where its files may be found (folder names, a system package's folder), where the
official files are downloaded from and their SHA-256 sums, and which encoder it takes by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..encode import BINS_DEFAULTS, LATENCY_DEFAULTS
from ..errors import UsageError

__all__ = [
    "DatasetInfo",
    "DATASETS",
    "SPLITS",
    "IDX_PREFIX",
    "OFFICIAL_IDX_DIMS",
    "dataset_info",
    "check_split",
    "default_encoder",
]

SPLITS = ("train", "test")
#: File name prefix of each split's idx files.
IDX_PREFIX = {"train": "train", "test": "t10k"}
#: Dimensions of the official MNIST / Fashion-MNIST idx files: a file with these dimensions must match its
#: data set's ``content_sha256``.
OFFICIAL_IDX_DIMS = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


@dataclass(frozen=True)
class DatasetInfo:
    """What fxsnn knows about one data set.

    Attributes
    ----------
    name, title : str
        The name used on the command line and in model files; a human title.
    recorded : bool
        True for data recorded as spikes (SHD: binned by the ``bins`` encoder); False for images.
    n_inputs, n_classes : int
    num_steps_hint : int
        The number of steps the data set is usually run with (the paper's T = 100).
    subdirs : tuple of str
        Subfolders of a data folder that may hold the files (``FXSNN_DATA_DIR/fashion-mnist/`` ...).
    system_dirs : tuple of Path
        Folders the system package ``system_package`` installs the files into.
    urls : tuple of str
        Official download locations, tried in order (empty: never downloaded).
    gz_sha256 : dict
        SHA-256 of each official ``.gz`` file, checked on download.
    content_sha256 : dict
        SHA-256 of each decompressed official file, checked whenever a file of the official size is read.
    home : str or None
        Where a user gets the files by hand.
    """

    name: str
    title: str
    recorded: bool
    n_inputs: int
    n_classes: int
    num_steps_hint: int = 100
    subdirs: tuple = ()
    system_dirs: tuple = ()
    system_package: str | None = None
    urls: tuple = ()
    gz_sha256: dict = field(default_factory=dict)
    content_sha256: dict = field(default_factory=dict)
    home: str | None = None


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        name="digits", title="sklearn digits", recorded=False, n_inputs=64, n_classes=10,
        home="ships inside scikit-learn (sklearn.datasets.load_digits)",
    ),
    "fmnist": DatasetInfo(
        name="fmnist", title="Fashion-MNIST", recorded=False, n_inputs=784, n_classes=10,
        subdirs=("fashion-mnist", "fmnist", "FashionMNIST/raw"),
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        system_package="dataset-fashion-mnist",
        # The zalandoresearch README's links.
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        # The official .gz files (the tfds and torchvision values; shared/data/*/SHA256SUMS agree).
        gz_sha256={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        # The decompressed files (computed from the verified .gz files above). Checking the content rather
        # than the .gz bytes also accepts re-compressed copies (Debian's differ in the gzip header).
        content_sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        home="https://github.com/zalandoresearch/fashion-mnist",
    ),
    "mnist": DatasetInfo(
        name="mnist", title="MNIST", recorded=False, n_inputs=784, n_classes=10,
        subdirs=("mnist", "MNIST/raw"),
        # PyTorch's mirror of LeCun's files (same bytes; the original site often refuses downloads), then
        # LeCun's.
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        gz_sha256={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
        content_sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        home="http://yann.lecun.com/exdb/mnist/",
    ),
    "shd": DatasetInfo(
        name="shd", title="SHD", recorded=True, n_inputs=700, n_classes=20,
        subdirs=("shd",),
        home="https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/",
    ),
}


def dataset_info(name) -> DatasetInfo:
    """The registry entry of ``name``, or :class:`UsageError` listing the known data sets."""
    if not isinstance(name, str) or name not in DATASETS:
        raise UsageError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[name]


def check_split(split) -> str:
    """``split`` if it is ``"train"`` or ``"test"``, else :class:`UsageError`."""
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; choose 'train' or 'test'")
    return split


def default_encoder(name: str, max_time: float | None = None) -> dict:
    """The default encoder of data set ``name``: latency coding for images, binning for recorded spikes
    (over ``max_time`` seconds when given)."""
    if dataset_info(name).recorded:
        window = BINS_DEFAULTS["max_time"] if max_time is None else max_time
        return {"kind": "bins", "max_time": float(window)}
    return {"kind": "latency", **{k: float(v) for k, v in LATENCY_DEFAULTS.items()}}
