"""Saving and loading models: config + weights (+ normalizer), read with weights_only."""

from __future__ import annotations

import functools
import inspect
import json
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
    ``config`` attribute that :func:`kinnsci.models.build_model` sets."""
    config = getattr(model, "config", None)
    if config is None:
        raise CheckpointError(
            f"{type(model).__name__} has no .config; build it with kinnsci.models.build_model "
            "so that it can be rebuilt when loading"
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


def instantiate(cls: type[nn.Module], name: str, config: dict) -> nn.Module:
    """``cls(**config)`` (JSON lists as tuples), carrying ``model.config = {"name": name,
    **config}`` so that it can be saved and rebuilt."""
    model = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    model.config = {"name": name.lower(), **config}
    return model


class SaveLoadMixin:
    """``model.save(path)`` and ``Model.load(path)``; a model class names itself with the
    class attribute ``name`` (its registry name), so loading needs no registry.

    Every instance records the arguments its constructor was called with as ``config``
    (``{"name": ..., **arguments}``), so a model built directly, not only through
    :func:`kinnsci.models.build_model`, can be saved and rebuilt.
    """

    name: str

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _recording(init)

    def save(self, path: str | os.PathLike, normalizer: dict[str, Tensor] | None = None) -> None:
        save_model(self, path, normalizer)

    @classmethod
    def load(cls, path: str | os.PathLike) -> nn.Module:
        payload = read_model_file(path, expected=cls.name)
        config = {k: v for k, v in payload["config"].items() if k != "name"}
        model = instantiate(cls, cls.name, config)
        model.load_state_dict(payload["state_dict"])
        return model


def _recording(init):
    """``init`` that, as the outermost constructor of an instance, stores the explicit
    arguments as ``self.config`` (when the class has a registry ``name`` and they are
    JSON values)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recording_init(self, *args, **kwargs):
        depth = self.__dict__.get("_init_depth", 0)
        object.__setattr__(self, "_init_depth", depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_init_depth", depth)
        name = getattr(type(self), "name", None)
        if depth or name is None or getattr(self, "config", None) is not None:
            return
        bound = signature.bind(self, *args, **kwargs).arguments
        bound.pop(next(iter(signature.parameters)))  # self
        for param in signature.parameters.values():
            if param.kind is param.VAR_KEYWORD and param.name in bound:
                bound.update(bound.pop(param.name))
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in bound.items()}
        try:
            json.dumps(config)
        except TypeError:
            return  # not rebuildable from JSON; save_model says so when asked
        self.config = {"name": name, **config}

    return recording_init
