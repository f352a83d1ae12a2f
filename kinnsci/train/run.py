"""A whole run from a :class:`RunConfig`: data -> normalisers -> model -> Trainer -> report.

``kinnsci train``, ``kinnsci evaluate`` and ``kinnsci quickstart`` are thin shells around
:func:`train_run` and :func:`evaluate_checkpoint`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from kinnsci._atomic import write_text_atomic
from kinnsci._deprecation import warn_deprecated
from kinnsci._lock import output_lock
from kinnsci._paths import check_output_path
from kinnsci.data import (
    DataError,
    Normalizer,
    OperatorDataset,
    RolloutDataset,
    open_dataset,
    split_samples,
)
from kinnsci.data.direct import register_transpose
from kinnsci.data.open import require_variables
from kinnsci.errors import ConfigError, OutputExistsError
from kinnsci.models import count_parameters, get_model, load_model
from kinnsci.models.normalized import NormalizedOperator
from kinnsci.train import distributed as dist_utils
from kinnsci.train.checkpoint import CheckpointError, load_checkpoint
from kinnsci.train.config import RESUME_KEYS, RunConfig, deciding_values
from kinnsci.train.datacheck import check_data
from kinnsci.train.evaluation import evaluate, evaluate_with_physics
from kinnsci.train.rollouts import rollout_errors
from kinnsci.train.trainer import Trainer


@dataclass
class Run:
    config: RunConfig
    trainer: Trainer
    splits: dict[str, Any]
    physics: Any = None
    """The PDE residual of the data's equation (:func:`run_physics`), or None."""


def _datasets(config: RunConfig, ds, samples: dict) -> dict[str, Any]:
    out = {}
    dims = {"sample_dim": config.sample_dim, "spatial_dims": tuple(config.spatial_dims)}
    for name, idx in samples.items():
        if len(idx) == 0:
            out[name] = None
        elif config.steady:
            out[name] = OperatorDataset(ds, config.inputs, config.targets, idx, **dims)
        else:
            out[name] = RolloutDataset(ds, config.variables, config.history, config.horizon, idx,
                                       stride=config.stride, time_dim=config.time_dim,
                                       static_inputs=config.static_inputs, **dims)
    return out


def open_run_data(config: RunConfig, path: str | os.PathLike | None = None):
    """The run's data (a file, or several by glob or folder, joined along the sample dim),
    its variables laid out as the datasets expect: (sample, [time],
    rows, columns) under the names the config gives, transposed lazily when the file stores
    them in another order (e.g. (time, lat, lon, member)).

    Raises:
        DataError: a variable is missing, or lacks one of the named dimensions.
    """
    ds = open_dataset(path or config.data, sample_dim=config.sample_dim or "sample",
                      channel_dim=config.channel_dim, channels=config.channels)
    static = config.static_inputs or []  # time-dependent runs only (RunConfig.check)
    names = (config.inputs + config.targets) if config.steady else config.variables + static
    for argument in ("inputs", "targets") if config.steady else ("variables", "static_inputs"):
        require_variables(ds, getattr(config, argument) or [], argument)
    order = tuple(d for d in (config.sample_dim, None if config.steady else config.time_dim,
                              *config.spatial_dims) if d is not None)
    static_order = tuple(d for d in (config.sample_dim, *config.spatial_dims) if d is not None)
    wanted = {n: static_order if n in static else order for n in names}
    for name in names:
        dims = ds[name].dims
        if set(dims) == set(wanted[name]):
            continue
        if name in static:
            raise DataError(
                f"static input {name!r} in {path or config.data} has dims {dims}; a "
                f"static input is one field per sample, {static_order}. Pass "
                "time-dependent fields as --variables")
        raise DataError(
            f"variable {name!r} in {path or config.data} has dims {dims}; the run expects "
            f"{order}. Name this file's dims with --sample-dim, --time-dim and "
            f"--spatial-dims ROWS COLUMNS (config keys sample_dim, time_dim, spatial_dims)")
    if any(ds[n].dims != wanted[n] for n in names):
        source = ds.encoding.get("source")
        original = ds
        ds = ds[list(dict.fromkeys(names))].transpose(*order, ...)
        for n in names:
            register_transpose(ds[n].variable, original[n].variable)
        ds.encoding["source"] = source
    return ds


