"""Training: Trainer, losses and metrics, rollouts, checkpoints, runs from configs."""

from kinnsci.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from kinnsci.train.config import RunConfig
from kinnsci.train.evaluate import evaluate
from kinnsci.train.metrics import (
    max_error,
    nrmse,
    per_step_relative_l2,
    relative_l1,
    relative_l2,
    rmse,
)
from kinnsci.train.normalized import NormalizedOperator
from kinnsci.train.rollout import rollout, rollout_errors
from kinnsci.train.run import build_run, evaluate_checkpoint, load_trained, train_run
from kinnsci.train.trainer import NonFiniteLossError, Trainer

__all__ = [
    "CheckpointError", "NonFiniteLossError", "NormalizedOperator", "RunConfig", "Trainer",
    "build_run", "evaluate", "evaluate_checkpoint", "load_checkpoint", "load_trained",
    "max_error", "nrmse", "per_step_relative_l2", "relative_l1", "relative_l2", "rmse",
    "rollout", "rollout_errors", "save_checkpoint", "train_run",
]
