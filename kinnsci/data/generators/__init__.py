"""Seeded PDE simulators that write CF-1.8 netCDF (one file per PDE, one registry).

Generators of other packages or scripts join the registry, and so ``kinnsci generate``,
through :func:`register_generator`: a package declares them as entry points of the group
``kinnsci.generators``; a script's file or module is named in ``KINNSCI_PLUGINS``
(``os.pathsep``-separated) and calls ``register_generator`` when imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from importlib.metadata import entry_points
from pathlib import Path

from kinnsci._registry import lookup
from kinnsci.data.generators.base import Generator, generate
from kinnsci.data.generators.darcy import Darcy, solve_darcy
from kinnsci.data.generators.long_range import LongRange, row_response
from kinnsci.data.generators.navier_stokes import NavierStokes, solve_vorticity
from kinnsci.data.generators.poisson import Poisson, solve_poisson
from kinnsci.data.generators.shallow_water import ShallowWater, solve_shallow_water
from kinnsci.errors import ConfigError

ENTRY_POINT_GROUP = "kinnsci.generators"
PLUGINS_VARIABLE = "KINNSCI_PLUGINS"

GENERATORS: dict[str, type[Generator]] = {}
_plugins_loaded = False


def _same_class(a: type, b: type) -> bool:
    # one file imported twice (by a script and through KINNSCI_PLUGINS) is one generator
    try:
        return a.__qualname__ == b.__qualname__ and inspect.getfile(a) == inspect.getfile(b)
    except TypeError:
        return a is b


def register_generator(cls: type[Generator]) -> type[Generator]:
    """Make ``cls`` available as ``cls.name`` to :func:`get_generator`,
    :func:`generate` and ``kinnsci generate`` (usable as a class decorator).

    Raises:
        ConfigError: ``cls`` is not a ``Generator`` subclass with a ``name`` and
            ``title``, or another generator has that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise ConfigError(f"register_generator expects a Generator subclass, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or not hasattr(cls, "title"):
        raise ConfigError(f"generator {cls.__qualname__} needs a class attribute name (an "
                          "identifier such as 'allen_cahn') and a one-line title")
    existing = GENERATORS.get(name)
    if existing is not None and not _same_class(existing, cls):
        raise ConfigError(f"generator name {name!r} of {cls.__module__}.{cls.__qualname__} is "
                          f"taken by {existing.__module__}.{existing.__qualname__}; rename it")
    GENERATORS[name] = cls
    return cls


for _builtin in (Darcy, Poisson, NavierStokes, ShallowWater, LongRange):
    register_generator(_builtin)  # the built-ins join the registry as plug-ins do


def _import_plugin(spec: str) -> None:
    path = Path(spec)
    try:
        if path.suffix == ".py":
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist")
            module_spec = importlib.util.spec_from_file_location(
                f"kinnsci_plugin_{path.stem}", path)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{PLUGINS_VARIABLE}: cannot import plug-in {spec!r} "
                          f"({type(exc).__name__}: {exc})") from exc


def load_plugins() -> None:
    """Import the generator plug-ins once: the ``kinnsci.generators`` entry points of
    installed packages, then the files or modules named in ``KINNSCI_PLUGINS``.

    Raises:
        ConfigError: a plug-in cannot be imported or does not register a valid generator.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = point.load()
        except Exception as exc:
            raise ConfigError(f"generator plug-in {point.name!r} ({point.value}) cannot be "
                              f"imported ({type(exc).__name__}: {exc})") from exc
        register_generator(cls)
        if cls.name != point.name:
            raise ConfigError(f"entry point {point.name!r} of group {ENTRY_POINT_GROUP!r} "
                              f"names generator {cls.name!r}; make the two names equal")
    for spec in filter(None, os.environ.get(PLUGINS_VARIABLE, "").split(os.pathsep)):
        _import_plugin(spec)


def get_generator(name: str) -> Generator:
    """Instantiate the generator registered as ``name`` (built in, or a plug-in).

    Raises:
        ConfigError: no generator has that name (the message lists the known ones).
    """
    if name.lower().replace("-", "_") not in GENERATORS:
        load_plugins()
    return lookup(GENERATORS, name, "generator")()


__all__ = [
    "ENTRY_POINT_GROUP", "GENERATORS", "Generator", "PLUGINS_VARIABLE", "generate",
    "get_generator", "load_plugins", "register_generator", "Darcy", "LongRange", "Poisson",
    "NavierStokes", "ShallowWater", "solve_darcy", "solve_poisson", "solve_vorticity",
    "solve_shallow_water", "row_response",
]
