"""Continuous-time cells: the physics, with no notion of time steps.

Registry: ``CELLS`` maps names to classes; ``get_cell(name, **kwargs)`` builds one.
Add a cell by writing one file here and one line in ``CELLS``.
"""

from kinnsci._registry import lookup
from kinnsci.cells.base import Cell
from kinnsci.cells.branches import BRANCHES, Branch, get_branch
from kinnsci.cells.cascade import CascadeCell
from kinnsci.cells.circuit import CircuitCell
from kinnsci.cells.coupled import CoupledKirchhoffCell
from kinnsci.cells.fitzhugh_nagumo import FitzHughNagumoCell
from kinnsci.cells.kirchhoff_node import KirchhoffNodeCell
from kinnsci.cells.linear import LinearCell, LinearCellBase

CELLS: dict[str, type[Cell]] = {
    "linear": LinearCell,
    "kirchhoff_node": KirchhoffNodeCell,
    "cascade": CascadeCell,
    "fitzhugh_nagumo": FitzHughNagumoCell,
    "circuit": CircuitCell,
    "coupled_kirchhoff": CoupledKirchhoffCell,
}


def get_cell(name: str, **kwargs) -> Cell:
    """Build the cell registered as ``name`` (see ``CELLS``) with ``kwargs``."""
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
