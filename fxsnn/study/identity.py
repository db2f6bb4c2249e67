"""Run ids: a content hash of everything that shapes a run's result.

A run's id is the first 16 hex digits of the SHA-256 of its identity: the fully resolved training config
(:meth:`fxsnn.training.TrainConfig.run_identity`, which leaves out where files go, the thread count and the
data location, plus the number of epochs) and the versions of the integer arithmetic and of the model file
format. The same settings give the same id on any machine; changing any setting, or either version, gives a
new id, so a sweep reruns exactly the runs whose results could differ.
"""

from __future__ import annotations

import hashlib
import json

from fxsnn._arith import ARITHMETIC_VERSION
from fxsnn.model import FORMAT_VERSION

__all__ = ["run_identity", "run_id", "RUN_ID_LENGTH"]

#: Hex digits of a run id (64 bits: no collision among any realistic number of runs).
RUN_ID_LENGTH = 16


def run_identity(config) -> dict:
    """Everything a run's result depends on, as a JSON-ready dict (hashed by :func:`run_id`)."""
    settings = json.loads(json.dumps(config.run_identity()))
    settings["epochs"] = config.epochs
    return {
        "config": settings,
        "arithmetic_version": ARITHMETIC_VERSION,
        "model_format_version": FORMAT_VERSION,
    }


def run_id(config) -> str:
    """The content-hashed id of a run with ``config`` (a :class:`~fxsnn.training.TrainConfig`)."""
    text = json.dumps(run_identity(config), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:RUN_ID_LENGTH]
