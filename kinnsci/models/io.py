"""Saving and loading models: config + weights (+ normalizer), read with weights_only."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from kinnsci._atomic import atomic_path
from kinnsci.errors import CheckpointError, InputNotFoundError

FORMAT_VERSION = 1


def save_model(
    model: nn.Module, path: str | os.PathLike, normalizer: dict[str, Tensor] | None = None
) -> None:
    """Write ``{"format", "config", "state_dict", "normalizer"}`` to ``path`` atomically
    (temporary file in the same folder, then ``os.replace``). The model needs the
    ``config`` every :class:`kinnsci.models.BaseModel` records when it is built.

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
        "format": FORMAT_VERSION,
        "config": dict(config),
        "state_dict": model.state_dict(),
        "normalizer": dict(normalizer) if normalizer else None,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_model_file(path: str | os.PathLike, expected: str | None = None) -> dict:
    """The checked payload of a file written by :func:`save_model`.

    Raises:
        InputNotFoundError: ``path`` does not exist.
        CheckpointError: not a (readable) kinnsci model file, a newer format, or (with
            ``expected``, a registry name) a file of another model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"model file {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt or not a torch file at all
        raise CheckpointError(
            f"{str(path)!r} is not a readable kinnsci model file (corrupt or truncated: "
            f"{type(exc).__name__}); re-save it or point to another file"
        ) from exc
    if not isinstance(payload, dict) or "config" not in payload or "state_dict" not in payload:
        raise CheckpointError(f"{str(path)!r} is a torch file but not a kinnsci model file")
    if payload.get("format", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} uses model-file format {payload['format']}, newer than this kinnsci "
            f"reads ({FORMAT_VERSION}); upgrade kinnsci"
        )
    config = dict(payload["config"])
    if expected is not None and config.get("name") != expected.lower():
        raise CheckpointError(
            f"{str(path)!r} holds a {config.get('name')!r} model, not {expected!r}; "
            "load it with the matching model"
        )
    return payload
