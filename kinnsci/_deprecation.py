"""Renamed public names keep working for one release, with a ``DeprecationWarning``.

Three kinds of rename, one helper each:

* a keyword argument (``FNO(width=20)`` -> ``FNO(hidden_channels=20)``):
  :func:`renamed_arguments` on the function, or ``renamed_arguments = {...}`` on a model
  class (models translate their saved configs the same way);
* a function, class or constant of a module (``build_model`` -> ``get_model``):
  :func:`deprecated_attributes` as the module's ``__getattr__``;
* a method (``Normalizer.encode`` -> ``Normalizer.transform``): :func:`renamed_method`.

A rename may convert the value too: map the old name to ``(new_name, convert)``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from kinnsci.errors import ConfigError

REMOVED_IN = "0.3"

Rename = str | tuple[str, Callable[[Any], Any]]


def warn_deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` (both as the user writes them)."""
    warnings.warn(f"{old} is deprecated and will be removed in kinnsci {REMOVED_IN}; "
                  f"use {new}", DeprecationWarning, stacklevel=stacklevel)


def translate_arguments(owner: str, renames: Mapping[str, Rename], kwargs: dict[str, Any],
                        stacklevel: int = 4) -> dict[str, Any]:
    """``kwargs`` with every old name in ``renames`` replaced by its new name (and value),
    warning once per old name used.

    Raises:
        ConfigError: both the old and the new name were given.
    """
    if not renames or not set(renames) & set(kwargs):
        return kwargs
    out = dict(kwargs)
    for old, rename in renames.items():
        if old not in out:
            continue
        new, convert = (rename, None) if isinstance(rename, str) else rename
        if new in out:
            raise ConfigError(f"{owner} got both {old}= (deprecated) and {new}=; pass only "
                              f"{new}=")
        value = out.pop(old)
        out[new] = convert(value) if convert is not None else value
        shown = f"{new}={out[new]!r}" if convert is not None else f"{new}="
        warn_deprecated(f"{owner}({old}=...)", shown, stacklevel)
    return out


def renamed_arguments(**renames: Rename) -> Callable:
    """Decorator: the old keyword names still work, translated to the new ones with a
    warning. ``inspect.signature`` of the result shows the new signature only."""
    def decorate(function: Callable) -> Callable:
        owner = function.__qualname__.removesuffix(".__init__")

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            return function(*args, **translate_arguments(owner, renames, kwargs))

        wrapper.renamed_arguments = dict(renames)
        return wrapper

    return decorate


def deprecated_attributes(module: str, renames: Mapping[str, tuple[str, Callable[[], Any]]]
                          ) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) serving old names: ``renames`` maps each old name
    to ``(what to use instead, a function returning the object)``."""
    def __getattr__(name: str) -> Any:
        if name not in renames:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, resolve = renames[name]
        warn_deprecated(f"{module}.{name}", new)
        return resolve()

    return __getattr__


def renamed_method(old: str, new: str) -> Callable:
    """A method ``old`` that warns and calls ``self.<new>``."""
    def method(self, *args, **kwargs):
        warn_deprecated(f"{type(self).__name__}.{old}", f".{new}")
        return getattr(self, new)(*args, **kwargs)

    method.__name__ = old
    method.__doc__ = f"Deprecated alias of :meth:`{new}` (removed in kinnsci {REMOVED_IN})."
    return method
