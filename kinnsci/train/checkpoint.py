"""Training checkpoints: one dict of tensors and plain values, written atomically."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinnsci._atomic import atomic_path
from kinnsci.errors import CheckpointError
from kinnsci.models.io import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, read_torch_file

FORMAT, VERSION = CHECKPOINT_FORMAT, CHECKPOINT_VERSION


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as weights_only-loadable values."""
    np_state = np.random.get_state()  # noqa: NPY002 (the global state user code draws on)
    state = {
        "python": [list(random.getstate()[1]), random.getstate()[2]],
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": np_state[2],
                  "has_gauss": np_state[3], "gauss": np_state[4]},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate((3, tuple(state["python"][0]), state["python"][1]))
    n = state["numpy"]
    legacy = ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
              n["gauss"])
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(payload: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``: a crash at
    any moment leaves either the old checkpoint or the new one, never half a file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, tmp)
    return path


def load_checkpoint(path: str | os.PathLike, expected_model: str | None = None) -> dict:
    """Read a checkpoint (``torch.load(weights_only=True)``, through
    :func:`kinnsci.models.io.read_torch_file`) and check what it is; to resume training.
    A trained model comes back with :func:`kinnsci.models.load_model`.

    Raises:
        InputNotFoundError: ``path`` does not exist.
        CheckpointError: not a (readable) kinnsci checkpoint, a newer format, pickled objects, or
            (with ``expected_model``) another model's.
    """
    path = Path(path)
    payload = read_torch_file(path, "checkpoint")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a kinnsci training checkpoint "
                              "(model files from model.save() load with kinnsci.models)")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {payload['version']}, newer "
                              f"than this kinnsci reads ({VERSION}); upgrade kinnsci")
    name = payload["model"]["config"].get("name")
    if expected_model is not None and name != expected_model:
        raise CheckpointError(f"{path} holds a {name!r} model, not {expected_model!r}; resume "
                              f"with --model {name} or start a new run")
    return payload


def remove_run_temporaries(folder: str | os.PathLike) -> None:
    """Delete every half-written ``.NAME.*.tmp`` file in a run folder being resumed (a
    run folder has one writer; :func:`kinnsci._atomic.remove_stale_temporaries` is the
    per-file, per-process cleanup every atomic write does)."""
    for tmp in Path(folder).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
