"""Error metrics for fields, per sample first and then averaged over the batch.

All take ``pred`` and ``true`` of the same shape (batch, ...); everything after the batch
axis (channels, time, space) belongs to one sample.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(pred: Tensor, true: Tensor) -> None:
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(true.shape)}")


def _per_sample(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1)


def relative_l2(pred: Tensor, true: Tensor, eps: float = 1e-12) -> Tensor:
    """mean_b ||pred_b - true_b||₂ / ||true_b||₂ (PDEBench's nRMSE; FNO's training loss)."""
    _check(pred, true)
    diff = _per_sample(pred - true).norm(dim=1)
    return (diff / _per_sample(true).norm(dim=1).clamp_min(eps)).mean()


def relative_l1(pred: Tensor, true: Tensor, eps: float = 1e-12) -> Tensor:
    """mean_b ||pred_b - true_b||₁ / ||true_b||₁."""
    _check(pred, true)
    diff = _per_sample(pred - true).abs().sum(dim=1)
    return (diff / _per_sample(true).abs().sum(dim=1).clamp_min(eps)).mean()


def rmse(pred: Tensor, true: Tensor) -> Tensor:
    """mean_b sqrt(mean((pred_b - true_b)²)), in the units of the field."""
    _check(pred, true)
    return _per_sample(pred - true).pow(2).mean(dim=1).sqrt().mean()


def nrmse(pred: Tensor, true: Tensor, eps: float = 1e-12) -> Tensor:
    """Range-normalised RMSE: mean_b RMSE_b / (max true_b − min true_b).

    (Relative L2 is the other common "normalised RMSE"; this one does not blow up for
    fields that are small on average, e.g. zero-mean vorticity.)
    """
    _check(pred, true)
    t = _per_sample(true)
    spread = (t.max(dim=1).values - t.min(dim=1).values).clamp_min(eps)
    return (_per_sample(pred - true).pow(2).mean(dim=1).sqrt() / spread).mean()


def max_error(pred: Tensor, true: Tensor) -> Tensor:
    """max |pred − true| over the whole batch."""
    _check(pred, true)
    return (pred - true).abs().max()


def per_step_relative_l2(pred: Tensor, true: Tensor, eps: float = 1e-12) -> Tensor:
    """Relative L2 of each rollout step: pred, true (batch, steps, ...) -> (steps,)."""
    _check(pred, true)
    if pred.ndim < 3:
        raise ValueError(f"rollouts need shape (batch, steps, ...), got {tuple(pred.shape)}")
    diff = (pred - true).flatten(2).norm(dim=2)
    return (diff / true.flatten(2).norm(dim=2).clamp_min(eps)).mean(dim=0)


METRICS = {
    "rel_l2": relative_l2,
    "rel_l1": relative_l1,
    "rmse": rmse,
    "nrmse": nrmse,
    "max_error": max_error,
}
LOSSES = {"rel_l2": relative_l2, "rel_l1": relative_l1, "mse": torch.nn.functional.mse_loss}
