"""Looking a name up in one of kinnsci's registries (torch-free, so the command line's
argument checks stay fast)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kinnsci.errors import ConfigError


def lookup(registry: Mapping[str, Any], name: str, kind: str) -> Any:
    """Return ``registry[name]`` (case-insensitive, ``-`` read as ``_``).

    Raises:
        ConfigError: ``name`` is not registered; the message lists the known names.
    """
    key = name.lower().replace("-", "_")
    if key not in registry:
        known = ", ".join(sorted(registry))
        plural = kind + ("es" if kind.endswith(("s", "sh", "ch", "x")) else "s")
        raise ConfigError(f"unknown {kind} {name!r}; known {plural}: {known}")
    return registry[key]


def register_class(registry: dict[str, Any], cls: type, kind: str) -> None:
    """Add ``cls`` to ``registry`` under the ``name`` it defines itself (called from a base
    class's ``__init_subclass__``, so defining the class registers it). A subclass that
    inherits its parent's ``name`` is not registered again.

    Raises:
        ConfigError: another class already holds the name.
    """
    name = cls.__dict__.get("name")
    if name is None:
        return
    existing = registry.get(name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (
            cls.__module__, cls.__qualname__):
        raise ConfigError(f"{kind} name {name!r} of {cls.__module__}.{cls.__qualname__} is "
                          f"taken by {existing.__module__}.{existing.__qualname__}; rename it")
    registry[name] = cls
