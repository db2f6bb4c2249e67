"""A training run's files: the checkpoint (everything a resume needs, bit for bit) and the history.

The checkpoint is ``DIR/checkpoint.npz`` (numpy arrays and JSON strings, read with ``allow_pickle=False``),
written atomically after every epoch; ``DIR/history.jsonl`` holds one JSON line per epoch (epoch 0 is the
initial network). A checkpoint carries the run's identity (the settings that shape the result,
:meth:`fxsnn.training.config.TrainConfig.run_identity`): a resume with other settings is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._files import atomic_write
from ..errors import FxsnnError

__all__ = [
    "CHECKPOINT_NAME",
    "HISTORY_NAME",
    "TrainingError",
    "jsonable",
    "write_checkpoint",
    "read_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.npz"
HISTORY_NAME = "history.jsonl"

#: The arrays of a checkpoint, and the JSON-encoded entries.
_ARRAYS = ("weights", "adam_m", "adam_v")
_SCALARS = {
    "adam_t": (np.int64, int),
    "epoch": (np.int64, int),
    "best_accuracy": (np.float64, float),
    "best_epoch": (np.int64, int),
}
_JSON = ("rng_state", "history", "initial")


class TrainingError(FxsnnError):
    """A training run cannot start or resume (the message says why and what to do)."""


def jsonable(data):
    """``data`` as plain JSON values (numpy scalars become Python numbers)."""
    return json.loads(json.dumps(data))


def write_checkpoint(out_dir: Path, state: dict, identity: dict) -> None:
    """Write ``state`` (the keys of :func:`read_checkpoint`'s result) and the history, each atomically."""
    entries = {name: state[name] for name in _ARRAYS}
    entries.update({name: kind(state[name]) for name, (kind, _) in _SCALARS.items()})
    entries.update({name: np.array(json.dumps(state[name])) for name in _JSON})
    entries["identity"] = np.array(json.dumps(jsonable(identity), sort_keys=True))
    with atomic_write(Path(out_dir) / CHECKPOINT_NAME, "wb") as handle:
        np.savez(handle, **entries)
    text = "".join(json.dumps(entry) + "\n" for entry in state["history"])
    with atomic_write(Path(out_dir) / HISTORY_NAME, "wb") as handle:
        handle.write(text.encode())


def read_checkpoint(out_dir: Path, identity: dict) -> dict:
    """The state in ``out_dir``'s checkpoint: ``weights``, ``adam_m``, ``adam_v`` (arrays), ``adam_t``,
    ``epoch``, ``best_accuracy``, ``best_epoch``, ``rng_state``, ``history``, ``initial``.

    Raises
    ------
    TrainingError
        No checkpoint, or one made with other settings than ``identity``.
    """
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        raise TrainingError(f"cannot resume: no checkpoint at {str(path)!r}; start without --resume")
    with np.load(path, allow_pickle=False) as ck:
        stored = json.loads(str(ck["identity"]))
        mine = jsonable(identity)
        if stored != mine:
            diff = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
            raise TrainingError(
                f"cannot resume {str(path)!r}: the config differs from the checkpointed run in {diff!r}"
            )
        state = {name: np.array(ck[name]) for name in _ARRAYS}
        state.update({name: convert(ck[name]) for name, (_, convert) in _SCALARS.items()})
        state.update({name: json.loads(str(ck[name])) for name in _JSON})
    return state
