"""Autoregressive prediction: feed a model's output back as its newest input state."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from kinnsci.data.datasets import RolloutDataset
from kinnsci.train.metrics import per_step_relative_l2


def rollout(model: nn.Module, initial_states: Tensor, steps: int, n_variables: int) -> Tensor:
    """Predict ``steps`` states from a history window.

    Args:
        model: (B, k·V, H, W) -> (B, V, H, W), the time-major layout of ``RolloutDataset``.
        initial_states: (B, k·V, H, W), the k most recent states, oldest first.
        steps: number of future states.
        n_variables: V.

    Returns:
        (B, steps, V, H, W). Gradients flow through every step (used for unrolled training).
    """
    if initial_states.shape[1] % n_variables:
        raise ValueError(f"initial_states has {initial_states.shape[1]} channels, not a multiple "
                         f"of n_variables={n_variables}")
    window, outputs = initial_states, []
    for _ in range(steps):
        nxt = model(window)
        outputs.append(nxt)
        window = torch.cat([window[:, n_variables:], nxt], dim=1)
    return torch.stack(outputs, dim=1)


@torch.no_grad()
def rollout_errors(model: nn.Module, dataset: RolloutDataset, steps: int,
                   device: torch.device | str = "cpu",
                   batch_size: int = 8) -> tuple[np.ndarray, Tensor, Tensor]:
    """Relative L2 error per step of rollouts from the start of every trajectory.

    Args:
        dataset: a ``RolloutDataset`` (its ``history`` and trajectories are used).
        steps: rollout length; the trajectories need ``history + steps`` states.

    Returns:
        (errors (steps,), predictions and truths of the first batch (B, steps, V, H, W)).
    """
    k, v = dataset.history, dataset.n_variables
    n_time = dataset.fields.shape[1]
    if k + steps > n_time:
        raise ValueError(f"rollout of {steps} steps needs {k + steps} states per trajectory, "
                         f"the data has {n_time}; pass at most --rollout {n_time - k}")
    model.eval()
    total, count, first = torch.zeros(steps, dtype=torch.float64), 0, None
    for start in range(0, dataset.n_trajectories, batch_size):
        traj = torch.stack([dataset.trajectory(i) for i in
                            range(start, min(start + batch_size, dataset.n_trajectories))])
        traj = traj.to(device)
        pred = rollout(model, traj[:, :k].flatten(1, 2), steps, v)
        truth = traj[:, k:k + steps]
        total += per_step_relative_l2(pred, truth).double().cpu() * len(traj)
        count += len(traj)
        if first is None:
            first = (pred.cpu(), truth.cpu())
    return (total / count).numpy(), first[0], first[1]
