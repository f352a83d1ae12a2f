"""Linear time-invariant cells: dh/dt = A h + B u, y = C h + D u."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kinnsci.cells.base import Cell, register_tensors
from kinnsci.errors import ConfigError


class LinearCellBase(Cell):
    """A cell whose dynamics are linear; subclasses implement :meth:`matrices`.

    ``matrices()`` returns ``(A, B, C, D)`` in standard state-space form:
    A is ``(state,)`` (its diagonal) when ``self.diagonal`` else ``(state, state)``;
    B is ``(state, input)``, C is ``(output, state)``, D is ``(output, input)``.
    """

    is_linear = True
    diagonal: bool = True

    def matrices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def vector_field(self, t: Tensor | float, h: Tensor, u: Tensor) -> Tensor:
        A, B, _, _ = self.matrices()
        drift = h * A if self.diagonal else h @ A.transpose(-1, -2)
        return drift + u @ B.transpose(-1, -2)

    def readout(self, h: Tensor, u: Tensor) -> Tensor:
        _, _, C, D = self.matrices()
        return h @ C.transpose(-1, -2) + u @ D.transpose(-1, -2)

    def dense_A(self) -> Tensor:
        """A as a ``(state, state)`` matrix whatever its storage."""
        A = self.matrices()[0]
        return torch.diag_embed(A) if self.diagonal else A

    def poles(self) -> Tensor:
        """Eigenvalues of A (rad/s, real for Kirchhoff cells): ``(state,)``, complex dtype."""
        A = self.matrices()[0]
        if self.diagonal:
            return A.detach().to(torch.complex128)
        return torch.linalg.eigvals(A.detach().to(torch.float64))

    def time_constants(self) -> Tensor:
        """Relaxation times tau = -1 / Re(pole) in seconds: ``(state,)`` float64."""
        return -1.0 / self.poles().real

    def channel_transfer_function(self, channel: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Numerator/denominator (highest power of s first) from input ``channel`` to output
        ``channel``, for a diagonal A: H(s) = D + sum_n C_n B_n / (s - A_n).

        Raises:
            TypeError: the cell's A is not diagonal.
            ConfigError: ``channel`` out of range.
        """
        if not self.diagonal:
            raise TypeError(
                f"{type(self).__name__}.channel_transfer_function needs a diagonal A; "
                "use scipy.signal.ss2tf on matrices() for dense systems"
            )
        A, B, C, D = (m.detach().to(torch.float64).cpu().numpy() for m in self.matrices())
        if not 0 <= channel < min(self.input_dim, self.output_dim):
            raise ConfigError(
                f"channel must be in [0, {min(self.input_dim, self.output_dim) - 1}], got {channel}"
            )
        gains = C[channel, :] * B[:, channel]
        used = np.nonzero(gains)[0]
        poles = A[used]
        den = np.poly(poles) if len(poles) else np.array([1.0])
        num = D[channel, channel] * den
        for i, n in enumerate(used):
            rest = np.poly(np.delete(poles, i)) if len(poles) > 1 else np.array([1.0])
            num = np.polyadd(num, gains[n] * rest)
        return np.atleast_1d(num), np.atleast_1d(den)


def _as_tensor(x: Tensor | float | list, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    return torch.as_tensor(x, dtype=dtype)


class LinearCell(LinearCellBase):
    """An explicit linear cell dh/dt = A h + B u, y = C h + D u.

    Two ways to give the matrices:

    * single system: ``A (state,)`` (diagonal) or, with ``dense=True``, ``(state, state)``;
      ``B (state, input)``, ``C (output, state)``, ``D (output, input)`` (``D`` defaults to 0).
      1-D ``B`` / ``C`` mean a single input / output.
    * independent channels (the S4D/Mamba layout): ``A, B, C`` all ``(channels, state)``
      and ``D (channels,)``; channel c evolves ``N`` states driven by input c and emits
      output c. Stored internally in the single-system form with ``channels * N`` states.

    Args:
        trainable: register the matrices as parameters instead of buffers.

    Raises:
        ConfigError: A, B, C or D of shapes that do not fit together.
    """

    name = "linear"

    def __init__(
        self,
        A: Tensor,
        B: Tensor,
        C: Tensor,
        D: Tensor | None = None,
        *,
        dense: bool = False,
        trainable: bool = False,
    ) -> None:
        super().__init__()
        A = _as_tensor(A)
        B, C = _as_tensor(B, A), _as_tensor(C, A)
        if dense:
            if A.ndim != 2 or A.shape[0] != A.shape[1]:
                raise ConfigError(f"A must be (state, state) with dense=True, got {tuple(A.shape)}")
            A_, B_, C_, D_ = self._single(A, B, C, D, A.shape[0])
        elif A.ndim == 1:
            A_, B_, C_, D_ = self._single(A, B, C, D, A.shape[0])
        elif A.ndim == 2:
            A_, B_, C_, D_ = self._channels(A, B, C, D)
        else:
            raise ConfigError(
                f"A must be (state,), (channels, state) or, with dense=True, (state, state); "
                f"got {tuple(A.shape)}"
            )
        self.diagonal = not dense
        self.state_dim = A_.shape[0]
        self.output_dim, self.input_dim = D_.shape
        register_tensors(self, {name: value.clone() for name, value in
                                zip("ABCD", (A_, B_, C_, D_), strict=True)}, trainable)

    @staticmethod
    def _single(A: Tensor, B: Tensor, C: Tensor, D: Tensor | None, n: int):
        B = B.reshape(n, 1) if B.ndim == 1 else B
        C = C.reshape(1, n) if C.ndim == 1 else C
        if B.shape[0] != n or C.ndim != 2 or C.shape[1] != n:
            raise ConfigError(
                f"with {n} states, B must be ({n}, input) and C (output, {n}); "
                f"got B {tuple(B.shape)}, C {tuple(C.shape)}"
            )
        if D is None:
            D = torch.zeros(C.shape[0], B.shape[1], dtype=A.dtype)
        D = _as_tensor(D, A).reshape(C.shape[0], B.shape[1])
        return A, B, C, D

    @staticmethod
    def _channels(A: Tensor, B: Tensor, C: Tensor, D: Tensor | None):
        ch, n = A.shape
        if B.shape != A.shape or C.shape != A.shape:
            raise ConfigError(
                f"in the channels layout A, B and C must all be (channels, state) = {(ch, n)}; "
                f"got B {tuple(B.shape)}, C {tuple(C.shape)}"
            )
        D = torch.zeros(ch, dtype=A.dtype) if D is None else _as_tensor(D, A).reshape(ch)
        eye = torch.eye(ch, dtype=A.dtype)
        # state index c*n + j is driven by input c and read by output c only
        B_full = (eye[:, None, :] * B[:, :, None]).reshape(ch * n, ch)
        C_full = (eye[:, :, None] * C[None, :, :]).reshape(ch, ch * n)
        return A.reshape(-1), B_full, C_full, torch.diag(D)

    def matrices(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.A, self.B, self.C, self.D
