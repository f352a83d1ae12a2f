"""Reading the YAML files users write (run configs, generation recipes) safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kinnsci.errors import ConfigError, InputNotFoundError


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what a YAML syntax error is, in one line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + str(getattr(exc, "problem", None) or exc).splitlines()[0]


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping (the plain
    loader keeps the last and silently drops the first)."""


def _unique_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"key {key!r} is written twice (lines {seen[key]} and {line}); "
                              "keep one")
        seen[key] = line
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml_mapping(path: str | Path, argument: str = "--config") -> dict[str, Any]:
    """The mapping in a YAML (or JSON) file, read with ``yaml.safe_load``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a syntax error (with its line and column), or a file that does not
            hold a mapping.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{argument}: {path} is a folder; pass the YAML/JSON file in it "
                          "(e.g. runs/fno/config.yaml)")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{argument}: {path} is not a regular file")
    if not path.is_file():
        raise InputNotFoundError(f"{argument}: {path} does not exist")
    try:
        values = yaml.load(path.read_text(), Loader=_StrictLoader) or {}  # noqa: S506 (safe)
    except ConfigError as exc:
        raise ConfigError(f"{argument}: {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{argument}: {path} is not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{argument}: {path} must hold a mapping of settings, got "
                         f"{type(values).__name__}")
    return values
