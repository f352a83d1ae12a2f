"""Autoregressive prediction: feed a model's output back as its newest input state."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from kinnsci._deprecation import renamed_arguments
from kinnsci.data.datasets import RolloutDataset
from kinnsci.errors import ConfigError
from kinnsci.train.metrics import MAX_REDUCED, METRICS, relative_l2


@renamed_arguments(steps="n_steps")
def rollout(model: nn.Module, initial_states: Tensor, n_steps: int, n_variables: int,
            static_inputs: Tensor | None = None) -> Tensor:
    """Predict ``n_steps`` states from a history window.

    Args:
        model: (B, k·V [+ S], H, W) -> (B, V, H, W), the time-major layout of
            ``RolloutDataset``.
        initial_states: (B, k·V, H, W), the k most recent states, oldest first.
        n_steps: number of future states.
        n_variables: V.
        static_inputs: (B, S, H, W) fields appended to every step's input, or None.

    Returns:
        (B, n_steps, V, H, W). Gradients flow through every step (used for unrolled
        training).

    Raises:
        ConfigError: the channels of ``initial_states`` are not a multiple of V.
    """
    if initial_states.shape[1] % n_variables:
        raise ConfigError(f"initial_states has {initial_states.shape[1]} channels, not a multiple "
                         f"of n_variables={n_variables}")
    window, outputs = initial_states, []
    for _ in range(n_steps):
        nxt = model(window if static_inputs is None else torch.cat([window, static_inputs], 1))
        outputs.append(nxt)
        window = torch.cat([window[:, n_variables:], nxt], dim=1)
    return torch.stack(outputs, dim=1)


@torch.no_grad()
@renamed_arguments(steps="n_steps")
def rollout_metrics(model: nn.Module, dataset: RolloutDataset, n_steps: int,
                    device: torch.device | str = "cpu", batch_size: int = 8,
                    metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
                    progress: bool = False) -> tuple[dict[str, np.ndarray], Tensor, Tensor]:
    """Field errors of each rollout step, from the start of every trajectory.

    Args:
        dataset: a ``RolloutDataset`` (its ``history`` and trajectories are used).
        n_steps: rollout length; the trajectories need ``history + n_steps`` states.
        metrics: ``{name: (pred, true) -> scalar}`` applied to each step's (B, V, H, W)
            fields; default ``METRICS``. Per-sample metrics are averaged over all
            trajectories, those in ``MAX_REDUCED`` (``max_error``) take the maximum.
        progress: show a tqdm bar over the batches of trajectories.

    Returns:
        ({name: errors (n_steps,)}, predictions and truths of the first batch
        (B, n_steps, V, H, W)).

    Raises:
        ConfigError: the trajectories are shorter than ``history + n_steps``.
    """
    metrics = METRICS if metrics is None else metrics
    k, v = dataset.history, dataset.n_variables
    n_time = dataset.fields.shape[1]
    if k + n_steps > n_time:
        raise ConfigError(f"rollout of {n_steps} steps needs {k + n_steps} states per "
                          f"trajectory, the data has {n_time}; pass at most --rollout "
                          f"{n_time - k}")
    model.eval()
    totals = {name: np.zeros(n_steps) for name in metrics}
    count, first = 0, None
    for start in tqdm(range(0, dataset.n_trajectories, batch_size), desc=f"rollout {n_steps}",
                      leave=False, disable=None if progress else True):
        members = range(start, min(start + batch_size, dataset.n_trajectories))
        traj = torch.stack([dataset.trajectory(i) for i in members]).to(device)
        static = (torch.stack([dataset.static_inputs(i) for i in members]).to(device)
                  if "static" in dataset.input_layout.names else None)
        pred = rollout(model, traj[:, :k].flatten(1, 2), n_steps, v, static)
        truth = traj[:, k:k + n_steps]
        for name, fn in metrics.items():
            per_step = np.array([float(fn(pred[:, s], truth[:, s])) for s in range(n_steps)])
            if name in MAX_REDUCED:
                totals[name] = np.maximum(totals[name], per_step)
            else:
                totals[name] += per_step * len(traj)
        count += len(traj)
        if first is None:
            first = (pred.cpu(), truth.cpu())
    errors = {name: (t if name in MAX_REDUCED else t / count) for name, t in totals.items()}
    return errors, first[0], first[1]


@renamed_arguments(steps="n_steps")
def rollout_errors(model: nn.Module, dataset: RolloutDataset, n_steps: int,
                   device: torch.device | str = "cpu",
                   batch_size: int = 8, progress: bool = False,
                   ) -> tuple[np.ndarray, Tensor, Tensor]:
    """Relative L2 error per step of rollouts from the start of every trajectory.

    Args:
        dataset: a ``RolloutDataset`` (its ``history`` and trajectories are used).
        n_steps: rollout length; the trajectories need ``history + n_steps`` states.

    Returns:
        (errors (n_steps,), predictions and truths of the first batch
        (B, n_steps, V, H, W)).

    Raises:
        ConfigError: the trajectories are shorter than ``history + n_steps``.
    """
    errors, pred, truth = rollout_metrics(model, dataset, n_steps, device, batch_size,
                                          {"rel_l2": relative_l2}, progress=progress)
    return errors["rel_l2"], pred, truth
