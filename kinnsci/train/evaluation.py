"""Metrics of a model over a whole dataset."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from kinnsci.physics.metrics import PHYSICS_METRICS
from kinnsci.train.metrics import MAX_REDUCED, METRICS, PER_SAMPLE

_PER_SAMPLE_FNS = {**{k: METRICS[k] for k in PER_SAMPLE}, **PHYSICS_METRICS}


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, batch_size: int = 16,
             device: torch.device | str = "cpu",
             metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
             progress: bool = False) -> dict[str, float]:
    """Every metric in ``metrics`` (default ``METRICS``, the field errors; classifiers pass
    ``CLASSIFICATION_METRICS``) over ``dataset`` (one-step predictions); ``progress``
    shows a tqdm bar over the batches.

    Per-sample metrics are averaged over all samples; ``max_error`` is the maximum. For a
    ``RolloutDataset`` the first target state is used. A relative metric that is undefined
    for some samples (an all-zero target; a constant one for nRMSE) is averaged over the
    others, with a warning that says how many and why; over none, it is NaN.
    """
    metrics = METRICS if metrics is None else metrics
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(metrics, 0.0)
    counts = dict.fromkeys(metrics, 0)
    undefined = dict.fromkeys(metrics, 0)
    count = 0
    for x, y in tqdm(DataLoader(dataset, batch_size=batch_size), desc="evaluate",
                     leave=False, disable=None if progress else True):
        x, y = x.to(device), y.to(device)
        if y.ndim == x.ndim + 1:
            y = y[:, 0]
        pred = model(x)
        for name, fn in metrics.items():
            if fn is _PER_SAMPLE_FNS.get(name):  # (batch,) values: NaN-aware averaging
                values = fn(pred, y, reduction="none")
                finite = torch.isfinite(values)
                sums[name] += float(values[finite].double().sum())
                counts[name] += int(finite.sum())
                undefined[name] += int((~finite).sum())
                continue
            value = float(fn(pred, y))
            sums[name] = max(sums[name], value) if name in MAX_REDUCED else (
                sums[name] + value * len(x))
            counts[name] += len(x)
        count += len(x)
    model.train(was_training)
    for name, n in undefined.items():
        if n:
            why = "is constant" if name == "nrmse" else "is zero everywhere"
            rest = (f"it is averaged over the other {count - n}" if count > n
                    else "it is reported as NaN")
            warnings.warn(f"{name} is undefined for {n} of {count} sample(s), whose target "
                          f"{why}; {rest}", stacklevel=3)
    return {k: (v if k in MAX_REDUCED else v / counts[k] if counts[k] else float("nan"))
            for k, v in sums.items()}


def evaluate_with_physics(model: nn.Module, dataset: Dataset, batch_size: int = 16,
                          device: torch.device | str = "cpu", physics=None,
                          progress: bool = False) -> dict[str, float]:
    """:func:`evaluate` with the field errors and the physics-aware metrics
    (:data:`kinnsci.physics.metrics.PHYSICS_METRICS`), plus ``pde_residual``, the mean
    square PDE residual of the predictions, when ``physics`` (a
    :class:`~kinnsci.train.losses.PhysicsResidual`) is given. What ``kinnsci evaluate``
    and every ``kinnsci reproduce`` run report."""
    metrics = evaluate(model, dataset, batch_size, device, {**METRICS, **PHYSICS_METRICS},
                       progress=progress)
    if physics is not None:
        from kinnsci.train.losses import mean_residual

        metrics["pde_residual"] = mean_residual(model, dataset, physics, batch_size, device)
    return metrics
