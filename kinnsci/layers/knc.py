"""The selective Kirchhoff Neural Cell (KINN, Eq. 20-22)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kinnsci._checks import inverse_softplus
from kinnsci.discretize import Discretizer, get_discretizer
from kinnsci.errors import ConfigError
from kinnsci.scan import selective_scan, time_invariant_scan


class KNC(nn.Module):
    """A bank of ``channels x d_state`` Kirchhoff nodes with input-dependent step sizes.

    Per channel d and state n (an RC node with decay rate a = exp(A_log) > 0)::

        delta_t = softplus(W_delta x_t + b_delta)          (batch, length, channels)
        B_t, C_t = W_B x_t, W_C x_t                        (batch, length, d_state)
        h_t = Abar_t h_{t-1} + Bbar_t x_t,   y_t = C_t . h_t + D x_t
        Abar_t = exp(-a delta_t),  Bbar_t = (1 - exp(-a delta_t)) / a * B_t   ("zoh")

    ``discretizer`` ("zoh" exact, "euler", "bilinear", or an instance) changes only
    (Abar, Bbar). W_delta has rank ``dt_rank`` (x -> dt_rank -> channels), as in Mamba.
    With ``selective=False`` delta, B and C are learned constants: the layer is then a
    linear time-invariant bank of Kirchhoff nodes (the paper's continuous-time cell).
    ``physical_constraints=False`` is the ablation with an unconstrained A (may be
    positive) and Euler steps.

    ``state_cut=True`` is the control that isolates the Kirchhoff state: the cell returns
    its skip term ``D x`` alone (no scan, no state), everything around it (gating,
    convolutions, residuals) and every parameter unchanged. ``kinnsci reproduce`` trains
    each Kirchhoff model beside such a "state-cut" twin.

    ``device``/``dtype`` place and type the parameters as torch's own modules do
    (default: torch's default dtype).

    Shapes: ``forward(x (batch, length, channels)) -> (batch, length, channels)``.

    Raises:
        ConfigError: a size < 1 or not ``0 < dt_min <= dt_max``.
    """

    def __init__(
        self,
        channels: int,
        d_state: int = 16,
        dt_rank: int | None = None,
        discretizer: str | Discretizer = "zoh",
        *,
        selective: bool = True,
        physical_constraints: bool = True,
        state_cut: bool = False,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if channels < 1 or d_state < 1:
            raise ConfigError(f"channels and d_state must be >= 1, got {channels}, {d_state}")
        if not 0 < dt_min <= dt_max:
            raise ConfigError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        self.channels, self.d_state = channels, d_state
        self.dt_rank = dt_rank or math.ceil(channels / 16)
        self.selective = selective
        self.physical_constraints = physical_constraints
        self.state_cut = state_cut
        self.discretizer = get_discretizer(discretizer if physical_constraints else "euler")
        # Mamba's initialisation: log-uniform initial steps, rates a_n = n (S4D-real)
        log_dt = torch.rand(channels, **factory) * (math.log(dt_max) - math.log(dt_min))
        dt = torch.exp(log_dt + math.log(dt_min))
        dt_bias = inverse_softplus(dt)
        if selective:
            self.x_proj = nn.Linear(channels, self.dt_rank + 2 * d_state, bias=False,
                                    **factory)
            self.dt_proj = nn.Linear(self.dt_rank, channels, bias=True, **factory)
            with torch.no_grad():
                self.dt_proj.bias.copy_(dt_bias)
        else:
            self.dt_bias = nn.Parameter(dt_bias)
            self.B = nn.Parameter(torch.randn(channels, d_state, **factory)
                                  / math.sqrt(d_state))
            self.C = nn.Parameter(torch.randn(channels, d_state, **factory)
                                  / math.sqrt(d_state))
        rates = torch.arange(1, d_state + 1, device=device,
                             dtype=dtype or torch.get_default_dtype()).repeat(channels, 1)
        if physical_constraints:
            self.A_log = nn.Parameter(torch.log(rates))
        else:
            self.A_free = nn.Parameter(-rates)
        self.D = nn.Parameter(torch.ones(channels, **factory))

    @property
    def A(self) -> Tensor:
        """Continuous-time rates (channels, d_state); -exp(A_log) < 0 under the constraints."""
        return -torch.exp(self.A_log) if self.physical_constraints else self.A_free

    def time_constants(self) -> Tensor:
        """Relaxation times 1/|A| (channels, d_state), in units of the step delta."""
        return 1.0 / self.A.detach().abs()

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(delta (b, l, channels), B, C)`` for input x; B and C are (b, l, d_state) when
        selective, else constant (channels, d_state)."""
        if not self.selective:
            return F.softplus(self.dt_bias).expand_as(x), self.B, self.C
        dt_low, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], -1)
        return F.softplus(self.dt_proj(dt_low)), B, C

    def forward(
        self, x: Tensor, dt_scale: float | Tensor | None = None, reverse: bool = False
    ) -> Tensor:
        """x: (batch, length, channels) -> y: (batch, length, channels).

        ``dt_scale`` multiplies every step (e.g. grid spacing / reference spacing);
        ``reverse=True`` scans from the last position to the first.

        Raises:
            ConfigError: ``x`` is not ``(batch, length, channels)``.
        """
        if x.ndim != 3 or x.shape[-1] != self.channels:
            raise ConfigError(
                f"KNC expects x of shape (batch, length, {self.channels}), got {tuple(x.shape)}"
            )
        if self.state_cut:  # the control: the skip path alone
            return self.D * x
        delta, B, C = self.coefficients(x)
        if dt_scale is not None:
            delta = delta * dt_scale
        scan = selective_scan if self.selective else time_invariant_scan
        return scan(x, delta, self.A, B, C, self.D, self.discretizer, reverse=reverse)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, d_state={self.d_state}, dt_rank={self.dt_rank}, "
            f"discretizer={self.discretizer.name}, selective={self.selective}"
            + (", state_cut=True" if self.state_cut else "")
        )
