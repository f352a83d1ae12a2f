"""Lazy package exports (PEP 562): a name is imported from its submodule on first use.

torch takes over a second to import and neuraloperator two more; ``kinnsci --help``, an
argument error or ``import kinnsci.data.generators`` need neither.

A package that uses it also imports its exports under ``typing.TYPE_CHECKING``, so type
checkers and editors see (and jump to) every name; no exported name equals a submodule's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any],
                 exports: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                      Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose public ``exports`` map each
    name to the module defining it (absolute, or relative to ``package``).

    Each name is imported once, on first access, and then kept in ``namespace`` (the
    package's ``globals()``), so later accesses are plain lookups.
    """
    def __getattr__(name: str) -> Any:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__, sorted(exports)
