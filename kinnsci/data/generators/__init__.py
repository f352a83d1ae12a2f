"""Seeded PDE simulators that write CF-1.8 netCDF (one file per PDE, one registry)."""

from __future__ import annotations

from kinnsci._registry import lookup
from kinnsci.data.generators.base import Generator, generate
from kinnsci.data.generators.darcy import Darcy, solve_darcy
from kinnsci.data.generators.navier_stokes import NavierStokes, solve_vorticity
from kinnsci.data.generators.poisson import Poisson, solve_poisson
from kinnsci.data.generators.shallow_water import ShallowWater, solve_shallow_water

GENERATORS: dict[str, type[Generator]] = {
    cls.name: cls for cls in (Darcy, Poisson, NavierStokes, ShallowWater)
}


def get_generator(name: str) -> Generator:
    """Instantiate the generator registered as ``name`` (see ``GENERATORS``)."""
    return lookup(GENERATORS, name, "generator")()


__all__ = [
    "GENERATORS", "Generator", "generate", "get_generator", "Darcy", "Poisson",
    "NavierStokes", "ShallowWater", "solve_darcy", "solve_poisson", "solve_vorticity",
    "solve_shallow_water",
]
