"""Discretizers: how a continuous-time cell becomes a time stepper.

Registry: ``DISCRETIZERS`` maps names to classes; ``get_discretizer(name_or_instance)``
returns an instance. Add one by writing one file here (a :class:`Discretizer` subclass
with a ``name`` registers itself) and importing it below.

| name       | order | exact for linear | A-stable | nonlinear cells |
|------------|-------|------------------|----------|-----------------|
| ``zoh``    | None (exact) | yes       | yes      | no              |
| ``euler``  | 1     | no               | no       | yes             |
| ``bilinear``| 2    | no               | yes      | no              |
| ``adaptive``| the method's (5 for dopri5) | to tolerance | — | yes   |
"""

from kinnsci._registry import lookup
from kinnsci.discretize.adaptive import Adaptive
from kinnsci.discretize.base import DISCRETIZERS, Discretizer, LinearDiscretizer
from kinnsci.discretize.bilinear import Bilinear
from kinnsci.discretize.euler import Euler
from kinnsci.discretize.zoh import ZOH, phi1
from kinnsci.errors import ConfigError


def get_discretizer(name: str | Discretizer, **kwargs) -> Discretizer:
    """Return a discretizer instance: ``name`` from ``DISCRETIZERS`` or an instance as is.

    Raises:
        ConfigError: unknown name, or ``kwargs`` given with an instance.
        TypeError: ``name`` is neither a string nor a :class:`Discretizer`.
    """
    if isinstance(name, Discretizer):
        if kwargs:
            raise ConfigError("kwargs are only used when the discretizer is given by name")
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"discretizer must be a name ({', '.join(DISCRETIZERS)}) or a Discretizer "
            f"instance, got {type(name).__name__}"
        )
    return lookup(DISCRETIZERS, name, "discretizer")(**kwargs)


__all__ = [
    "DISCRETIZERS",
    "ZOH",
    "Adaptive",
    "Bilinear",
    "Discretizer",
    "Euler",
    "LinearDiscretizer",
    "get_discretizer",
    "phi1",
]
