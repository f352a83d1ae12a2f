"""Per-variable normalisers, fitted on the training split and saved with a model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr
from torch import Tensor, nn

from kinnsci._deprecation import renamed_method
from kinnsci.data.missing import missing_rules
from kinnsci.data.open import require_variables
from kinnsci.errors import DataError

KINDS = ("gaussian", "minmax")


class Normalizer(nn.Module):
    """``(x - shift) / scale`` per variable, on the channel axis (-3) of fields, computed
    in float32 (float64 for float64 fields) whatever the input's dtype.

    A field tensor (..., C, H, W) whose C is a multiple of the number of variables V is
    read as C/V groups of V (the time-major layout of ``RolloutDataset``), so one
    normaliser serves a history stack and a single state alike. ``shift``/``scale`` are
    buffers: they travel in ``state_dict`` and checkpoints as plain tensors.

    Raises:
        DataError: unknown ``kind`` or a scale that is not > 0.
    """

    def __init__(self, shift: Tensor, scale: Tensor, kind: str = "gaussian"):
        super().__init__()
        if kind not in KINDS:
            raise DataError(f"kind must be one of {KINDS}, got {kind!r}")
        if torch.any(scale <= 0):
            raise DataError("scale must be > 0 for every variable (a constant variable has "
                             "zero spread; drop it or normalise it yourself)")
        self.kind = kind
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float64).clone())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64).clone())

    @classmethod
    def identity(cls, n_variables: int) -> Normalizer:
        """A normaliser that changes nothing (shift 0, scale 1), e.g. to load weights into."""
        return cls(torch.zeros(n_variables, dtype=torch.float64),
                   torch.ones(n_variables, dtype=torch.float64))

    @classmethod
    def fit(cls, ds: xr.Dataset, variables: Sequence[str], samples: Sequence[int] | None = None,
            *, kind: str = "gaussian", sample_dim: str = "sample") -> Normalizer:
        """Statistics of each variable over the given samples (the training split only).

        Reductions go through xarray/dask, so a file larger than memory is streamed.

        Raises:
            DataError: a variable is missing, ``kind`` is unknown, or the samples hold
                NaN/inf.
        """
        require_variables(ds, variables)
        shift, scale = [], []
        for name in variables:
            field = ds[name]
            if samples is not None and sample_dim in field.dims:
                field = field.isel({sample_dim: np.asarray(samples)})
            field = field.where(~missing_rules(ds[name]).condition(field)).astype(np.float64)
            with np.errstate(invalid="ignore"):  # inf - inf: reported below as NaN/inf
                if kind == "gaussian":
                    shift.append(float(field.mean().values))
                    scale.append(float(field.std().values))
                elif kind == "minmax":
                    lo, hi = float(field.min().values), float(field.max().values)
                    shift.append(lo)
                    scale.append(hi - lo)
                else:
                    raise DataError(f"kind must be one of {KINDS}, got {kind!r}")
        bad = [n for n, a, b in zip(variables, shift, scale, strict=True)
               if not (np.isfinite(a) and np.isfinite(b))]
        if bad:
            raise DataError(f"variable(s) {bad} hold NaN/inf values in the samples the "
                            "normalizer is fitted on; locate them with the dataset's "
                            "check_finite() (OperatorDataset/RolloutDataset) and clean the file "
                            "or leave those samples out")
        scale = [s if s > 0 else 1.0 for s in scale]  # a constant field is only shifted
        return cls(torch.tensor(shift, dtype=torch.float64),
                   torch.tensor(scale, dtype=torch.float64), kind)

    @property
    def n_variables(self) -> int:
        """How many variables the normaliser has statistics for."""
        return self.shift.numel()

    def _broadcast(self, x: Tensor, stat: Tensor) -> Tensor:
        c = x.shape[-3]
        v = self.n_variables
        if c % v:
            raise DataError(f"normalizer has {v} variables but the field has {c} channels "
                             "(expected a multiple)")
        # float32 at least: under bf16 autocast the backbone's output is bfloat16, and a
        # 300 K field de-normalised in bf16 is rounded to ~1 K (its spread); the result of
        # transform/inverse_transform is float32 (float64 for float64 input)
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        return stat.to(dtype).repeat(c // v)[:, None, None]

    def transform(self, x: Tensor) -> Tensor:
        """Physical units -> normalised. x: (..., C, H, W) (as scikit-learn's and
        neuraloperator's normalisers name it).

        Raises:
            DataError: C is not a multiple of the number of variables.
        """
        return (x - self._broadcast(x, self.shift)) / self._broadcast(x, self.scale)

    def inverse_transform(self, x: Tensor) -> Tensor:
        """Normalised -> physical units. x: (..., C, H, W).

        Raises:
            DataError: C is not a multiple of the number of variables.
        """
        return x * self._broadcast(x, self.scale) + self._broadcast(x, self.shift)

    encode = renamed_method("encode", "transform")
    decode = renamed_method("decode", "inverse_transform")

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, n_variables={self.n_variables}"
