"""The training loop: epochs, checkpoints, resume, unrolled rollouts, DDP, AMP."""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from kinnsci._deprecation import renamed_method
from kinnsci._registry import lookup
from kinnsci.errors import ConfigError, TrainingError
from kinnsci.train import distributed as dist_utils
from kinnsci.train.checkpoint import (
    load_checkpoint,
    remove_run_temporaries,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from kinnsci.train.evaluation import evaluate
from kinnsci.train.metrics import LOSSES
from kinnsci.train.rollouts import rollout

SCHEDULERS = ("cosine", "step", "none")
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _epoch_line(record: dict[str, float], epochs: int) -> str:
    """One plain line per epoch, for logs: loss, validation metrics, time."""
    vals = ", ".join(f"{k[4:]} {v:.4g}" for k, v in record.items() if k.startswith("val_"))
    terms = ", ".join(f"{k[5:]} {v:.4g}" for k, v in record.items() if k.startswith("loss_"))
    return (f"epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4g}"
            + (f" ({terms})" if terms else "")
            + (f", val {vals}" if vals else "") + f" ({_duration(record['seconds'])})")


class NonFiniteLossError(TrainingError):
    """The loss became NaN/inf; the last good state was saved first."""


def _planned_epochs(scheduler: object) -> int | None:
    """The run length a checkpoint without ``epochs`` (0.1) planned, from its scheduler."""
    if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
        return int(scheduler.T_max)
    return None


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2g} s"  # a fast epoch is "0.31 s", not "0 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


class _EpochTimer:
    """Says how long the run will take: after a few batches of the first epoch (the
    first batch, which may compile kernels, not counted) and when that epoch ends."""

    FIRST, LAST = 1, 6  # batches timed for the early estimate

    def __init__(self, n_batches: int, epochs_left: int, enabled: bool):
        self.n, self.left, self.enabled = n_batches, epochs_left, enabled
        self.start = self.t_first = time.perf_counter()

    def batch(self, index: int) -> None:
        if not self.enabled:
            return
        if index == self.FIRST:
            self.t_first = time.perf_counter()
        elif index == self.LAST and self.n >= 4 * self.LAST:
            per_batch = (time.perf_counter() - self.t_first) / (self.LAST - self.FIRST)
            self._say(per_batch * self.n, f"from batches {self.FIRST + 1}-{self.LAST}")

    def done(self) -> None:
        if not self.enabled:
            return
        if self.n > 2:  # without the first batch, which may wait for a kernel to compile
            per_batch = (time.perf_counter() - self.t_first) / (self.n - 1)
            self._say(per_batch * self.n, "the first epoch without its first batch")
        else:
            self._say(time.perf_counter() - self.start, "the first epoch, measured")

    def _say(self, epoch_seconds: float, basis: str) -> None:
        tqdm.write(f"kinnsci: about {_duration(epoch_seconds)} per epoch ({basis}), "
                   f"about {_duration(epoch_seconds * self.left)} for the {self.left} "
                   "epoch(s) of this run (validation not included)", file=sys.stderr)


SYNC_EVERY = 16
"""Batches between the host's reads of the running loss (progress bar, NaN/inf stop)."""


def _fused_available(params: list[Tensor]) -> bool:
    """Fused AdamW runs on CUDA and CPU floating-point parameters (not on MPS/XLA)."""
    return bool(params) and all(p.device.type in ("cuda", "cpu") and p.is_floating_point()
                                for p in params)