def _normalizer(config: RunConfig, ds, names: list[str], train_idx) -> Normalizer:
    if config.normalizer == "none":
        return Normalizer.identity(len(names))
    return Normalizer.fit(ds, names, train_idx if config.sample_dim else None,
                          kind=config.normalizer, sample_dim=config.sample_dim or "sample")


def _input_normalizer(config: RunConfig, ds, train_idx) -> Normalizer:
    """Statistics of the model's input channels: the variables (k history states of V),
    then the static inputs, each with its own statistics."""
    names = config.inputs if config.steady else config.variables
    states = _normalizer(config, ds, names, train_idx)
    if config.steady or not config.static_inputs:
        return states
    static = _normalizer(config, ds, config.static_inputs, train_idx)
    return Normalizer(torch.cat([states.shift.repeat(config.history), static.shift]),
                      torch.cat([states.scale.repeat(config.history), static.scale]),
                      states.kind)


def build_run(config: RunConfig, *, progress: bool = True) -> Run:
    """Open the data, split it by sample, fit normalisers on the training split, build the
    model and its Trainer."""
    ds = open_run_data(config)
    names_in = config.inputs if config.steady else config.variables
    names_out = config.targets if config.steady else config.variables
    n_samples = ds.sizes[config.sample_dim] if config.sample_dim else 1
    split_seed = config.seed if config.split_seed is None else config.split_seed
    samples = split_samples(n_samples, config.split, split_seed)
    check_split_sizes(config.split, samples, config.data)
    if config.train_samples is not None:
        if config.train_samples > len(samples["train"]):
            raise DataError(f"train_samples {config.train_samples} exceeds the "
                            f"{len(samples['train'])} samples of the training split of "
                            f"{config.data}; use at most that many")
        samples = {**samples, "train": samples["train"][:config.train_samples]}
    splits = _datasets(config, ds, samples)
    check_data(config, splits, progress=progress, log=_note)
    in_channels = len(names_in) * (1 if config.steady else config.history) + len(
        config.static_inputs or [])
    torch.manual_seed(config.seed)  # identical initial weights for identical configs
    backbone = get_model(config.model, in_channels=in_channels, out_channels=len(names_out),
                           **config.model_config)
    model = NormalizedOperator(backbone, _input_normalizer(config, ds, samples["train"]),
                               _normalizer(config, ds, names_out, samples["train"]))
    spatial = list(splits["train"].spatial_shape)
    physics = run_physics(ds, config)
    trainer = Trainer(
        model, splits["train"], splits["val"], loss=run_loss(config, ds, physics),
        lr=config.lr,
        weight_decay=config.weight_decay, scheduler=config.scheduler, epochs=config.epochs,
        batch_size=config.batch_size, grad_clip=config.grad_clip, amp=config.amp,
        compile=config.compile, channels_last=config.channels_last, seed=config.seed,
        device=config.device,
        checkpoint_dir=config.out, progress=progress, num_workers=config.num_workers,
        extra_state={"run": config.to_dict(), "spatial_shape": spatial})
    return Run(config, trainer, splits, physics)


def _note(message: str) -> None:
    """A line on stderr from the main process (the others stay quiet under DDP)."""
    if dist_utils.is_main_process():
        from tqdm.auto import tqdm

        tqdm.write(f"kinnsci: {message}", file=sys.stderr)


def run_loss(config: RunConfig, ds, physics=None):
    """The Trainer's loss for ``config.loss``: a name, or a weighted sum whose ``pde``
    term is ``physics``, the residual of the data's equation (:func:`run_physics`).

    Raises:
        ConfigError: ``pde`` for data whose generator has no equation.
        DataError: the file lacks what the equation needs (one line naming it).
    """
    from kinnsci.train.losses import PhysicsResidual, make_loss, parse_loss

    if "pde" in parse_loss(config.loss) and physics is None:
        # no residual for this data: build it again to raise the reason in one line
        physics = PhysicsResidual.for_data(ds, inputs=config.inputs, targets=config.targets,
                                           variables=config.variables,
                                           history=config.history)
    return make_loss(config.loss, physics, config.loss_aggregator)


