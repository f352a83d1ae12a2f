"""Finding an equation by its generator's name (the shipped equations are imported here,
so ``EQUATIONS`` is complete once this module is)."""

from __future__ import annotations

from kinnsci._registry import lookup
from kinnsci.physics import darcy, navier_stokes, poisson, shallow_water  # noqa: F401
from kinnsci.physics.equation import EQUATIONS, Equation


def get_equation(name: str) -> Equation:
    """The equation registered under ``name`` (a generator's name), as an instance; a
    user's :class:`~kinnsci.physics.equation.Equation` subclass is registered once its
    module is imported.

    Raises:
        ConfigError: no equation has that name (the message lists the known ones).
    """
    return lookup(EQUATIONS, name, "equation")()


__all__ = ["EQUATIONS", "get_equation"]
