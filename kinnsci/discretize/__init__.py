"""Discretizers: how a continuous-time cell becomes a time stepper.

Registry: ``DISCRETIZERS`` maps names to classes; ``get_discretizer(name_or_instance)``
returns an instance. Add one by writing one file here and one line in ``DISCRETIZERS``.

| name       | order | exact for linear | A-stable | nonlinear cells |
|------------|-------|------------------|----------|-----------------|
| ``zoh``    | exact | yes              | yes      | no              |
| ``euler``  | 1     | no               | no       | yes             |
| ``bilinear``| 2    | no               | yes      | no              |
| ``adaptive``| 5 (dopri5) | to tolerance | —     | yes             |
"""

from kinnsci._registry import lookup
from kinnsci.discretize.adaptive import Adaptive
from kinnsci.discretize.base import Discretizer
from kinnsci.discretize.bilinear import Bilinear
from kinnsci.discretize.euler import Euler
from kinnsci.discretize.zoh import ZOH, phi1
from kinnsci.errors import ConfigError

DISCRETIZERS: dict[str, type[Discretizer]] = {
    "zoh": ZOH,
    "euler": Euler,
    "bilinear": Bilinear,
    "adaptive": Adaptive,
}


def get_discretizer(name: str | Discretizer, **kwargs) -> Discretizer:
    """Return a discretizer instance: ``name`` from ``DISCRETIZERS`` or an instance as is."""
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
    "get_discretizer",
    "phi1",
]
