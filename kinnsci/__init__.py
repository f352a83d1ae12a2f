"""kinnsci: physics-inspired scientific machine learning built on Kirchhoff circuit dynamics.

Subpackages (imports flow left to right only)::

    cells, discretize, scan -> layers -> models -> train -> cli
                                          data  -> train

See ``docs/`` and ``tutorials/`` for a tour.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kinnsci")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
