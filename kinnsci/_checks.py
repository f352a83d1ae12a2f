"""Argument checks shared by every subpackage.

Each error names the argument, the value received and how to fix it, so a user never has
to read kinnsci's source to understand what went wrong.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

from kinnsci.errors import ConfigError, DataError

CHECKS_VARIABLE = "KINNSCI_CHECKS"


def value_checks_enabled() -> bool:
    """Whether the debug switch ``KINNSCI_CHECKS=1`` is on.

    Reading a tensor's values (is it finite? is every step > 0?) makes the host wait for
    the device, so inside models it is off by default: data is checked where it enters
    (datasets, the command line, ``Trainer``), and a forward and backward pass make no
    device-to-host synchronisation. With the switch on, layers check their inputs too
    (the CKB's input, the scans' step sizes), naming the first bad index.
    """
    return os.environ.get(CHECKS_VARIABLE, "0") == "1"


def check_step_size(dt: float | Tensor, name: str = "dt", *, values: bool | None = None
                    ) -> None:
    """Raise ``ValueError`` unless every entry of ``dt`` is finite and > 0.

    A tensor's values are read (a device-to-host synchronisation) only when ``values`` is
    True, or, left at None, under ``KINNSCI_CHECKS=1``; Python numbers are always checked.

    Raises:
        ConfigError: a non-finite or non-positive step.
        TypeError: ``dt`` is neither a number nor a tensor.
    """
    if isinstance(dt, Tensor):
        if dt.numel() == 0 or not (value_checks_enabled() if values is None else values):
            return
        if not torch.isfinite(dt).all():
            raise ConfigError(
                f"{name} must be finite, got a tensor with NaN/inf entries "
                f"(check the time grid or the network producing {name})"
            )
        if (dt <= 0).any():
            bad = dt[dt <= 0].flatten()[0].item()
            raise ConfigError(
                f"{name} must be > 0, got {bad} (time steps are durations; pass positive "
                "values, and a strictly increasing time grid)"
            )
        return
    if not isinstance(dt, (int, float)):
        raise TypeError(f"{name} must be a float or a tensor, got {type(dt).__name__}")
    if math.isnan(dt) or math.isinf(dt):
        raise ConfigError(f"{name} must be finite, got {dt}")
    if dt <= 0:
        raise ConfigError(
            f"{name} must be > 0, got {dt} (time steps are durations; pass positive values)"
        )


def check_positive(value: float, name: str, what: str = "") -> None:
    """Raise ``ValueError`` unless a physical parameter is finite and strictly positive."""
    if not math.isfinite(value) or value <= 0:
        hint = f" ({what})" if what else ""
        raise ConfigError(f"{name} must be > 0, got {value}{hint}")


def check_nonnegative(value: float, name: str, what: str = "") -> None:
    """Raise ``ValueError`` unless a physical parameter is finite and >= 0."""
    if not math.isfinite(value) or value < 0:
        hint = f" ({what})" if what else ""
        raise ConfigError(f"{name} must be >= 0, got {value}{hint}")


def check_last_dim(x: Tensor, size: int, name: str, meaning: str) -> None:
    """Raise ``ValueError`` unless ``x.shape[-1] == size``."""
    if x.ndim == 0 or x.shape[-1] != size:
        raise ConfigError(f"{name} must have shape (..., {size}) ({meaning}), got {tuple(x.shape)}")


def check_finite(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``x`` contains NaN or inf, reporting the first bad index."""
    if x.is_meta:  # shape-only tensors (FLOP counting) hold no values to check
        return
    bad = ~torch.isfinite(x)
    if bad.any():
        idx = tuple(int(i) for i in bad.nonzero()[0].tolist())
        raise DataError(
            f"{name} contains NaN/inf (first at index {idx} of shape {tuple(x.shape)}); "
            "clean or mask the data before passing it in"
        )


def inverse_softplus(value: float | Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """The ``x`` with ``softplus(x) = value`` (> 0), finite over the whole float range.

    ``log(expm1(v))`` overflows for v > 88 in float32 (``capacitance=100`` became an
    infinite capacitance); ``v + log(-expm1(-v))`` is the same number without overflow.
    A floating tensor is computed in its own dtype; a Python number in float64. The result
    has ``dtype`` (default: the tensor's dtype, or torch's default dtype for a number).
    """
    if isinstance(value, Tensor) and value.is_floating_point():
        v = value
    else:
        v = torch.as_tensor(value, dtype=torch.float64)
    raw = v + torch.log(-torch.expm1(-v))
    return raw.to(dtype or (v.dtype if v is value else torch.get_default_dtype()))
