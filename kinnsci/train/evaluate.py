"""Metrics of a model over a whole dataset."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from kinnsci.train.metrics import MAX_REDUCED, METRICS


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, batch_size: int = 16,
             device: torch.device | str = "cpu",
             metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
             progress: bool = False) -> dict[str, float]:
    """Every metric in ``metrics`` (default ``METRICS``, the field errors; classifiers pass
    ``CLASSIFICATION_METRICS``) over ``dataset`` (one-step predictions); ``progress``
    shows a tqdm bar over the batches.

    Per-sample metrics are averaged over all samples; ``max_error`` is the maximum. For a
    ``RolloutDataset`` the first target state is used.
    """
    metrics = METRICS if metrics is None else metrics
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(metrics, 0.0)
    count = 0
    for x, y in tqdm(DataLoader(dataset, batch_size=batch_size), desc="evaluate",
                     leave=False, disable=not progress):
        x, y = x.to(device), y.to(device)
        if y.ndim == x.ndim + 1:
            y = y[:, 0]
        pred = model(x)
        for name, fn in metrics.items():
            value = float(fn(pred, y))
            sums[name] = max(sums[name], value) if name in MAX_REDUCED else (
                sums[name] + value * len(x))
        count += len(x)
    model.train(was_training)
    return {k: (v if k in MAX_REDUCED else v / count) for k, v in sums.items()}
