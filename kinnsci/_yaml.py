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


def read_yaml_mapping(path: str | Path, argument: str = "--config") -> dict[str, Any]:
    """The mapping in a YAML (or JSON) file, read with ``yaml.safe_load``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a syntax error (with its line and column), or a file that does not
            hold a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"{argument}: {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{argument}: {path} is not valid YAML ({yaml_problem(exc)})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{argument}: {path} must hold a mapping of settings, got "
                         f"{type(values).__name__}")
    return values
