"""Saving and loading models: config + weights (+ normalizer), read with weights_only."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from kinnsci._atomic import atomic_path
from kinnsci.errors import CheckpointError, InputNotFoundError

FORMAT = "kinnsci-model"
VERSION = 2
"""Model files: ``{"format": FORMAT, "version", "model": {"config", "state"},
"normalizer"}``; the ``model`` entry is the same as a training checkpoint's, so one
loader (:func:`kinnsci.models.load_model`) reads both. Version 1 (kinnsci <= 0.2:
``{"format": 1, "config", "state_dict", "normalizer"}``) still loads."""

CHECKPOINT_FORMAT = "kinnsci-checkpoint"
CHECKPOINT_VERSION = 1
"""Training checkpoints (:mod:`kinnsci.train.checkpoint`): the model entry above plus the
optimiser, scheduler, scaler, RNG states, history and the run's ``extra``."""


def save_model(
    model: nn.Module, path: str | os.PathLike, normalizer: dict[str, Tensor] | None = None
) -> None:
    """Write the model's config and weights (and ``normalizer``) to ``path`` atomically
    (temporary file in the same folder, then ``os.replace``). The model needs the
    ``config`` every :class:`kinnsci.models.BaseModel` records when it is built; a
    :class:`~kinnsci.models.NormalizedOperator` (a trained model) keeps its normalisers
    in its weights, as checkpoints do. ``normalizer``: your own statistics for a
    backbone you normalise outside kinnsci, given back by ``load_model(path).normalizer``.

    Raises:
        CheckpointError: the model has no JSON ``config`` to rebuild it from.
    """
    config = getattr(model, "config", None)
    if config is None:
        raise CheckpointError(
            f"{type(model).__name__} has no .config: subclass kinnsci.models.BaseModel (its "
            "constructor arguments must be JSON values) or build it with "
            "kinnsci.models.get_model, so that it can be rebuilt when loading"
        )
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"config": dict(config), "state": model.state_dict()},
        "normalizer": dict(normalizer) if normalizer else None,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_torch_file(path: str | os.PathLike, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, for every file kinnsci reads back
    (``what`` names it in errors: "model file", "checkpoint").

    Raises:
        InputNotFoundError: ``path`` does not exist.
        CheckpointError: corrupt or truncated, or holding pickled Python objects (never
            unpickled: that can run arbitrary code).
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{what} {str(path)!r} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" not in str(exc).lower():  # no Python object: a damaged file
            raise CheckpointError(f"{what} {str(path)!r} is corrupt or truncated (not a torch "
                                  "file kinnsci can read); use an earlier copy or retrain"
                                  ) from exc
        raise CheckpointError(
            f"{str(path)!r} holds pickled Python objects (e.g. a whole nn.Module saved with "
            "torch.save(model)), which kinnsci never unpickles: loading them can run "
            "arbitrary code. Use a file written by kinnsci train or model.save()"
        ) from exc
    except Exception as exc:  # truncated, corrupt or not a torch file at all
        raise CheckpointError(
            f"{what} {str(path)!r} is corrupt or truncated ({type(exc).__name__}: {exc}); "
            "use an earlier copy, re-save it or retrain") from exc


def read_model_entry(path: str | os.PathLike, expected: str | None = None) -> dict:
    """``{"kind", "config", "state", "normalizer", "extra", "normalized"}`` of any file
    kinnsci writes: a model file (either version) or a training checkpoint (``kind``
    "model" or "checkpoint"; ``normalized``: the state is a trained
    ``NormalizedOperator``'s, backbone weights under ``backbone.``), after checking what it
    is.

    Raises:
        InputNotFoundError: ``path`` does not exist.
        CheckpointError: not a (readable) kinnsci file, a newer format, or (with
            ``expected``, a registry name) a file of another model.
    """
    payload = read_torch_file(path, "model file")
    where = str(Path(path))
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt == 1 and "config" in payload and "state_dict" in payload:  # kinnsci <= 0.2
        entry = {"kind": "model", "config": payload["config"], "state": payload["state_dict"],
                 "normalizer": payload.get("normalizer"), "extra": {}}
    elif fmt in (FORMAT, CHECKPOINT_FORMAT) and isinstance(payload.get("model"), dict):
        newest = VERSION if fmt == FORMAT else CHECKPOINT_VERSION
        if payload.get("version", 0) > newest:
            raise CheckpointError(f"{where!r} uses {fmt} format version {payload['version']}, "
                                  f"newer than this kinnsci reads ({newest}); upgrade kinnsci")
        entry = {"kind": "model" if fmt == FORMAT else "checkpoint",
                 "config": payload["model"]["config"], "state": payload["model"]["state"],
                 "normalizer": payload.get("normalizer"), "extra": payload.get("extra", {})}
    elif isinstance(fmt, int) and fmt > 1:
        raise CheckpointError(f"{where!r} uses model-file format {fmt}, newer than this "
                              f"kinnsci reads ({VERSION}); upgrade kinnsci")
    else:
        raise CheckpointError(f"{where!r} is a torch file but not a kinnsci model file or "
                              "checkpoint")
    entry["config"] = dict(entry["config"])
    # a trained model (NormalizedOperator): its normalisers are in its state
    entry["normalized"] = "input_normalizer.shift" in entry["state"]
    name = entry["config"].get("name")
    if expected is not None and name != expected.lower():
        raise CheckpointError(f"{where!r} holds a {name!r} model, not {expected!r}; load it "
                              "with the matching model")
    return entry


def read_model_file(path: str | os.PathLike, expected: str | None = None) -> dict:
    """Deprecated: :func:`read_model_entry` reads model files and checkpoints alike.
    Returns the old layout ``{"format", "config", "state_dict", "normalizer"}``."""
    from kinnsci._deprecation import warn_deprecated

    warn_deprecated("kinnsci.models.io.read_model_file(path)",
                    "kinnsci.models.load_model(path) or kinnsci.models.io.read_model_entry")
    entry = read_model_entry(path, expected)
    return {"format": 1, "config": entry["config"], "state_dict": entry["state"],
            "normalizer": entry["normalizer"]}
