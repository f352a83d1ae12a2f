"""The model contract: a model class registers itself by ``name`` when it is defined,
records the arguments it was built with, and saves and loads itself.

Like neuraloperator's ``BaseModel``: subclass :class:`BaseModel`, set the class attribute
``name`` and the class is in ``MODELS`` (so ``get_model(name, **config)`` builds it and
checkpoints of it load) without a line anywhere else.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from typing import Any, ClassVar

from torch import Tensor, nn

from kinnsci._deprecation import Rename, translate_arguments
from kinnsci._registry import register_class
from kinnsci.models.io import read_model_entry, save_model

MODELS: dict[str, type[nn.Module]] = {}


class BaseModel(nn.Module):
    """Base class of kinnsci's models.

    * ``name`` (class attribute): the registry name; defining the class registers it in
      ``MODELS``. A subclass that gives none registers under its class name, lower-cased
      (neuraloperator's rule), so a saved ``MyFNO(FNO)`` reloads as ``MyFNO``, never as
      its parent.
    * ``renamed_arguments`` (class attribute): old constructor keyword -> new keyword (or
      ``(new, convert)``); old names keep working with a ``DeprecationWarning``, in code
      and in saved configs.
    * ``resolution_invariant`` (class attribute): trained on one grid, the model applies
      to others (spectral models).
    * ``config`` (instance): ``{"name": ..., **the constructor's arguments}``, recorded by
      the outermost constructor when every argument is a JSON value; ``save`` writes it
      and ``load``/``kinnsci.models.load_model`` rebuild the model from it.
    """

    name: ClassVar[str]
    renamed_arguments: ClassVar[dict[str, Rename]] = {}
    resolution_invariant: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _recording(init)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()
        register_class(MODELS, cls, "model")

    @classmethod
    def translate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with deprecated argument names replaced (warning once each)."""
        return translate_arguments(cls.__name__, cls.renamed_arguments, config, stacklevel=5)

    def save(self, path: str | os.PathLike, normalizer: dict[str, Tensor] | None = None) -> None:
        """Write config, weights and ``normalizer`` to ``path`` atomically (see
        :func:`kinnsci.models.save_model`)."""
        save_model(self, path, normalizer)

    @classmethod
    def load(cls, path: str | os.PathLike) -> nn.Module:
        """Rebuild a model of this class from a file written by :meth:`save` (or the
        backbone of a checkpoint); :func:`kinnsci.models.load_model` reads the same files
        and gives back what came with them.

        Raises:
            InputNotFoundError: ``path`` does not exist.
            CheckpointError: not a kinnsci file, or a file of another model.
        """
        entry = read_model_entry(path, expected=cls.name)
        config = {k: v for k, v in entry["config"].items() if k != "name"}
        model = instantiate(cls, config)
        prefix = "backbone." if entry["normalized"] else ""
        model.load_state_dict({k.removeprefix(prefix): v for k, v in entry["state"].items()
                               if k.startswith(prefix)})
        return model


def check_rows(model: nn.Module, x: Tensor) -> None:
    """Refuse an input that is not ``(batch, model.in_channels)`` (the vector models:
    KirchhoffNet, DynPMNN, MLP, NeuralODE, CfC).

    Raises:
        ConfigError: naming the model, the expected and the given shape.
    """
    if x.ndim != 2 or x.shape[-1] != model.in_channels:
        from kinnsci.errors import ConfigError

        raise ConfigError(f"{type(model).__name__} expects (batch, {model.in_channels}) "
                          f"inputs, got {tuple(x.shape)}")


def instantiate(cls: type[BaseModel], config: dict[str, Any]) -> nn.Module:
    """``cls(**config)`` with JSON lists read as tuples; the constructor translates old
    argument names and records ``config = {"name": cls.name, **arguments}`` under the new
    ones."""
    model = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    if getattr(model, "config", None) is None:  # a class without a constructor of its own
        model.config = {"name": cls.name, **{k: _jsonable(v) for k, v in config.items()}}
    return model


def _jsonable(value: Any) -> Any:
    return [_jsonable(v) for v in value] if isinstance(value, tuple | list) else value


def _recording(init):
    """``init`` that translates deprecated argument names and, as the outermost
    constructor of an instance, stores the explicit arguments as ``self.config`` (when the
    class has a registry ``name`` and they are JSON values)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recording_init(self, *args, **kwargs):
        kwargs = translate_arguments(type(self).__name__, type(self).renamed_arguments,
                                     kwargs)
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
        config = {k: _jsonable(v) for k, v in bound.items()}
        try:
            json.dumps(config)
        except TypeError:
            return  # not rebuildable from JSON; save_model says so when asked
        self.config = {"name": name, **config}

    return recording_init
