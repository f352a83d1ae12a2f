"""Image classification runs: an image folder -> a vision backbone -> the Trainer.

``kinnsci train-vision`` is a thin shell around :func:`train_vision`. The same Trainer as
the operators runs it, so DDP (``torchrun``), AMP, checkpoints and resume work alike.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from kinnsci._atomic import write_text_atomic
from kinnsci.data.images import EvalTransform, ImageFolder, TrainTransform
from kinnsci.errors import ConfigError
from kinnsci.models import count_parameters, get_model
from kinnsci.models.flops import count_flops
from kinnsci.train import distributed as dist_utils
from kinnsci.train.evaluation import evaluate
from kinnsci.train.metrics import classification_metrics
from kinnsci.train.run import check_output_dir
from kinnsci.train.trainer import Trainer
from kinnsci.train.vision_config import VisionConfig


def image_splits(config: VisionConfig) -> tuple[Dataset, Dataset, list[str]]:
    """(train, validation, class names) with training and evaluation transforms.

    Raises:
        ConfigError: too few images to hold out a validation split, or a ``train/`` folder without
            ``val/``.
    """
    root = Path(config.data)
    train_tf = TrainTransform(config.image_size, scale=(config.min_crop, 1.0))
    eval_tf = EvalTransform(config.image_size)
    if (root / "train").is_dir():
        train = ImageFolder(root / "train", train_tf, config.mode)
        val_root = root / "val"
        if not val_root.is_dir():
            raise ConfigError(f"{root} has a train/ folder but no val/ folder; add one or point "
                             "--data at a folder of class folders to split it automatically")
        val = ImageFolder(val_root, eval_tf, config.mode, classes=train.classes)
        return train, val, train.classes
    train_view = ImageFolder(root, train_tf, config.mode)
    eval_view = ImageFolder(root, eval_tf, config.mode)
    order = torch.randperm(len(train_view), generator=torch.Generator().manual_seed(config.seed))
    n_val = max(1, round(config.val_fraction * len(order)))
    if n_val >= len(order):
        raise ConfigError(f"{root} has {len(order)} images: too few to hold out "
                         f"val_fraction={config.val_fraction} and still train")
    return (Subset(train_view, order[n_val:].tolist()), Subset(eval_view, order[:n_val].tolist()),
            train_view.classes)


def build_vision_trainer(config: VisionConfig, *, progress: bool = True) -> tuple[Trainer,
                                                                                   list[str]]:
    """The Trainer of a classification run, and the class names.

    Raises:
        ConfigError: an unknown image ``mode`` or an ``image_size`` the model cannot take.
    """
    train, val, classes = image_splits(config)
    in_channels = {"RGB": 3, "L": 1}.get(config.mode)
    if in_channels is None:
        raise ConfigError(f"mode must be 'RGB' or 'L', got {config.mode!r}")
    torch.manual_seed(config.seed)
    model = get_model(config.model, num_classes=len(classes), in_channels=in_channels,
                        **config.model_config)
    patch = getattr(model, "patch_size", 1)
    if config.image_size % patch:
        raise ConfigError(f"image_size={config.image_size} is not a multiple of the model's "
                         f"patch_size={patch}; pick e.g. {config.image_size // patch * patch}")
    loss = functools.partial(F.cross_entropy, label_smoothing=config.label_smoothing)
    trainer = Trainer(
        model, train, val, loss=loss, metrics=classification_metrics(len(classes)),
        lr=config.lr,
        weight_decay=config.weight_decay, epochs=config.epochs, batch_size=config.batch_size,
        amp=config.amp, compile=config.compile, channels_last=config.channels_last,
        seed=config.seed, device=config.device,
        checkpoint_dir=config.out, progress=progress, num_workers=config.num_workers,
        extra_state={"vision": asdict(config), "classes": classes})
    return trainer, classes


def train_vision(config: VisionConfig, *, resume: str | os.PathLike | None = None,
                 overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train, evaluate on the validation images, write ``metrics.json`` and plots (loss /
    accuracy curves, confusion matrix) to ``config.out``; returns the report."""
    dist_utils.init_from_env()
    if dist_utils.is_main_process():
        check_output_dir(config.out, overwrite, resume is not None)
    trainer, classes = build_vision_trainer(config, progress=progress)
    history = trainer.fit(resume=resume)
    model = trainer.model
    report: dict[str, Any] = {
        "history": history, "classes": classes, "parameters": count_parameters(model)}
    if not dist_utils.is_main_process():
        return report
    in_shape = (1, model.in_channels, config.image_size, config.image_size)
    report["gflops"] = count_flops(model, in_shape).total / 1e9  # reported by rank 0 only
    report["val"] = evaluate(model, trainer.val_data, config.batch_size, trainer.device,
                             classification_metrics(len(classes)))
    out = Path(config.out)
    if config.plots:
        from kinnsci.train import plots

        (out / "plots").mkdir(parents=True, exist_ok=True)
        plots.plot_classification_curves(history, out / "plots" / "loss.png")
        plots.plot_confusion_matrix(model, trainer.val_data, classes,
                                    out / "plots" / "confusion.png", device=trainer.device)
    write_text_atomic(out / "metrics.json", json.dumps(report, indent=2))
    return report
