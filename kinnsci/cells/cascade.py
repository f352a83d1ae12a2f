"""Cells in series: the continuous-time cascade behind the Cascaded Kirchhoff Block."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from kinnsci.cells.base import Cell
from kinnsci.errors import ConfigError


class CascadeCell(Cell):
    """K cells in series, stage k driven by the output of stage k-1 (u_1 = u, u_k = y_{k-1}).

    For Kirchhoff nodes (dV_k/dt = -a_k V_k + b_k u_k, y_k = c_k V_k + d_k u_k) the
    end-to-end system is of order K (KINN, Eq. 15-16)::

        prod_k (s + a_k) Y_K(s) = prod_k (d_k s + d_k a_k + c_k b_k) U(s)

    The state is the concatenation of the stages' states ``(..., sum_k state_dim_k)``. When
    every stage is linear the cascade is linear too, with a block lower-triangular A that
    :meth:`matrices` assembles, so exact (ZOH) discretization applies.

    Raises:
        ConfigError: no cells, or a cell whose input does not take the previous one's output.
    """

    name = "cascade"

    def __init__(self, cells: Sequence[Cell]) -> None:
        super().__init__()
        if len(cells) == 0:
            raise ConfigError("cells must hold at least one cell, got an empty sequence")
        for k in range(1, len(cells)):
            if cells[k].input_dim != cells[k - 1].output_dim:
                raise ConfigError(
                    f"cells[{k}].input_dim ({cells[k].input_dim}) must equal "
                    f"cells[{k - 1}].output_dim ({cells[k - 1].output_dim}): "
                    "each stage is driven by the previous stage's output"
                )
        self.cells = nn.ModuleList(cells)
        self.state_dim = sum(c.state_dim for c in cells)
        self.input_dim = cells[0].input_dim
        self.output_dim = cells[-1].output_dim
        self._splits = [c.state_dim for c in cells]

    @property
    def order(self) -> int:
        """Number of stages K."""
        return len(self.cells)

    @property
    def is_linear(self) -> bool:  # type: ignore[override]
        return all(c.is_linear for c in self.cells)

    @property
    def diagonal(self) -> bool:
        return self.is_linear and len(self.cells) == 1 and self.cells[0].diagonal

    def _stage_io(self, h: Tensor, u: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Split the state and compute every stage's input; the last entry of the inputs
        list is the cascade's output."""
        states = list(torch.split(h, self._splits, dim=-1))
        inputs = [u]
        for cell, h_k in zip(self.cells, states, strict=True):
            inputs.append(cell.readout(h_k, inputs[-1]))
        return states, inputs

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor) -> Tensor:
        states, inputs = self._stage_io(h, u)
        return torch.cat(
            [
                c.vector_field(t, h_k, u_k)
                for c, h_k, u_k in zip(self.cells, states, inputs, strict=False)
            ],
            dim=-1,
        )

    def readout(self, h: Tensor, u: Tensor) -> Tensor:
        return self._stage_io(h, u)[1][-1]

    def stage_outputs(self, h: Tensor, u: Tensor) -> list[Tensor]:
        """Outputs y_1..y_K of every stage (for dense aggregation): K tensors (..., out_k)."""
        return self._stage_io(h, u)[1][1:]

    def _require_linear(self, what: str) -> None:
        if not self.is_linear:
            kinds = ", ".join(type(c).__name__ for c in self.cells)
            raise TypeError(f"CascadeCell.{what} needs linear stages, got [{kinds}]")

    def matrices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Equivalent state-space form of the whole cascade; A is ``(state, state)``.

        With stage matrices (A_k, B_k, C_k, D_k), stage k sees
        u_k = sum_{j<k} D_{k-1}..D_{j+1} C_j h_j + D_{k-1}..D_1 u.
        """
        self._require_linear("matrices")
        mats = [c.matrices() for c in self.cells]
        dense = [(c.dense_A(), B, C, D) for c, (_, B, C, D) in zip(self.cells, mats, strict=True)]
        ref = dense[0][0]
        n = self.state_dim
        A = ref.new_zeros(n, n)
        B = ref.new_zeros(n, self.input_dim)
        # rows of "maps": how u_k depends on (h_1..h_{k-1}) and on u
        map_h = ref.new_zeros(self.input_dim, n)
        map_u = torch.eye(self.input_dim, dtype=ref.dtype, device=ref.device)
        offset = 0
        for A_k, B_k, C_k, D_k in dense:
            s = A_k.shape[0]
            A[offset : offset + s] += B_k @ map_h
            A[offset : offset + s, offset : offset + s] += A_k
            B[offset : offset + s] = B_k @ map_u
            # u_{k+1} = C_k h_k + D_k u_k
            new_h = D_k @ map_h
            new_h[:, offset : offset + s] += C_k
            map_h, map_u = new_h, D_k @ map_u
            offset += s
        return A, B, map_h, map_u

    def dense_A(self) -> Tensor:
        return self.matrices()[0]

    def poles(self) -> Tensor:
        """Poles of the cascade (the stages' poles; A is block triangular): complex ``(state,)``."""
        self._require_linear("poles")
        return torch.cat([c.poles() for c in self.cells])

    def time_constants(self) -> Tensor:
        """1 / a_k of every stage in seconds: float64 ``(state,)``."""
        return -1.0 / self.poles().real

    def transfer_function(self, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """End-to-end transfer function of ``channel`` as the product of the stages' own
        (Eq. 16): returns ``(num, den)``, float64 polynomial coefficients in s, highest
        power first (the ``scipy.signal`` convention). Stages must not mix channels."""
        self._require_linear("transfer_function")
        num, den = np.array([1.0]), np.array([1.0])
        for cell in self.cells:
            n_k, d_k = cell.channel_transfer_function(channel)
            num, den = np.polymul(num, n_k), np.polymul(den, d_k)
        return num, den

    def channel_transfer_function(self, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        return self.transfer_function(channel)
