"""The discretizer contract: turn a continuous-time cell and a step size into an update.

Conventions shared by every discretizer:

* ``coefficients(A, B, dt)`` works elementwise on a diagonal A (the selective-scan case):
  A, B and dt broadcast against each other and the result has their broadcast shape.
  The update is ``h_k = Abar * h_{k-1} + Bbar * u_k``.
* ``coefficients_dense(A, B, dt)`` handles a full ``(state, state)`` A and
  ``(state, input)`` B; a tensor dt of shape ``(...)`` gives ``(..., state, state)``.
* ``solve(cell, h0, u, t)`` uses the zero-order-hold input convention: ``u[..., k, :]``
  drives the interval ``(t[k-1], t[k]]``; ``u[..., 0, :]`` is not used for the state.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci._checks import check_step_size
from kinnsci.cells.base import Cell
from kinnsci.errors import ConfigError


def as_step(dt: float | Tensor, like: Tensor) -> Tensor:
    """``dt`` as a tensor on ``like``'s dtype and device, after checking it is > 0."""
    check_step_size(dt)
    return torch.as_tensor(dt, dtype=like.dtype, device=like.device)


class Discretizer:
    """Base class. Subclasses state ``name``, ``order``, ``exact_for_linear``, ``a_stable``
    and ``supports_nonlinear``, and implement the coefficient formulas and/or :meth:`step`."""

    name: str = "base"
    order: int = 0
    exact_for_linear: bool = False
    a_stable: bool = False
    supports_nonlinear: bool = False
    # linear cells go through coefficients(); Adaptive integrates them like any cell
    steps_linear_cells_in_closed_form: bool = True

    # -- linear cells --------------------------------------------------------------------
    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """Elementwise ``(Abar, Bbar)`` for a diagonal A; shapes broadcast."""
        raise TypeError(f"{type(self).__name__} has no closed-form coefficients; use 'zoh'")

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """``(Abar (..., n, n), Bbar (..., n, m))`` for a dense A ``(n, n)``, B ``(n, m)``."""
        raise TypeError(f"{type(self).__name__} has no closed-form coefficients; use 'zoh'")

    # -- any cell ------------------------------------------------------------------------
    def step(
        self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor, dt: float | Tensor
    ) -> Tensor:
        """One step of length ``dt`` from time ``t``: h ``(..., state)``, u ``(..., input)``
        held constant over the step; dt a float or a tensor broadcastable to ``h.shape[:-1]``.
        Returns the state at ``t + dt``."""
        cell.check_state_input(h, u)
        dt = as_step(dt, h)
        if cell.is_linear and self.steps_linear_cells_in_closed_form:
            return self.linear_step(cell, h, u, dt)
        if not self.supports_nonlinear:
            raise TypeError(self._nonlinear_message(cell))
        return self.nonlinear_step(cell, h, u, t, dt)

    def linear_step(self, cell: Cell, h: Tensor, u: Tensor, dt: Tensor) -> Tensor:
        """h_k = Abar h_{k-1} + Bbar u_k from the cell's (A, B)."""
        A, B, _, _ = cell.matrices()
        if cell.diagonal:
            dt_ = dt[..., None] if dt.ndim else dt
            a_bar, gain = self.coefficients(A, torch.ones_like(A), dt_)
            # Bbar = gain(dt A) * B with the gain shared by every input column
            return a_bar * h + gain * (u @ B.transpose(-1, -2))
        a_bar, b_bar = self.coefficients_dense(A, B, dt)
        return (a_bar @ h[..., None])[..., 0] + (b_bar @ u[..., None])[..., 0]

    def nonlinear_step(
        self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor, dt: Tensor
    ) -> Tensor:
        raise TypeError(self._nonlinear_message(cell))

    def _nonlinear_message(self, cell: Cell) -> str:
        from kinnsci.discretize import DISCRETIZERS

        able = [n for n, d in DISCRETIZERS.items() if d.supports_nonlinear]
        return (
            f"{type(self).__name__} cannot step the nonlinear {type(cell).__name__}: it is "
            f"defined for linear cells only; use one of {able} "
            f"(e.g. get_discretizer('{able[-1]}'))"
        )

    def solve(self, cell: Cell, h0: Tensor, u: Tensor, t: Tensor) -> Tensor:
        """Whole trajectory on the time grid ``t (T,)`` (strictly increasing, seconds).

        h0 ``(..., state)``; u ``(..., T, input)`` with ``u[..., k, :]`` held on
        ``(t[k-1], t[k]]``. Returns ``(..., T, state)`` with ``[..., 0, :] == h0``.
        """
        t = torch.as_tensor(t, dtype=h0.dtype, device=h0.device)
        if t.ndim != 1:
            raise ConfigError(f"t must be a 1-D time grid (T,), got shape {tuple(t.shape)}")
        if u.ndim < 2 or u.shape[-2] != t.shape[0]:
            raise ConfigError(
                f"u must be (..., T, input) with T = len(t) = {t.shape[0]}, got {tuple(u.shape)}"
            )
        steps = torch.diff(t)
        check_step_size(steps, "diff(t)")
        states = [h0]
        for k in range(1, t.shape[0]):
            states.append(self.step(cell, states[-1], u[..., k, :], t[k - 1], steps[k - 1]))
        return torch.stack(states, dim=-2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