def check_split_sizes(fractions, samples: dict, source: str) -> None:
    """Training always needs samples, and so does a test split with a non-zero fraction (an
    empty one would silently be replaced). An empty validation split only warns: the run
    then has no validation metrics.

    Raises:
        DataError: naming the empty splits and the number of samples that fills them all.
    """
    n = sum(len(idx) for idx in samples.values())
    if fractions[0] <= 0:
        raise DataError(f"split {list(fractions)} gives no samples to training; give the "
                        "first (training) fraction a value > 0")
    if fractions[1] == 0 and fractions[2] == 0:
        raise DataError(f"split {list(fractions)} has neither a test nor a validation split "
                        f"to evaluate on; give one of them a non-zero fraction")
    empty = [name for (name, idx), f in zip(samples.items(), fractions, strict=True)
             if len(idx) == 0 and f > 0]
    if not empty:
        return
    need = next(m for m in range(n + 1, 100_000) if all(
        len(idx) for idx, f in zip(split_samples(m, fractions).values(), fractions,
                                   strict=True) if f > 0))
    message = (f"split {list(fractions)} of the {n} sample(s) in {source} leaves the "
               f"{' and '.join(empty)} split(s) empty; use at least {need} samples, or set "
               "that split's fraction to 0")
    if empty == ["val"]:
        warnings.warn(message + " (training continues without validation metrics)",
                      stacklevel=3)
        return
    raise DataError(message + " (a run without a test split evaluates on the validation "
                    "split)")


def check_resume(config: RunConfig, checkpoint: str | os.PathLike) -> None:
    """Refuse to resume from a checkpoint of a different run.

    Raises:
        CheckpointError: listing each setting that differs (checkpoint vs now).
    """
    payload = load_checkpoint(checkpoint)
    saved = payload.get("extra", {}).get("run")
    if saved is None:
        raise CheckpointError(f"{checkpoint} has no run config (it was not written by "
                              "kinnsci train); resume it with Trainer.fit(resume=...) instead")
    now, then = config.deciding(RESUME_KEYS), deciding_values(saved, RESUME_KEYS)
    differ = [f"{key}: {then[key]!r} in the checkpoint, {now[key]!r} now"
              for key in RESUME_KEYS if then[key] != now[key]]
    if differ:
        raise CheckpointError(f"--resume {checkpoint} belongs to another run; "
                              + "; ".join(differ) + ". Resume with the checkpoint's settings "
                              "(its run config is in the checkpoint), or train a new run "
                              "without --resume")


# What a run writes into its folder; --overwrite removes exactly these before a new run,
# so a failed new run never leaves an old final.pt beside its own files.
RUN_OUTPUTS = ("last.pt", "final.pt", "last_good.pt", "metrics.json", "plots", "config.yaml")


def check_output_dir(out: str | os.PathLike, overwrite: bool, resume: bool) -> None:
    """Refuse to write into a folder that already holds results, unless asked to; with
    ``overwrite`` (and no ``resume``), remove the previous run's outputs first.

    Raises:
        FileExistsError: the folder holds results and neither flag was given.
        ValueError: ``out`` is a file, or cannot be created or written.
    """
    out = Path(out)
    check_output_path(out, "--out", folder=True)
    if out.exists() and any(out.iterdir()) and not (overwrite or resume):
        raise OutputExistsError(f"output folder {out} already holds results; pass overwrite=True "
                                "to replace them, resume=<checkpoint> to continue, or choose "
                                "another out", path=out, what="already holds results")
    if overwrite and not resume and out.is_dir():
        for name in RUN_OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)


def keep_earlier_results(out: Path) -> Path | None:
    """Before a resumed run writes its results into ``out``, move those of the run it
    continues (``final.pt``, ``metrics.json``, ``config.yaml``, ``plots/``) to
    ``out/epoch-N/``, N the epochs that run had finished: no result is replaced silently.
    Returns that folder, or None when there was nothing to keep."""
    final = out / "final.pt"
    if not final.exists():
        return None
    epoch = load_checkpoint(final).get("epoch", 0)
    keep = out / f"epoch-{epoch}"
    suffix = 1
    while keep.exists():
        keep, suffix = out / f"epoch-{epoch}-{suffix}", suffix + 1
    keep.mkdir()
    for name in ("final.pt", "metrics.json", "config.yaml", "plots"):
        if (out / name).exists():
            (out / name).rename(keep / name)
    print(f"kinnsci: the results of the first {epoch} epochs are kept in {keep}")
    return keep


def check_model_takes(run: Run) -> None:
    """One forward pass on the first training item, before anything is written: a model
    that refuses the data's grid or channels (``n_modes`` too large, say) stops the run
    with its own message while the output folder is still untouched."""
    model, device = run.trainer.model, run.trainer.device
    x, _ = run.splits["train"][0]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x[None].to(device))
    finally:
        model.train(was_training)


