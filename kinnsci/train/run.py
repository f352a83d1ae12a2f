"""A whole run from a :class:`RunConfig`: data -> normalisers -> model -> Trainer -> report.

``kinnsci train``, ``kinnsci evaluate`` and ``kinnsci quickstart`` are thin shells around
:func:`train_run` and :func:`evaluate_checkpoint`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinnsci.data import Normalizer, OperatorDataset, RolloutDataset, open_dataset, split_samples
from kinnsci.models import build_model, count_parameters
from kinnsci.train import distributed as dist_utils
from kinnsci.train.checkpoint import CheckpointError, load_checkpoint
from kinnsci.train.config import RunConfig
from kinnsci.train.evaluate import evaluate
from kinnsci.train.normalized import NormalizedOperator
from kinnsci.train.rollout import rollout_errors
from kinnsci.train.trainer import Trainer

# Backbones whose learned map does not depend on the grid (Fourier layers on modes).
RESOLUTION_INVARIANT = ("fno", "fkno")


@dataclass
class Run:
    config: RunConfig
    trainer: Trainer
    splits: dict[str, Any]


def _datasets(config: RunConfig, ds, samples: dict) -> dict[str, Any]:
    out = {}
    for name, idx in samples.items():
        if len(idx) == 0:
            out[name] = None
        elif config.steady:
            out[name] = OperatorDataset(ds, config.inputs, config.targets, idx)
        else:
            out[name] = RolloutDataset(ds, config.variables, config.history, config.horizon, idx,
                                       stride=config.stride)
    return out


def _normalizer(config: RunConfig, ds, names: list[str], train_idx) -> Normalizer:
    if config.normalizer == "none":
        return Normalizer.identity(len(names))
    return Normalizer.fit(ds, names, train_idx, kind=config.normalizer)


def build_run(config: RunConfig, *, progress: bool = True) -> Run:
    """Open the data, split it by sample, fit normalisers on the training split, build the
    model and its Trainer."""
    ds = open_dataset(config.data)
    names_in = config.inputs if config.steady else config.variables
    names_out = config.targets if config.steady else config.variables
    for name in names_in + names_out:
        if name not in ds.data_vars:
            available = ", ".join(map(str, ds.data_vars))
            raise ValueError(f"variable {name!r} not found in {config.data}; available "
                             f"variables: {available}")
    n_samples = ds.sizes.get("sample", 1)
    split_seed = config.seed if config.split_seed is None else config.split_seed
    samples = split_samples(n_samples, config.split, split_seed)
    splits = _datasets(config, ds, samples)
    if splits["train"] is None:
        raise ValueError(f"split {config.split} leaves no training samples out of {n_samples}")
    in_channels = len(names_in) * (1 if config.steady else config.history)
    torch.manual_seed(config.seed)  # identical initial weights for identical configs
    backbone = build_model(config.model, in_channels=in_channels, out_channels=len(names_out),
                           **config.model_config)
    model = NormalizedOperator(backbone, _normalizer(config, ds, names_in, samples["train"]),
                               _normalizer(config, ds, names_out, samples["train"]))
    spatial = list(splits["train"].spatial_shape)
    trainer = Trainer(
        model, splits["train"], splits["val"], loss=config.loss, lr=config.lr,
        weight_decay=config.weight_decay, scheduler=config.scheduler, epochs=config.epochs,
        batch_size=config.batch_size, grad_clip=config.grad_clip, amp=config.amp,
        compile=config.compile, channels_last=config.channels_last, seed=config.seed,
        device=config.device,
        checkpoint_dir=config.out, progress=progress, num_workers=config.num_workers,
        extra_state={"run": config.to_dict(), "spatial_shape": spatial})
    return Run(config, trainer, splits)


def check_output_dir(out: str | os.PathLike, overwrite: bool, resume: bool) -> None:
    """Refuse to write into a folder that already holds results, unless asked to."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (overwrite or resume):
        raise FileExistsError(f"output folder {out} already holds results; pass --overwrite to "
                              "replace them, --resume to continue, or choose another --out")


def train_run(config: RunConfig, *, resume: str | os.PathLike | None = None,
              overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train, then evaluate on the test split, write metrics JSON and plots; returns the
    report (``"test"`` metrics, ``"history"``, ``"rollout"`` errors when asked)."""
    dist_utils.init_from_env()
    if dist_utils.is_main_process():
        check_output_dir(config.out, overwrite, resume is not None)
    run = build_run(config, progress=progress)
    history = run.trainer.fit(resume=resume)
    report: dict[str, Any] = {
        "history": history, "parameters": count_parameters(run.trainer.model.backbone)}
    if not dist_utils.is_main_process():
        return report
    out = Path(config.out)
    model = run.trainer.model
    test = run.splits["test"] or run.splits["val"] or run.splits["train"]
    report["test"] = evaluate(model, test, config.batch_size, run.trainer.device)
    if config.rollout_steps and not config.steady:
        errors, _, _ = rollout_errors(model, test, config.rollout_steps, run.trainer.device)
        report["rollout"] = errors.tolist()
    if config.plots:
        from kinnsci.train import plots

        (out / "plots").mkdir(parents=True, exist_ok=True)
        plots.plot_loss_curves(history, out / "plots" / "loss.png")
        plots.plot_dataset_predictions(model, test, out / "plots" / "predictions.png",
                                       device=run.trainer.device, title=config.model)
        if "rollout" in report:
            plots.plot_rollout_error(errors, out / "plots" / "rollout_error.png")
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    return report


def load_trained(checkpoint: str | os.PathLike) -> tuple[NormalizedOperator, dict[str, Any]]:
    """The trained model (physical units in/out, eval mode) and the checkpoint's extras."""
    payload = load_checkpoint(checkpoint)
    config = dict(payload["model"]["config"])
    backbone = build_model(**config)
    state = payload["model"]["state"]
    model = NormalizedOperator(
        backbone,
        Normalizer.identity(state["input_normalizer.shift"].numel()),
        Normalizer.identity(state["output_normalizer.shift"].numel()))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{checkpoint}: weights do not fit the saved {config['name']!r} "
                              f"config ({exc})") from exc
    return model.eval(), payload.get("extra", {})


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike, *,
                        rollout: int | None = None, batch_size: int = 16,
                        device: str | torch.device = "cpu") -> tuple[dict[str, Any], nn.Module,
                                                                     Any]:
    """Metrics of a trained checkpoint on (all samples of) another data file."""
    model, extra = load_trained(checkpoint)
    run = RunConfig.from_mapping({**extra["run"], "data": str(data)})
    ds = open_dataset(data)
    dataset = _datasets(run, ds, {"all": list(range(ds.sizes.get("sample", 1)))})["all"]
    trained = tuple(extra.get("spatial_shape", dataset.spatial_shape))
    if tuple(dataset.spatial_shape) != trained and run.model not in RESOLUTION_INVARIANT:
        raise ValueError(
            f"{run.model!r} was trained on {trained[0]}x{trained[1]} grids and cannot transfer "
            f"to the {dataset.spatial_shape[0]}x{dataset.spatial_shape[1]} grids of {data}; "
            "resample the data to the training grid (ds.interp) or use fno/fkno, which do")
    model = model.to(device)
    report: dict[str, Any] = {"test": evaluate(model, dataset, batch_size, device)}
    if rollout:
        if run.steady:
            raise ValueError("--rollout needs a time-dependent model (trained with --variables)")
        errors, _, _ = rollout_errors(model, dataset, rollout, device)
        report["rollout"] = errors.tolist()
    return report, model, dataset
