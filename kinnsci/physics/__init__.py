"""Physics in the loop: each shipped generator's PDE as a residual
(``get_equation(name).residual(ds)`` on its netCDF output, ``residual_tensor`` for
training), and PDEBench-style physics-aware metrics.

A user's PDE plugs in like a generator: subclass :class:`Equation` with the generator's
``name`` and its ``variables``, ``parameters`` and ``residual_tensor``.
"""

from typing import TYPE_CHECKING

from kinnsci._lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy exports below resolve to, for type checkers and editors
    from kinnsci.physics.equation import Equation, generator_of
    from kinnsci.physics.registry import EQUATIONS, get_equation

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), {
    "EQUATIONS": ".registry", "Equation": ".equation", "generator_of": ".equation",
    "get_equation": ".registry",
})
