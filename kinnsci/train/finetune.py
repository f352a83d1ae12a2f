"""Physics-only fine-tuning of a trained operator on new inputs (PINO's test-time
optimisation): minimise the PDE residual of the model's predictions on a data file,
without its targets, and report the residual and the error before and after.

    kinnsci finetune runs/fno/final.pt --data test_64.nc --steps 200 --out runs/fno_ft
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinnsci.errors import ConfigError


def finetune_model(model: nn.Module, dataset, physics, *, steps: int, lr: float,
                   batch_size: int, amp: str | None = None,
                   device: str | torch.device | None = None, seed: int = 0,
                   checkpoint_dir: str | os.PathLike | None = None, progress: bool = False,
                   extra_state: dict[str, Any] | None = None):
    """Minimise ``physics`` (a :class:`~kinnsci.train.losses.PhysicsResidual`) of
    ``model``'s predictions on ``dataset``'s inputs, in place: AdamW at a constant ``lr``
    without weight decay or clipping, about ``steps`` optimiser steps (whole epochs over
    the dataset). Returns the :class:`~kinnsci.train.Trainer` that ran it."""
    from kinnsci.train.losses import CompositeLoss
    from kinnsci.train.trainer import Trainer

    epochs = math.ceil(steps / math.ceil(len(dataset) / batch_size))
    trainer = Trainer(model, dataset, None, loss=CompositeLoss({"pde": 1.0}, physics),
                      lr=lr, weight_decay=0.0, scheduler="none", epochs=epochs,
                      batch_size=batch_size, grad_clip=None, amp=amp, seed=seed,
                      device=device, checkpoint_dir=checkpoint_dir, progress=progress,
                      extra_state=extra_state)
    trainer.fit()
    model.eval()
    return trainer


def finetune_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike, *,
                        steps: int = 100, lr: float = 1e-4, out: str | os.PathLike,
                        batch_size: int | None = None, amp: str | None = None,
                        device: str | None = None, progress: bool = False
                        ) -> dict[str, Any]:
    """Fine-tune ``checkpoint`` on the inputs of ``data`` with the PDE residual alone
    (AdamW at a constant ``lr``, ``steps`` optimiser steps over the file's samples) and
    write ``out/final.pt`` (a checkpoint like training's) and ``out/finetune.json``.

    Returns the report: residual and (where the file has targets) test metrics before and
    after, the steps and the time.

    Raises:
        ConfigError: ``steps`` < 1 or ``lr`` <= 0; the data's generator has no equation.
        DataError: the file lacks the run's variables or an attribute the equation needs.
        OutputExistsError: ``out`` holds results already.
    """
    import json
    import time

    from kinnsci._atomic import write_text_atomic
    from kinnsci._paths import check_output_path
    from kinnsci.models import load_model
    from kinnsci.train.config import RunConfig
    from kinnsci.train.evaluation import evaluate
    from kinnsci.train.losses import PhysicsResidual, mean_residual
    from kinnsci.train.run import _datasets, open_run_data

    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr must be a finite learning rate > 0, got {lr!r}")
    out = check_output_path(out, "--out", folder=True)
    if out.exists() and any(out.iterdir()):
        from kinnsci.errors import OutputExistsError

        raise OutputExistsError(f"--out {out} already holds files; choose another folder",
                                path=out, what="already holds files")
    loaded = load_model(checkpoint)
    model, extra = loaded.model, loaded.extra
    run = RunConfig.from_mapping({**extra["run"], "data": str(data), "horizon": 1})
    ds = open_run_data(run, data)
    n = ds.sizes[run.sample_dim] if run.sample_dim else 1
    dataset = _datasets(run, ds, {"all": list(range(n))})["all"]
    physics = PhysicsResidual.for_data(ds, inputs=run.inputs, targets=run.targets,
                                       variables=run.variables, history=run.history)
    batch = batch_size or min(len(dataset), run.batch_size)
    from kinnsci.train.distributed import default_device

    device_ = torch.device(device) if device else default_device()

    def measure() -> dict[str, Any]:
        where = next(model.parameters()).device
        return {"residual": mean_residual(model, dataset, physics, batch, where),
                "test": evaluate(model, dataset, batch, where)}

    model.to(device_)
    before = measure()
    start = time.perf_counter()
    trainer = finetune_model(model, dataset, physics, steps=steps, lr=lr, batch_size=batch,
                             amp=amp, device=device_, seed=run.seed, checkpoint_dir=out,
                             progress=progress, extra_state={**extra, "finetuned": {
                                 "from": str(checkpoint), "data": str(data), "steps": steps,
                                 "lr": lr}})
    seconds = time.perf_counter() - start
    after = measure()
    report = {"checkpoint": str(checkpoint), "data": str(data), "equation":
              physics.equation.name, "steps": trainer.epochs * len(trainer.loader),
              "lr": lr, "samples": len(dataset), "seconds": seconds, "before": before,
              "after": after, "out": str(Path(out) / "final.pt")}
    write_text_atomic(Path(out) / "finetune.json", json.dumps(report, indent=2) + "\n")
    (Path(out) / "last.pt").unlink(missing_ok=True)
    return report


__all__ = ["finetune_checkpoint", "finetune_model"]
