"""Lazy package exports (PEP 562): a name is imported from its submodule on first use.

torch takes over a second to import and neuraloperator two more; ``kinnsci --help``, an
argument error or ``import kinnsci.data.generators`` need neither.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose exported name can equal a submodule's (``kinnsci.train.rollout`` is
    a module and the function it defines): importing the submodule binds the name to the
    export, as an eager ``from .rollout import rollout`` in ``__init__`` would."""

    def __setattr__(self, name: str, value: Any) -> None:
        exports = self.__dict__.get("_lazy_exports", {})
        if (isinstance(value, types.ModuleType) and name in exports
                and value.__name__ == f"{self.__name__}.{name}" and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_exports(package: str, namespace: dict[str, Any],
                 exports: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                      Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` whose public ``exports`` map each
    name to the module defining it (absolute, or relative to ``package``).

    Each name is imported once, on first access, and then kept in ``namespace`` (the
    package's ``globals()``), so later accesses are plain lookups.
    """
    namespace["_lazy_exports"] = dict(exports)
    sys.modules[package].__class__ = _LazyPackage
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
