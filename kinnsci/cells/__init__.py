"""Continuous-time cells: the physics, with no notion of time steps.

Registry: ``CELLS`` maps names to classes; ``get_cell(name, **kwargs)`` builds one.
Add a cell by writing one file here: a :class:`Cell` subclass with a ``name`` registers
itself when it is defined (import it below so that it is).
"""

from kinnsci._registry import lookup
from kinnsci.cells.base import CELLS, Cell
from kinnsci.cells.branches import BRANCHES, Branch, get_branch
from kinnsci.cells.cascade import CascadeCell
from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.coupled import CoupledKirchhoffCell
from kinnsci.cells.fitzhugh_nagumo import FitzHughNagumoCell
from kinnsci.cells.kirchhoff_node import KirchhoffNodeCell
from kinnsci.cells.linear import LinearCell, LinearCellBase


def get_cell(name: str, **kwargs) -> Cell:
    """Build the cell registered as ``name`` (see ``CELLS``) with ``kwargs``.

    Raises:
        ConfigError: ``name`` is not a registered cell.
    """
    return lookup(CELLS, name, "cell")(**kwargs)


__all__ = [
    "BRANCHES",
    "Branch",
    "CELLS",
    "CascadeCell",
    "CircuitCell",
    "CoupledKirchhoffCell",
    "Cell",
    "FitzHughNagumoCell",
    "KirchhoffNodeCell",
    "LinearCell",
    "LinearCellBase",
    "get_branch",
    "get_cell",
]
