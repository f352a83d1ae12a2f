"""One run of a tabular experiment (KirchhoffNet's Table I, DynPMNN vs NODE and CfC):
the table, min-max scaled by its training split, the model trained with L2 loss by the
:class:`~kinnsci.train.Trainer` (AdamW, no clipping), and its test MSE in scaled units
(the papers' "test loss").

The experiment machinery (learning-rate selection, seeds, verdicts, reports) is
:mod:`kinnsci.reproduce.runner`'s, shared with the PDE experiments.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from kinnsci._atomic import atomic_path
from kinnsci.data.tabular import Table, builtin_table, read_csv_table, scaled_splits
from kinnsci.reproduce.plan import Plan, TableRecipe, Variant

TABLE_METRICS = ("mse", "rmse", "mae")
"""Test metrics of a tabular run, in min-max scaled target units (lower is better)."""


def load_recipe_table(recipe: TableRecipe) -> Table:
    """The table a recipe names (built in, or the CSV file it points to).

    Raises:
        DataError: a CSV file whose content changed since the plan was made (its hash).
    """
    if recipe.sha256 is None:
        return builtin_table(recipe.source, n_samples=recipe.n_samples,
                             n_features=recipe.n_features, noise=recipe.noise,
                             seed=recipe.seed)
    from kinnsci.data.tabular import file_sha256
    from kinnsci.errors import DataError

    if file_sha256(recipe.source) != recipe.sha256:
        raise DataError(f"{recipe.source} changed since this experiment started (its "
                        "SHA-256 differs); results of two tables are never mixed: use "
                        "another --out, or restore the file")
    return read_csv_table(recipe.source, recipe.target)


def prepare_table(plan: Plan, root: Path) -> Path:
    """``root/data/<recipe>.npz``: the plan's table (x, y, names), written once."""
    recipe = plan.data
    path = root / "data" / recipe.file_name()
    if path.exists():
        return path
    table = load_recipe_table(recipe)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, x=table.x, y=table.y, feature_names=np.array(table.feature_names),
                 target_name=np.array(table.target_name), source=np.array(table.source))
    return path


def read_table_file(path: Path) -> Table:
    with np.load(path, allow_pickle=False) as npz:
        return Table(npz["x"], npz["y"], tuple(str(n) for n in npz["feature_names"]),
                     str(npz["target_name"]), str(npz["source"]))


def run_key(plan: Plan, variant: Variant, lr: float, seed: int) -> dict[str, Any]:
    """Everything that sets a tabular run's numbers (hashed into its folder name)."""
    return {"data": dataclasses.asdict(plan.data), "model": variant.model,
            "model_config": dict(variant.model_config), "split": list(plan.split),
            "split_seed": plan.split_seed, "epochs": plan.epochs,
            "batch_size": plan.batch_size, "lr": lr, "weight_decay": plan.weight_decay,
            "scheduler": plan.scheduler, "seed": seed, "loss": "mse", "grad_clip": None}


def table_metrics(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and MAE of ``model`` on scaled rows ``x`` (n, features), ``y`` (n, 1)."""
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    err = pred - y
    mse = float(np.mean(err**2))
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(err)))}


def train_and_evaluate(plan: Plan, variant: Variant, lr: float, seed: int, data: Path,
                       run_dir: Path) -> dict[str, Any]:
    """Train one run (continuing from ``run_dir/last.pt``), evaluate it on the
    validation and test rows, and return its result (the runner writes it)."""
    from kinnsci.models import count_parameters, get_model
    from kinnsci.train.trainer import NonFiniteLossError, Trainer

    table = read_table_file(data)
    splits = scaled_splits(table, plan.split, plan.split_seed)
    torch.manual_seed(seed)
    model = get_model(variant.model, in_channels=table.n_features, out_channels=1,
                      **variant.model_config)
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    train = TensorDataset(as_tensor(splits.x["train"]), as_tensor(splits.y["train"]))
    trainer = Trainer(
        model, train, None, loss="mse", scheduler=plan.scheduler, lr=lr,
        weight_decay=plan.weight_decay, epochs=plan.epochs, batch_size=plan.batch_size,
        grad_clip=None, seed=seed, device="cpu", checkpoint_dir=run_dir, progress=False,
        extra_state={"table": dataclasses.asdict(plan.data),
                     "x_min": splits.x_range[0].tolist(), "x_span": splits.x_range[1].tolist(),
                     "y_min": splits.y_range[0].tolist(),
                     "y_span": splits.y_range[1].tolist()})
    result: dict[str, Any] = {
        "id": run_dir.name, "variant": variant.key, "model": variant.model, "lr": lr,
        "seed": seed, "horizon": 1, "params": count_parameters(model), "diverged": False,
        "error": None, "kirchhoff": None}
    last = run_dir / "last.pt"
    try:
        history = trainer.fit(resume=last if last.exists() else None)
    except NonFiniteLossError as exc:
        history = trainer.history
        result.update(diverged=True, error=str(exc).split(";")[0])
    result["train_seconds"] = sum(h["seconds"] for h in history)
    result["train_loss"] = [h["train_loss"] for h in history]
    start = time.perf_counter()
    for split in ("val", "test"):
        result[split] = ({} if result["diverged"] else
                         table_metrics(trainer.model, splits.x[split], splits.y[split]))
        result[f"{split}_curves"] = {}
    result["eval_seconds"] = time.perf_counter() - start
    last.unlink(missing_ok=True)
    return result


__all__ = ["TABLE_METRICS", "load_recipe_table", "prepare_table", "run_key",
           "table_metrics", "train_and_evaluate"]