class Trainer:
    """Train an operator on a map-style dataset of (x, y) pairs.

    ``y`` shaped like ``x`` -> one-step (operator) training. ``y`` of shape
    (horizon, V, H, W) from a ``RolloutDataset`` -> the model is unrolled ``horizon``
    steps on its own predictions and the loss is averaged over the steps.

    Args:
        model: (B, C_in, H, W) -> (B, C_out, H, W); a ``NormalizedOperator`` to work in
            physical units. Must carry ``.config`` (``get_model``) to be checkpointed.
        train_data: the training dataset.
        val_data: evaluated after each epoch (optional).
        loss: ``"rel_l2" | "rel_l1" | "mse" | "cross_entropy"``, a mapping of term names
            to weights (``{"rel_l2": 1, "h1": 0.5}``; :mod:`kinnsci.train.losses`), or a
            callable ``(pred, true) -> scalar`` (``(pred, true, x)`` when it has
            ``takes_inputs = True``, as the physics loss does; its ``epoch_means()``, if
            any, are logged as ``loss_<term>``).
        metrics: validation metrics ``{name: (pred, true) -> scalar}``; default the field
            errors of ``kinnsci.train.metrics.METRICS`` (classifiers:
            ``CLASSIFICATION_METRICS``; their targets are integer labels (batch,)).
        optimizer: an optimizer over ``model``'s parameters; default AdamW(lr, weight_decay).
        scheduler: ``"cosine"`` (to 0 over ``epochs``), ``"step"`` (halve every third of the
            run), ``"none"``, or an LR scheduler stepped once per epoch.
        batch_size: global batch; under DDP each of N ranks takes ``batch_size / N``.
        grad_clip: max gradient norm (None: no clipping).
        amp: ``"bf16" | "fp16" | None``; mixed precision (fp16 on CUDA only; bf16 also on
            CPUs, through CPU autocast).
        compile: wrap the model in ``torch.compile``.
        channels_last: keep 4-D weights and (B, C, H, W) batches in the channels-last
            (NHWC) memory layout, oneDNN's fast one for convolutions on CPUs (training
            steps 11-21 % faster here: ``benchmarks/bench_models.py --channels-last``).
            Only strides change; results agree to rounding.
        seed: seeds the shuffling (per epoch, as ``DistributedSampler`` does) so runs and
            resumed runs are identical.
        checkpoint_dir: where ``last.pt`` (every epoch) and ``final.pt`` go; None: none.
        extra_state: plain values saved in every checkpoint (data description, ...).

    Raises:
        ConfigError: ``epochs`` or ``batch_size`` < 1, a CUDA device or fp16 AMP without
            CUDA, an unknown ``amp``, or a batch that does not split over the DDP processes.
    """

    def __init__(
        self, model: nn.Module, train_data: Dataset, val_data: Dataset | None = None, *,
        loss: str | Callable[[Tensor, Tensor], Tensor] = "rel_l2",
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: str | torch.optim.lr_scheduler.LRScheduler = "cosine",
        lr: float = 1e-3, weight_decay: float = 1e-4, epochs: int = 10, batch_size: int = 16,
        grad_clip: float | None = 1.0, amp: str | None = None, compile: bool = False,
        channels_last: bool = False, seed: int = 0, device: torch.device | str | None = None,
        checkpoint_dir: str | os.PathLike | None = None, progress: bool = True,
        num_workers: int = 0, extra_state: dict[str, Any] | None = None,
        metrics: Mapping[str, Callable[[Tensor, Tensor], Tensor]] | None = None,
    ):
        if epochs < 1 or batch_size < 1:
            raise ConfigError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
        self.device = torch.device(device) if device else dist_utils.default_device()
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device {str(device)!r} needs CUDA, and this torch sees no CUDA "
                             "device (torch.cuda.is_available() is False); use --device cpu "
                             "or leave --device out to pick what is there")
        if amp is not None and amp not in AMP_DTYPES:
            raise ConfigError(f"amp must be one of {sorted(AMP_DTYPES)} or None, got {amp!r}")
        if amp == "fp16" and self.device.type != "cuda":
            raise ConfigError(f"amp='fp16' needs a CUDA device (its loss scaling is CUDA's), "
                             f"training runs on {self.device}; use amp='bf16' or none on CPUs")
        self.model = model.to(self.device)
        self.channels_last = channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        if isinstance(loss, Mapping):
            from kinnsci.train.losses import make_loss

            loss = make_loss(loss)
        self.loss_fn = lookup(LOSSES, loss, "loss") if isinstance(loss, str) else loss
        self.train_data, self.val_data = train_data, val_data
        self.metrics = metrics
        self.epochs, self.seed, self.grad_clip = epochs, seed, grad_clip
        self.amp, self.progress = amp, progress
        self.extra_state = dict(extra_state or {})
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None

        world = dist_utils.world_size()
        if batch_size % world:
            raise ConfigError(f"batch_size {batch_size} must be divisible by the number of "
                             f"processes ({world})")
        # The same sampler in one process and under DDP: identical shuffles, so a run on
        # N ranks sees exactly the global batches of a single-process run.
        self.sampler = DistributedSampler(train_data, num_replicas=world,
                                          rank=dist_utils.rank(), shuffle=True, seed=seed)
        self.loader = DataLoader(train_data, batch_size=batch_size // world,
                                 sampler=self.sampler, num_workers=num_workers,
                                 pin_memory=self.device.type == "cuda")
        self.batch_size = batch_size

        x0, y0 = train_data[0]
        self.unroll = y0.ndim == x0.ndim + 1
        self.horizon = y0.shape[0] if self.unroll else 1
        # fields: channels of one state; class labels (0-d targets): unused
        self.n_variables = y0.shape[1] if self.unroll else (y0.shape[0] if y0.ndim else 1)
        # x's channels by name ("states", and "static" for RolloutDataset(static_inputs=))
        self.input_layout = getattr(train_data, "input_layout", None)

        self.module: nn.Module = self.model
        if world > 1:
            self.module = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if compile:
            self.module = torch.compile(self.module)
        # Fused AdamW skips a step on the device when told its loss was not finite, so a
        # training step needs no device-to-host synchronisation (see train_step). It takes
        # real tensors only: a complex weight (spectral layers) is handed to it as the real
        # (..., 2) view of the same memory, which is what AdamW does with complex weights
        # itself (same numbers).
        self._real_views: list[tuple[nn.Parameter, nn.Parameter]] = []
        self._own_optimizer, self._fused = optimizer is None, False
        if optimizer is None:
            params = []
            for p in self.model.parameters():
                if p.is_complex():
                    view = nn.Parameter(torch.view_as_real(p.detach()))
                    self._real_views.append((p, view))
                    p = view
                params.append(p)
            self._fused = _fused_available(params)
            optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay,
                                          fused=self._fused)
        self.optimizer = optimizer
        self.scheduler = self._make_scheduler(scheduler)
        self.schedule_epochs = epochs  # the run length the schedule was built for
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
        self.epoch = 0  # completed epochs
        self.history: list[dict[str, float]] = []

    def _make_scheduler(self, scheduler):
        if not isinstance(scheduler, str):
            return scheduler
        if scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=self.epochs)
        if scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer,
                                                   step_size=max(1, self.epochs // 3), gamma=0.5)
        if scheduler == "none":
            return None
        raise ConfigError(f"unknown scheduler {scheduler!r}; known: {', '.join(SCHEDULERS)}")

    # --- one step ------------------------------------------------------------------------
    def compute_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """The loss of one batch, under autocast when ``amp`` is set.

        ``x`` (B, C_in, H, W); ``y`` (B, C_out, H, W), or (B, horizon, V, H, W) for unrolled
        training, where the model is rolled out ``horizon`` steps on its own predictions
        (the data's ``input_layout`` names the channels: the ``"static"`` ones are kept at
        every step).
        """
        with torch.autocast(self.device.type, dtype=AMP_DTYPES.get(self.amp, torch.float32),
                            enabled=self.amp is not None):
            if self.unroll:
                parts = ({"states": x} if self.input_layout is None
                         else self.input_layout.split(x))
                pred = rollout(self.module, parts["states"], self.horizon, self.n_variables,
                               parts.get("static"))
            else:
                pred = self.module(x)
        pred = pred.float() if self.amp else pred
        if getattr(self.loss_fn, "takes_inputs", False):
            return self.loss_fn(pred, y, x)
        return self.loss_fn(pred, y)

    def train_step(self, x: Tensor, y: Tensor) -> Tensor:
        """One optimiser step on a batch (gradient clipping and loss scaling included);
        returns the detached loss. A step whose gradients are not finite is not applied,
        so the weights stay the last good ones.

        The decision is taken from the gradients after DDP has averaged them (their total
        norm, which clipping computes anyway), so it is the same on every process: a NaN
        loss on one rank makes every rank's averaged gradient NaN, and every rank skips.
        Every rank always runs backward (DDP's all-reduce happens there). With the default
        (fused) AdamW the skip happens on the device (the optimiser's ``found_inf``) and
        the step makes no device-to-host synchronisation; another optimiser is skipped
        from the host, which reads the norm; fp16 loss scaling skips as GradScaler does.
        """
        self.optimizer.zero_grad(set_to_none=True)
        for weight, _ in self._real_views:
            weight.grad = None
        loss = self.compute_loss(x, y)
        self.scaler.scale(loss).backward()
        for weight, view in self._real_views:  # views: unscaling and clipping act on both
            view.grad = None if weight.grad is None else torch.view_as_real(weight.grad)
        if self.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        else:
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            norm = (torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                          for g in grads]))
                    if grads else torch.zeros((), device=self.device))
        if self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # skips non-finite (averaged) gradients itself
            self.scaler.update()
        elif getattr(self.optimizer, "_step_supports_amp_scaling", False):
            self.optimizer.found_inf = (~torch.isfinite(norm)).float()
            try:
                self.optimizer.step()
            finally:
                del self.optimizer.found_inf
        elif bool(torch.isfinite(norm)):
            self.optimizer.step()
        return loss.detach()

    # --- epochs --------------------------------------------------------------------------
    def fit(self, resume: str | os.PathLike | None = None) -> list[dict[str, float]]:
        """Train until ``epochs`` are done; with ``resume``, continue from that checkpoint."""
        if resume is not None:
            self.load_state(resume)
        main = dist_utils.is_main_process()
        first_epoch = self.epoch
        # a progress bar on a terminal; piped to a file, one plain line per epoch instead
        # (a bar's carriage returns pile up there into a few very long lines)
        interactive = sys.stderr.isatty()
        for epoch in range(self.epoch, self.epochs):
            self.model.train()
            self.sampler.set_epoch(epoch)
            start, count = time.perf_counter(), 0
            # the running loss and the first non-finite batch stay on the device; the host
            # reads them every SYNC_EVERY batches (progress, NaN stop) and at the epoch end
            total = torch.zeros((), dtype=torch.float64, device=self.device)
            first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
            bar = tqdm(self.loader, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                       disable=not (self.progress and main and interactive))
            timer = _EpochTimer(len(self.loader), self.epochs - epoch,
                                enabled=self.progress and main and epoch == first_epoch)
            last = len(self.loader) - 1
            for batch_index, (x, y) in enumerate(bar):
                timer.batch(batch_index)
                x = x.to(self.device, non_blocking=True)
                y = y.to(self.device, non_blocking=True)
                if self.channels_last and x.ndim == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                loss = self.train_step(x, y)
                finite = torch.isfinite(loss)
                first_bad = torch.where((first_bad < 0) & ~finite, batch_index, first_bad)
                total = total + torch.where(finite, loss.double(), 0.0) * len(x)
                count += len(x)
                if batch_index % SYNC_EVERY == SYNC_EVERY - 1 or batch_index == last:
                    # collective: every rank reaches this at the same batch and stops
                    # together when any rank saw a non-finite loss
                    first_bad = dist_utils.all_reduce_max(first_bad)
                    if int(first_bad) >= 0:
                        self._stop_on_nonfinite(epoch, int(first_bad))
                    bar.set_postfix(loss=f"{float(total) / count:.4g}")
            timer.done()
            total = float(total)
            if self.scheduler is not None:
                self.scheduler.step()
            record = {"epoch": epoch + 1, "train_loss": total / count,
                      "lr": self.optimizer.param_groups[0]["lr"],
                      "seconds": time.perf_counter() - start}
            if hasattr(self.loss_fn, "epoch_means"):  # the terms of a weighted-sum loss
                record.update({f"loss_{k}": v for k, v in self.loss_fn.epoch_means().items()})
            if self.val_data is not None:
                record.update({f"val_{k}": v for k, v in
                               evaluate(self.model, self.val_data, self.batch_size,
                                        self.device, self.metrics).items()})
            self.history.append(record)
            self.epoch = epoch + 1
            if self.progress and main and not interactive:
                print(_epoch_line(record, self.epochs), file=sys.stderr, flush=True)
            if main and self.checkpoint_dir is not None:
                self.save_state(self.checkpoint_dir / "last.pt")
        if main and self.checkpoint_dir is not None:
            self.save_state(self.checkpoint_dir / "final.pt")
        return self.history

    def _stop_on_nonfinite(self, epoch: int, batch_index: int) -> None:
        where = f"epoch {epoch + 1}, batch {batch_index}"
        saved = ""
        if dist_utils.is_main_process() and self.checkpoint_dir is not None:
            # Non-finite steps were not applied: the weights are still good ones.
            path = self.save_state(self.checkpoint_dir / "last_good.pt")
            saved = f"; the last good state is in {path}"
        raise NonFiniteLossError(
            f"loss became NaN/inf at {where}{saved}. Lower the learning rate, enable grad "
            "clipping, or check that batch's data for NaN/inf")

    # --- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds to continue exactly: model config and weights,
        optimiser, schedule, loss scaler, random states, epoch, planned epochs, history,
        seed and the caller's ``extra_state`` (what :meth:`save_state` writes)."""
        return {
            "model": {"config": dict(self.model.config), "state": self.model.state_dict()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "epochs": self.schedule_epochs,
            "history": self.history,
            "seed": self.seed,
            "extra": self.extra_state,
        }

    state = renamed_method("state", "state_dict")

    def save_state(self, path: str | os.PathLike) -> Path:
        """Write :meth:`state_dict` to ``path`` as a checkpoint, atomically; returns the
        path. :meth:`load_state` reads it back."""
        return save_checkpoint(self.state_dict(), path)

    def load_state(self, path: str | os.PathLike) -> None:
        """Restore everything :meth:`save_state` wrote, to continue exactly where it
        stopped.

        Raises:
            ConfigError: the checkpoint is past ``epochs`` (see also
                :func:`kinnsci.train.checkpoint.load_checkpoint`).
        """
        payload = load_checkpoint(path, expected_model=self.model.config.get("name"))
        self.model.load_state_dict(payload["model"]["state"])
        self.optimizer.load_state_dict(self._real_view_state(payload["optimizer"]))
        if self._own_optimizer:  # a checkpoint's groups carry its optimiser's options:
            for group in self.optimizer.param_groups:  # keep this one fused (device skip)
                group["fused"], group["foreach"] = self._fused, None
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        set_rng_state(payload["rng"])
        self.epoch, self.history = int(payload["epoch"]), list(payload["history"])
        if self.checkpoint_dir is not None and self.checkpoint_dir.exists():
            remove_run_temporaries(self.checkpoint_dir)
        if self.epoch > self.epochs:
            raise ConfigError(f"checkpoint {path} is at epoch {self.epoch}, beyond epochs="
                             f"{self.epochs}; raise --epochs to train further")
        planned = payload.get("epochs", _planned_epochs(self.scheduler))
        if planned is not None and planned != self.epochs and self.scheduler is not None:
            self._stretch_schedule(planned)

    def _real_view_state(self, state_dict: dict[str, Any]) -> dict[str, Any]:
        """An optimiser checkpoint whose moments of complex weights are complex (kinnsci 0.1's
        AdamW, or a user's) as the real views this trainer's optimiser holds; loading it
        as is would cast them to real and drop their imaginary parts."""
        if not self._real_views:
            return state_dict
        views = {id(view) for _, view in self._real_views}
        flat = [p for group in self.optimizer.param_groups for p in group["params"]]
        state = dict(state_dict["state"])
        for index, param in enumerate(flat):
            if id(param) in views and index in state:
                state[index] = {k: torch.view_as_real(v) if torch.is_tensor(v) and
                                v.is_complex() else v for k, v in state[index].items()}
        return {**state_dict, "state": state}

    def _stretch_schedule(self, planned: int) -> None:
        """Resuming with another ``epochs`` than the checkpoint's run planned: the schedule
        becomes the one a run of ``self.epochs`` epochs would have had from the start, and
        training continues from its value at the completed epoch. (Restoring the old
        schedule as it was would run the extra epochs of a cosine schedule at rate 0, and
        change nothing.)"""
        sched, k = self.scheduler, self.epoch
        before = [g["lr"] for g in self.optimizer.param_groups]
        if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
            sched.T_max = self.epochs
            lrs = [sched.eta_min + (base - sched.eta_min) * (1 + math.cos(math.pi * k
                                                                         / self.epochs)) / 2
                   for base in sched.base_lrs]
        elif isinstance(sched, torch.optim.lr_scheduler.StepLR):
            sched.step_size = max(1, self.epochs // 3)
            lrs = [base * sched.gamma ** (k // sched.step_size) for base in sched.base_lrs]
        else:
            raise ConfigError(
                f"the checkpoint's run planned {planned} epochs and this one {self.epochs}, "
                f"but its scheduler ({type(sched).__name__}) cannot be stretched; resume with "
                f"epochs={planned}, or start a new run")
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        sched._last_lr = [g["lr"] for g in self.optimizer.param_groups]
        self.schedule_epochs = self.epochs
        warnings.warn(
            f"resuming at epoch {self.epoch} with epochs={self.epochs} (the checkpoint's run "
            f"planned {planned}): the {type(sched).__name__} schedule now spans "
            f"{self.epochs} epochs, as if the run had been started with them, and the "
            f"learning rate continues at {sched._last_lr[0]:.3g} (it was {before[0]:.3g})",
            stacklevel=3)
