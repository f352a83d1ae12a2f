"""Training: Trainer, losses and metrics, rollouts, checkpoints, runs from configs.

Names are imported on first use (see :mod:`kinnsci._lazy`), so reading a ``RunConfig``
does not import torch.
"""

from kinnsci._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), {
    "CheckpointError": "kinnsci.errors",
    "NonFiniteLossError": ".trainer", "Trainer": ".trainer",
    "NormalizedOperator": ".normalized",
    "RunConfig": ".config",
    "build_run": ".run", "evaluate_checkpoint": ".run", "inspect_checkpoint": ".run",
    "load_trained": ".run",
    "train_run": ".run",
    "evaluate": ".evaluate",
    "load_checkpoint": ".checkpoint", "save_checkpoint": ".checkpoint",
    "max_error": ".metrics", "nrmse": ".metrics", "per_step_relative_l2": ".metrics",
    "relative_l1": ".metrics", "relative_l2": ".metrics", "rmse": ".metrics",
    "rollout": ".rollout", "rollout_errors": ".rollout", "rollout_metrics": ".rollout",
})