def train_run(config: RunConfig, *, resume: str | os.PathLike | None = None,
              overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train, then evaluate on the test split, write ``config.yaml`` (the full config),
    metrics JSON and plots to ``config.out``; returns the report (``"test"`` metrics,
    ``"history"``, ``"rollout"`` errors when asked).

    Raises:
        OutputBusyError: another kinnsci process is writing ``config.out`` right now.
    """
    dist_utils.init_from_env()
    with contextlib.ExitStack() as stack:
        if dist_utils.is_main_process():  # one writer: a second run into out refuses
            check_output_path(config.out, "--out", folder=True)
            stack.enter_context(output_lock(config.out, "--out"))
        return _train_run(config, resume, overwrite, progress)


def _train_run(config: RunConfig, resume, overwrite: bool, progress: bool) -> dict[str, Any]:
    if dist_utils.is_main_process():
        check_output_dir(config.out, overwrite, resume is not None)
    if resume is not None:
        check_resume(config, resume)
        if dist_utils.is_main_process():
            keep_earlier_results(Path(config.out))
    run = build_run(config, progress=progress)
    check_model_takes(run)  # a refused model writes nothing, config.yaml included
    if dist_utils.is_main_process():
        # the run's full config, so it can be rerun or continued with --config OUT/config.yaml
        Path(config.out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(config.out) / "config.yaml",
                          yaml.safe_dump(config.to_dict(), sort_keys=False))
    history = run.trainer.fit(resume=resume)
    report: dict[str, Any] = {
        "history": history, "parameters": count_parameters(run.trainer.model.backbone)}
    if not dist_utils.is_main_process():
        return report
    out = Path(config.out)
    model = run.trainer.model
    # check_split_sizes guarantees a test split unless its fraction is 0: then validation
    test = run.splits["test"] or run.splits["val"]
    report["evaluated_on"] = "test" if run.splits["test"] is not None else "val"
    report["test"] = evaluate(model, test, config.batch_size, run.trainer.device,
                              progress=progress)
    if config.rollout_steps and not config.steady:
        errors, _, _ = rollout_errors(model, test, config.rollout_steps, run.trainer.device,
                                      progress=progress)
        report["rollout"] = errors.tolist()
    if config.plots:
        from kinnsci.train import plots

        (out / "plots").mkdir(parents=True, exist_ok=True)
        plots.plot_loss_curves(history, out / "plots" / "loss.png", title=config.model)
        split = report.get("evaluated_on", "test")
        plots.plot_dataset_predictions(
            model, test, out / "plots" / "predictions.png", device=run.trainer.device,
            title=f"{config.model} trained on {config.data} ({split} split)")
        if "rollout" in report:
            plots.plot_rollout_error(
                errors, out / "plots" / "rollout_error.png",
                title=f"{config.model}: {config.rollout_steps}-step rollouts on "
                f"{config.data} ({split} split)", variables=", ".join(config.variables))
    write_text_atomic(out / "metrics.json", json.dumps(report, indent=2))
    return report


def load_trained(checkpoint: str | os.PathLike) -> tuple[NormalizedOperator, dict[str, Any]]:
    """Deprecated: ``loaded = kinnsci.models.load_model(checkpoint)`` gives ``loaded.model``
    and ``loaded.extra``, for every file kinnsci writes."""
    warn_deprecated("kinnsci.train.load_trained(path)", "kinnsci.models.load_model(path) "
                    "(.model, .extra)")
    loaded = load_model(checkpoint)
    return loaded.model, loaded.extra


class Evaluation(tuple):
    """``(report, model, dataset)`` of :func:`evaluate_checkpoint`, plus ``physics``: the
    PDE residual it evaluated with (None when the data has no equation)."""

    physics: Any = None

    def __new__(cls, report: dict[str, Any], model: nn.Module, dataset: Any, physics: Any):
        out = super().__new__(cls, (report, model, dataset))
        out.physics = physics
        return out


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike, *,
                        rollout: int | None = None, batch_size: int = 16,
                        device: str | torch.device = "cpu", progress: bool = False,
                        ) -> Evaluation:
    """Metrics of a trained checkpoint on (all samples of) another data file; ``progress``
    shows tqdm bars for the evaluation and the rollouts. Returns ``(report, model,
    dataset)`` with ``.physics``, the residual used (:class:`Evaluation`).

    Raises:
        ConfigError: a grid the model cannot take, or ``rollout`` for a steady model.
        DataError: the data lacks the run's variables or holds NaN/inf.
    """
    loaded = load_model(checkpoint)
    model, extra = loaded.model, loaded.extra
    run = RunConfig.from_mapping({**extra["run"], "data": str(data)})
    ds = open_run_data(run, data)
    n = ds.sizes[run.sample_dim] if run.sample_dim else 1
    dataset = _datasets(run, ds, {"all": list(range(n))})["all"]
    trained = tuple(extra.get("spatial_shape", dataset.spatial_shape))
    if tuple(dataset.spatial_shape) != trained and not getattr(
            model.backbone, "resolution_invariant", False):
        raise ConfigError(
            f"{run.model!r} was trained on {trained[0]}x{trained[1]} grids and cannot transfer "
            f"to the {dataset.spatial_shape[0]}x{dataset.spatial_shape[1]} grids of {data}; "
            "resample the data to the training grid (ds.interp) or use fno/fkno, which do")
    model = model.to(device)
    physics = run_physics(ds, run)
    report: dict[str, Any] = {"test": evaluate_with_physics(
        model, dataset, batch_size, device, physics, progress=progress)}
    if rollout:
        if run.steady:
            raise ConfigError("--rollout needs a time-dependent model (trained with --variables)")
        errors, preds, truths = rollout_errors(model, dataset, rollout, device,
                                               progress=progress)
        report["rollout"] = errors.tolist()
        from kinnsci.physics.metrics import conservation_drift

        drift = conservation_drift(preds, truths)
        report["rollout_conserved_error"] = drift["conserved_error"].tolist()
        report["rollout_energy_ratio"] = drift["energy_ratio"].tolist()
    return Evaluation(report, model, dataset, physics)


def run_physics(ds, run: RunConfig):
    """The PDE residual (:class:`~kinnsci.train.losses.PhysicsResidual`) of the equation of
    ``ds``'s generator for ``run``'s variables, or None when the data has no equation,
    lacks what it needs, or the run's variables do not cover it."""
    from kinnsci.train.losses import PhysicsResidual

    try:
        return PhysicsResidual.for_data(ds, inputs=run.inputs, targets=run.targets,
                                        variables=run.variables, history=run.history)
    except (ConfigError, DataError):
        return None


def inspect_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike | None = None,
                       *, n_samples: int = 8, device: str | torch.device = "cpu"
                       ) -> dict[str, Any]:
    """Kirchhoff diagnostics (:func:`kinnsci.layers.inspect_kirchhoff`) of a trained
    checkpoint on its first ``n_samples`` samples of ``data`` (default: the file it was
    trained on), in physical units through its normalisers.

    Raises:
        InputNotFoundError, CheckpointError: as :func:`kinnsci.models.load_model`.
        DataError: ``data`` lacks the run's variables, or no ``data`` and the training
            file is gone.
        ConfigError: the model has no KNC (nothing to inspect) or ``n_samples < 1``.
    """
    from kinnsci.layers import KNC, inspect_kirchhoff

    if n_samples < 1:
        raise ConfigError(f"n_samples must be >= 1, got {n_samples}")
    loaded = load_model(checkpoint)
    model, extra = loaded.model, loaded.extra
    if not any(isinstance(m, KNC) for m in model.modules()):
        raise ConfigError(f"{checkpoint} holds a {extra['run']['model']!r} model, which has no "
                          "Kirchhoff cells to inspect (fkno, ukno and kinn_vision have)")
    path = data if data is not None else extra["run"]["data"]
    if data is None and not Path(path).exists():
        raise DataError(f"the run's training file {path} is gone; pass --data FILE with the "
                        "variables the model was trained on")
    run = RunConfig.from_mapping({**extra["run"], "data": str(path)})
    ds = open_run_data(run, path)
    n = ds.sizes[run.sample_dim] if run.sample_dim else 1
    dataset = _datasets(run, ds, {"all": list(range(min(n, n_samples)))})["all"]
    x = torch.stack([dataset[i][0] for i in range(len(dataset))]).to(device)
    report = inspect_kirchhoff(model.to(device), x)
    return {"checkpoint": str(checkpoint), "data": str(path), "samples": len(dataset),
            "model": extra["run"]["model"], **report}
