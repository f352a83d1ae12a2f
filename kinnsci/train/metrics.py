"""Error metrics for fields, per sample first and then averaged over the batch.

All take ``pred`` and ``true`` of the same shape (batch, ...); everything after the batch
axis (channels, time, space) belongs to one sample.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kinnsci.errors import ConfigError
from kinnsci.physics.metrics import reduce_batch as _reduce


def _check(pred: Tensor, true: Tensor) -> None:
    if pred.shape != true.shape:
        raise ConfigError(f"pred and true must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(true.shape)}")


def _per_sample(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], -1)


def _scale(x: Tensor) -> Tensor:
    """max |x| per row (batch, 1), 1 where the row is all zero: dividing by it keeps the
    squares of fields at any scale (1e-20, 1e20) inside float32's range."""
    s = x.abs().amax(dim=1, keepdim=True)
    return torch.where(s > 0, s, torch.ones_like(s))


def _norm(x: Tensor) -> Tensor:
    """Euclidean norm per row without underflow or overflow: (batch, n) -> (batch,)."""
    s = _scale(x)
    return s[:, 0] * (x / s).norm(dim=1)


def _rms(x: Tensor) -> Tensor:
    s = _scale(x)
    return s[:, 0] * (x / s).pow(2).mean(dim=1).sqrt()


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    """num / den per sample, NaN where den is 0: a relative error of a zero (or, for
    nRMSE, constant) target is undefined, never a huge number."""
    safe = torch.where(den > 0, den, torch.ones_like(den))
    return torch.where(den > 0, num / safe, torch.full_like(num, float("nan")))


def relative_l2(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """mean_b ||pred_b - true_b||₂ / ||true_b||₂ (PDEBench's nRMSE; FNO's training loss).

    Scale-free (a field of size 1e-20 gives the same value as at size 1); NaN for a
    sample whose target is zero everywhere, where it is undefined. ``reduction="none"``:
    the (batch,) per-sample values."""
    _check(pred, true)
    return _reduce(_ratio(_norm(_per_sample(pred - true)), _norm(_per_sample(true))),
                   reduction)


def relative_l1(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """mean_b ||pred_b - true_b||₁ / ||true_b||₁ (NaN for an all-zero target)."""
    _check(pred, true)
    diff = _per_sample(pred - true).abs().sum(dim=1)
    return _reduce(_ratio(diff, _per_sample(true).abs().sum(dim=1)), reduction)


def rmse(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """mean_b sqrt(mean((pred_b - true_b)²)), in the units of the field."""
    _check(pred, true)
    return _reduce(_rms(_per_sample(pred - true)), reduction)


def nrmse(pred: Tensor, true: Tensor, reduction: str = "mean") -> Tensor:
    """Range-normalised RMSE: mean_b RMSE_b / (max true_b − min true_b); NaN for a
    constant target, where it is undefined.

    (Relative L2 is the other common "normalised RMSE"; this one does not blow up for
    fields that are small on average, e.g. zero-mean vorticity.)
    """
    _check(pred, true)
    t = _per_sample(true)
    spread = t.max(dim=1).values - t.min(dim=1).values
    return _reduce(_ratio(_rms(_per_sample(pred - true)), spread), reduction)


def max_error(pred: Tensor, true: Tensor) -> Tensor:
    """max |pred − true| over the whole batch."""
    _check(pred, true)
    return (pred - true).abs().max()


def per_step_relative_l2(pred: Tensor, true: Tensor) -> Tensor:
    """Relative L2 of each rollout step: pred, true (batch, steps, ...) -> (steps,)
    (NaN at a step whose targets are all zero).

    Raises:
        ConfigError: ``pred`` is not ``(batch, steps, ...)``.
    """
    _check(pred, true)
    if pred.ndim < 3:
        raise ConfigError(f"rollouts need shape (batch, steps, ...), got {tuple(pred.shape)}")
    steps = pred.shape[1]
    flat = (pred - true).flatten(2).flatten(0, 1)  # (batch * steps, n)
    rel = _ratio(_norm(flat), _norm(true.flatten(2).flatten(0, 1)))
    return rel.reshape(-1, steps).mean(dim=0)


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


def classification_metrics(n_classes: int) -> dict:
    """The classification metrics that mean something for ``n_classes`` classes: top-5
    only with more than 5 classes (with 5 or fewer it is always 100 %)."""
    return {k: v for k, v in CLASSIFICATION_METRICS.items()
            if k != "top5" or n_classes > 5}
# Metrics reduced over the dataset by max (the rest are per-sample means).
PER_SAMPLE = frozenset({"rel_l2", "rel_l1", "rmse", "nrmse"})
MAX_REDUCED = frozenset({"max_error"})
LOSSES = {"rel_l2": relative_l2, "rel_l1": relative_l1, "mse": torch.nn.functional.mse_loss,
          "cross_entropy": cross_entropy}
