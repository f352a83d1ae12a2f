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

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor

from kinnsci._checks import check_step_size
from kinnsci._registry import register_class
from kinnsci.cells.base import Cell
from kinnsci.errors import ConfigError

DISCRETIZERS: dict[str, type[Discretizer]] = {}  # filled as each discretizer is defined


def as_step(dt: float | Tensor, like: Tensor) -> Tensor:
    """``dt`` as a tensor on ``like``'s dtype and device, after checking it is > 0 (a
    tensor's values only under ``KINNSCI_CHECKS=1``: see
    :func:`kinnsci._checks.value_checks_enabled`)."""
    check_step_size(dt)
    return torch.as_tensor(dt, dtype=like.dtype, device=like.device)


class Discretizer(ABC):
    """Base class of discretizers (an abstract base class: a subclass that misses
    :meth:`coefficients` or :meth:`step` cannot be instantiated).

    A subclass states, as class attributes:

    * ``name``: its registry name (defining the class registers it in ``DISCRETIZERS``);
    * ``order``: the global order of accuracy in dt, or ``None`` when the update is exact
      for linear cells (``zoh``); ``adaptive`` reports its method's order;
    * ``exact_for_linear``, ``a_stable``, ``supports_nonlinear``.
    """

    name: ClassVar[str]
    order: int | None = None
    exact_for_linear: ClassVar[bool] = False
    a_stable: ClassVar[bool] = False
    supports_nonlinear: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        register_class(DISCRETIZERS, cls, "discretizer")

    # -- linear cells --------------------------------------------------------------------
    @abstractmethod
    def coefficients(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """Elementwise ``(Abar, Bbar)`` for a diagonal A; A, B and dt broadcast.

        Raises:
            TypeError: the method has no closed form (``adaptive``).
            ConfigError: ``dt`` is not > 0.
        """

    def coefficients_dense(self, A: Tensor, B: Tensor, dt: float | Tensor) -> tuple[Tensor, Tensor]:
        """``(Abar (..., n, n), Bbar (..., n, m))`` for a dense A ``(n, n)``, B ``(n, m)``.

        Raises:
            TypeError: the method has no dense closed form.
        """
        raise TypeError(f"{type(self).__name__} has no closed-form coefficients; use 'zoh'")

    # -- any cell ------------------------------------------------------------------------
    @abstractmethod
    def step(
        self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor, dt: float | Tensor
    ) -> Tensor:
        """One step of length ``dt`` from time ``t``: h ``(..., state)``, u ``(..., input)``
        held constant over the step; dt a float or a tensor broadcastable to ``h.shape[:-1]``.
        Returns the state at ``t + dt``.

        Raises:
            ConfigError: h or u do not fit the cell, or dt is not > 0.
            TypeError: the cell is nonlinear and the method is for linear cells only.
        """

    def checked_step_size(self, cell: Cell, h: Tensor, u: Tensor, dt: float | Tensor) -> Tensor:
        """Check that ``h`` and ``u`` fit ``cell`` and ``dt > 0``; ``dt`` as a tensor on h's
        dtype and device (what every :meth:`step` does first)."""
        cell.check_state_input(h, u)
        return as_step(dt, h)

    def linear_step(self, cell: Cell, h: Tensor, u: Tensor, dt: Tensor) -> Tensor:
        """h_k = Abar h_{k-1} + Bbar u_k from the cell's (A, B).

        Raises:
            TypeError: the cell is not linear.
        """
        if not cell.is_linear:
            raise TypeError(self._nonlinear_message(cell))
        A, B, _, _ = cell.matrices()
        if cell.diagonal:
            dt_ = dt[..., None] if dt.ndim else dt
            a_bar, gain = self.coefficients(A, torch.ones_like(A), dt_)
            # Bbar = gain(dt A) * B with the gain shared by every input column
            return a_bar * h + gain * (u @ B.transpose(-1, -2))
        a_bar, b_bar = self.coefficients_dense(A, B, dt)
        return (a_bar @ h[..., None])[..., 0] + (b_bar @ u[..., None])[..., 0]

    def _nonlinear_message(self, cell: Cell) -> str:
        able = [n for n, d in DISCRETIZERS.items() if d.supports_nonlinear]
        return (
            f"{type(self).__name__} cannot step the nonlinear {type(cell).__name__}: it is "
            f"defined for linear cells only; use one of {able} "
            f"(e.g. get_discretizer('{able[0]}'))"
        )

    def solve(self, cell: Cell, h0: Tensor, u: Tensor, t: Tensor) -> Tensor:
        """Whole trajectory on the time grid ``t (T,)`` (strictly increasing, seconds).

        h0 ``(..., state)``; u ``(..., T, input)`` with ``u[..., k, :]`` held on
        ``(t[k-1], t[k]]``. Returns ``(..., T, state)`` with ``[..., 0, :] == h0``.

        Raises:
            ConfigError: ``t`` is not 1-D and strictly increasing, or ``u`` does not match.
        """
        t = torch.as_tensor(t, dtype=h0.dtype, device=h0.device)
        if t.ndim != 1:
            raise ConfigError(f"t must be a 1-D time grid (T,), got shape {tuple(t.shape)}")
        if u.ndim < 2 or u.shape[-2] != t.shape[0]:
            raise ConfigError(
                f"u must be (..., T, input) with T = len(t) = {t.shape[0]}, got {tuple(u.shape)}"
            )
        steps = torch.diff(t)
        check_step_size(steps, "diff(t)", values=True)  # the caller's grid, once per solve
        states = [h0]
        for k in range(1, t.shape[0]):
            states.append(self.step(cell, states[-1], u[..., k, :], t[k - 1], steps[k - 1]))
        return torch.stack(states, dim=-2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearDiscretizer(Discretizer):
    """A discretizer for linear cells only: :meth:`step` is the closed-form update from
    :meth:`coefficients` (``zoh``, ``bilinear``); nonlinear cells are refused with the
    names of the discretizers that can step them."""

    supports_nonlinear: ClassVar[bool] = False

    def step(self, cell: Cell, h: Tensor, u: Tensor, t: float | Tensor,
             dt: float | Tensor) -> Tensor:
        """h_k = Abar h_{k-1} + Bbar u_k (see :meth:`Discretizer.step`)."""
        return self.linear_step(cell, h, u, self.checked_step_size(cell, h, u, dt))
