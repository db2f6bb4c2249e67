"""scikit-learn's 8x8 handwritten digits: the embedded default data set (ships inside scikit-learn).

Pixels 0..16 are divided by 16. 1797 samples are split 80/20, stratified: for each class ``c`` (in order
0..9), the class's sample indices (ascending) are permuted with ``numpy.random.default_rng(0).permutation``
(one generator, drawn class by class) and the first ``round(0.2 * n_c)`` of them go to ``test``. Both splits
list samples in ascending original order (1438 train / 359 test).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .dataset import Dataset
from .registry import dataset_info

__all__ = ["load_digits"]


def load_digits(split: str) -> Dataset:
    """The split of scikit-learn's digits described in the module docstring."""
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels = sklearn_digits(return_X_y=True)
    images = np.asarray(images, dtype=np.float64) / 16.0
    labels = np.asarray(labels, dtype=np.int64)
    is_test = np.zeros(labels.size, dtype=bool)
    rng = np.random.default_rng(0)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        n_test = int(round(0.2 * members.size))
        is_test[rng.permutation(members)[:n_test]] = True
    keep = is_test if split == "test" else ~is_test
    images, labels = np.ascontiguousarray(images[keep]), labels[keep]
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(
        name="digits",
        split=split,
        labels=labels,
        n_classes=10,
        n_inputs=images.shape[1],
        num_steps_hint=dataset_info("digits").num_steps_hint,
        images=images,
        events=None,
        fingerprint=hashlib.sha256(f"digits:{split}:{digest}".encode()).hexdigest(),
        source="sklearn.datasets.load_digits",
    )
