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
