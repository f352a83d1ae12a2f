"""Training: Trainer, losses and metrics, rollouts, checkpoints, runs from configs.

Names are imported on first use (see :mod:`kinnsci._lazy`), so reading a ``RunConfig``
does not import torch.
"""

from typing import TYPE_CHECKING

from kinnsci._lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy exports below resolve to, for type checkers and editors
    from kinnsci.errors import CheckpointError
    from kinnsci.models.normalized import NormalizedOperator
    from kinnsci.train.checkpoint import load_checkpoint, save_checkpoint
    from kinnsci.train.config import RunConfig
    from kinnsci.train.evaluation import evaluate
    from kinnsci.train.metrics import (
        max_error,
        nrmse,
        per_step_relative_l2,
        relative_l1,
        relative_l2,
        rmse,
    )
    from kinnsci.train.rollouts import rollout, rollout_errors, rollout_metrics
    from kinnsci.train.run import (
        build_run,
        evaluate_checkpoint,
        inspect_checkpoint,
        load_trained,
        train_run,
    )
    from kinnsci.train.trainer import NonFiniteLossError, Trainer

__getattr__, __dir__, __all__ = lazy_exports(__name__, globals(), {
    "CheckpointError": "kinnsci.errors",
    "NonFiniteLossError": ".trainer", "Trainer": ".trainer",
    "NormalizedOperator": "kinnsci.models.normalized",
    "RunConfig": ".config",
    "build_run": ".run", "evaluate_checkpoint": ".run", "inspect_checkpoint": ".run",
    "load_trained": ".run",
    "train_run": ".run",
    "evaluate": ".evaluation",
    "load_checkpoint": ".checkpoint", "save_checkpoint": ".checkpoint",
    "max_error": ".metrics", "nrmse": ".metrics", "per_step_relative_l2": ".metrics",
    "relative_l1": ".metrics", "relative_l2": ".metrics", "rmse": ".metrics",
    "rollout": ".rollouts", "rollout_errors": ".rollouts", "rollout_metrics": ".rollouts",
})
