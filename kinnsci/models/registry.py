"""Name -> model class, with configs that round-trip through JSON."""

from __future__ import annotations

import inspect
import json

import torch
from torch import nn

from kinnsci._registry import lookup
from kinnsci.errors import ConfigError
from kinnsci.models import (  # noqa: F401
    cfc,
    dynpmnn,
    fno,
    kirchhoff_flow,
    kirchhoffnet,
    mlp,
    neural_ode,
    unet,
    vision,
)
from kinnsci.models.base import MODELS, instantiate

# The model modules above register their classes in MODELS when they are defined
# (kinnsci.models.base.BaseModel); importing them here makes the registry complete.


def valid_config_keys(name: str) -> list[str]:
    """The keyword arguments the model registered as ``name`` accepts (new names only).

    Raises:
        ConfigError: ``name`` is not a registered model.
    """
    cls = lookup(MODELS, name, "model")
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def get_model(name: str, **config) -> nn.Module:
    """Build the model registered as ``name`` from JSON-compatible keyword arguments.

    The result carries ``model.config = {"name": name, **config}``; ``json.dumps`` of it and
    ``get_model(**json.loads(...))`` rebuild the same architecture. Deprecated argument
    names (a config saved by an older kinnsci) are translated with a warning.

    Raises:
        ConfigError: unknown model name, unknown config keys or a config that is not JSON.
    """
    cls = lookup(MODELS, name, "model")
    config = cls.translate_config(config)
    valid = valid_config_keys(name)
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise ConfigError(f"unknown config keys for model {name!r}: {unknown}; valid keys: {valid}")
    try:
        json.dumps(config)  # configs are saved with checkpoints: fail early if not JSON-able
    except TypeError as exc:
        raise ConfigError(f"the config of model {name!r} must hold JSON values only "
                          f"(numbers, strings, lists, dicts): {exc}") from exc
    return instantiate(cls, config)


def count_parameters(model: nn.Module) -> int:
    """Parameter count with a complex weight counted as one (torch ``numel``)."""
    return sum(p.numel() for p in model.parameters())


def set_dtype(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast a model's real parameters to ``dtype`` and complex ones to the matching complex
    dtype (``model.double()`` skips complex spectral weights; ``model.to(float64)`` would
    drop their imaginary part).

    Raises:
        ConfigError: ``dtype`` is not float32 or float64.
    """
    complex_dtype = {torch.float64: torch.complex128, torch.float32: torch.complex64}.get(dtype)
    if complex_dtype is None:
        raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    for tensor in list(model.parameters()) + list(model.buffers()):
        target = complex_dtype if tensor.is_complex() else dtype
        if tensor.is_floating_point() or tensor.is_complex():
            tensor.data = tensor.data.to(target)
    return model
