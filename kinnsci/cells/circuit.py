"""A whole analog circuit as a cell: KirchhoffNet's node equations (KirchhoffNet, Eq. 7)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kinnsci._checks import check_positive
from kinnsci.cells.base import Cell, place
from kinnsci.cells.branches import Branch, get_branch
from kinnsci.errors import ConfigError


def check_edges(edges: Tensor, n_nodes: int) -> Tensor:
    """Validate an edge list ``(E, 2)`` of (source, destination) node indices, 0 = ground.

    Raises:
        ConfigError: not ``(n_edges, 2)``, a node that does not exist, or a self-loop.
    """
    edges = torch.as_tensor(edges, dtype=torch.long)
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.shape[0] == 0:
        raise ConfigError(f"edges must have shape (n_edges, 2) with n_edges >= 1, got "
                         f"{tuple(edges.shape)}")
    bad = (edges < 0) | (edges > n_nodes)
    if bad.any():
        row = int(bad.any(dim=1).nonzero()[0])
        raise ConfigError(
            f"edge {row} = {edges[row].tolist()} refers to a node that does not exist: nodes "
            f"are 0 (ground) .. {n_nodes}; raise n_nodes or fix the edge list")
    loops = edges[:, 0] == edges[:, 1]
    if loops.any():
        row = int(loops.nonzero()[0])
        raise ConfigError(f"edge {row} = {edges[row].tolist()} connects a node to itself; a "
                         "branch needs two different nodes")
    return edges


class CircuitCell(Cell):
    """N nodes plus ground, each tied to ground by a capacitor C, joined by branch devices.

    KCL at node j (ground voltage pinned to 0)::

        C dv_j/dt = Σ_{edges s→j} g(v_s, v_j; θ_sj) − Σ_{edges j→d} g(v_j, v_d; θ_jd)

    The sums are scatter-adds over the edge list (no loop over edges). Duplicate edges
    are allowed and act as devices in parallel, each with its own parameters (the paper's
    ``repeat``). Units: volts, amperes, farads, seconds.

    Args:
        n_nodes: N (ground excluded).
        edges: (E, 2) source/destination indices in 0..N, 0 being ground.
        branch: a name in ``kinnsci.cells.BRANCHES`` or a :class:`Branch`.
        capacitance: C > 0 of every node, fixed (1 F by default, as in the paper).
        init_std: std of the normal initialisation of θ; default √(2/E) as in the paper.

    State ``v (..., N)``; the circuit is autonomous (``input_dim = 0``): inputs enter as
    initial voltages.

    Raises:
        ConfigError: ``n_nodes < 1`` or bad ``edges`` (see :func:`check_edges`).
    """

    name = "circuit"

    def __init__(self, n_nodes: int, edges: Tensor, branch: str | Branch = "relu_diff", *,
                 capacitance: float = 1.0, init_std: float | None = None,
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if n_nodes < 1:
            raise ConfigError(f"n_nodes must be >= 1, got {n_nodes}")
        check_positive(capacitance, "capacitance", "each node needs a positive capacitor to "
                       "ground for its voltage to evolve")
        self.n_nodes = n_nodes
        self.state_dim, self.input_dim, self.output_dim = n_nodes, 0, n_nodes
        self.register_buffer("edges", check_edges(edges, n_nodes))
        self.branch = get_branch(branch) if isinstance(branch, str) else branch
        self.capacitance = float(capacitance)
        n_edges = self.edges.shape[0]
        std = math.sqrt(2.0 / n_edges) if init_std is None else init_std
        self.theta = nn.Parameter(torch.randn(n_edges, self.branch.n_params) * std)
        place(self, device, dtype)

    def branch_currents(self, v: Tensor) -> Tensor:
        """Current of every edge, source -> destination: v (..., N) -> (..., E).

        Raises:
            ConfigError: ``v`` has another dtype than the parameters (cast one of them).
        """
        full = torch.cat([torch.zeros_like(v[..., :1]), v], dim=-1)  # ground at index 0
        vs = full[..., self.edges[:, 0]]
        vd = full[..., self.edges[:, 1]]
        if v.dtype != self.theta.dtype:  # as torch's own modules do: no silent cast
            raise ConfigError(f"v is {v.dtype} but the circuit's parameters are "
                              f"{self.theta.dtype}; convert one of them (e.g. cell.double() "
                              "or v.float())")
        return self.branch.current(vs, vd, self.theta)

    def node_currents(self, v: Tensor) -> Tensor:
        """Net current into every node including ground: (..., N) -> (..., N + 1).

        Sums to zero over the nodes (charge is conserved: each branch current leaves one
        node and enters another)."""
        i = self.branch_currents(v)
        net = torch.zeros(*v.shape[:-1], self.n_nodes + 1, dtype=v.dtype, device=v.device)
        net = net.index_add(-1, self.edges[:, 1], i)
        return net.index_add(-1, self.edges[:, 0], -i)

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor | None = None) -> Tensor:
        return self.node_currents(h)[..., 1:] / self.capacitance

    def readout(self, h: Tensor, u: Tensor | None = None) -> Tensor:
        return h

    def check_state_input(self, h: Tensor, u: Tensor) -> None:
        """Check that ``h`` holds node voltages ``(..., n_nodes)`` (a circuit has no inputs).

        Raises:
            ConfigError: the last dim of ``h`` is not ``n_nodes``.
        """
        if h.shape[-1] != self.n_nodes:
            raise ConfigError(f"node voltages must have shape (..., {self.n_nodes}), got "
                             f"{tuple(h.shape)}")

    def extra_repr(self) -> str:
        return (f"n_nodes={self.n_nodes}, n_edges={self.edges.shape[0]}, "
                f"branch={self.branch.name!r}, capacitance={self.capacitance}")
