"""The encoded training and test sets of a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..datasets import default_encoder, encode_dataset, load_dataset

__all__ = ["TrainingData", "load_training_data"]


@dataclass(eq=False)
class TrainingData:
    """Encoded training and test sets of a run."""

    name: str
    encoder: dict
    train_events: object
    train_labels: np.ndarray
    test_events: object
    test_labels: np.ndarray
    n_classes: int


def load_training_data(config) -> TrainingData:
    """Load and encode the data set of ``config`` (fxsnn.datasets), honouring train/test sample limits."""
    parts = {}
    for split in ("train", "test"):
        ds = load_dataset(config.dataset, split, data_dir=config.data_dir)
        encoder = (
            dict(config.encoder) if config.encoder is not None else default_encoder(ds.name, ds.max_time)
        )
        steps = config.steps if config.steps is not None else ds.num_steps_hint
        events = encode_dataset(ds, encoder, steps, seed=config.seed)
        labels = np.ascontiguousarray(ds.labels, dtype=np.int64)
        limit = config.train_samples if split == "train" else config.test_samples
        if limit and limit < events.n_samples:
            events = events.select(np.arange(limit))
            labels = labels[:limit]
        parts[split] = (events, labels, ds, encoder)
    ds = parts["train"][2]
    return TrainingData(
        config.dataset,
        parts["train"][3],
        parts["train"][0],
        parts["train"][1],
        parts["test"][0],
        parts["test"][1],
        ds.n_classes,
    )
