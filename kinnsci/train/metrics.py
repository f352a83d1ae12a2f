"""Error metrics for fields, per sample first and then averaged over the batch.

All take ``pred`` and ``true`` of the same shape (batch, ...); everything after the batch
axis (channels, time, space) belongs to one sample.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.errors import ConfigError


def _check(pred: Tensor, true: Tensor) -> None:
    if pred.shape != true.shape:
        raise ConfigError(f"pred and true must have the same shape, got {tuple(pred.shape)} "
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
    """Relative L2 of each rollout step: pred, true (batch, steps, ...) -> (steps,).

    Raises:
        ConfigError: ``pred`` is not ``(batch, steps, ...)``.
    """
    _check(pred, true)
    if pred.ndim < 3:
        raise ConfigError(f"rollouts need shape (batch, steps, ...), got {tuple(pred.shape)}")
    diff = (pred - true).flatten(2).norm(dim=2)
    return (diff / true.flatten(2).norm(dim=2).clamp_min(eps)).mean(dim=0)


METRICS = {
    "rel_l2": relative_l2,
    "rel_l1": relative_l1,
    "rmse": rmse,
    "nrmse": nrmse,
    "max_error": max_error,
}


def _check_logits(logits: Tensor, labels: Tensor) -> None:
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ConfigError(f"classification needs logits (batch, classes) and integer labels "
                         f"(batch,), got {tuple(logits.shape)} and {tuple(labels.shape)}")


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy of logits (batch, classes) against labels (batch,)."""
    _check_logits(logits, labels)
    return torch.nn.functional.cross_entropy(logits, labels)


def top_k_accuracy(logits: Tensor, labels: Tensor, k: int = 1) -> Tensor:
    """Fraction of samples whose label is among the ``k`` largest logits (k is capped at
    the number of classes)."""
    _check_logits(logits, labels)
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return (top == labels[:, None]).any(dim=1).float().mean()


def top1_accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    return top_k_accuracy(logits, labels, 1)


def top5_accuracy(logits: Tensor, labels: Tensor) -> Tensor:
    return top_k_accuracy(logits, labels, 5)


CLASSIFICATION_METRICS = {"cross_entropy": cross_entropy, "top1": top1_accuracy,
                          "top5": top5_accuracy}
# Metrics reduced over the dataset by max (the rest are per-sample means).
MAX_REDUCED = frozenset({"max_error"})
LOSSES = {"rel_l2": relative_l2, "rel_l1": relative_l1, "mse": torch.nn.functional.mse_loss,
          "cross_entropy": cross_entropy}
