"""PNG figures of a run: loss curves, prediction vs truth vs error, rollout error."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curves(history: Sequence[dict], path: str | os.PathLike) -> Path:
    """Training loss (and validation relative L2 when present) against epoch."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(epochs, [h["train_loss"] for h in history], label="train loss")
    if history and "val_rel_l2" in history[0]:
        ax.semilogy(epochs, [h["val_rel_l2"] for h in history], label="validation rel. L2")
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_predictions(pred: Tensor, true: Tensor, path: str | os.PathLike,
                     n_samples: int = 3, title: str = "") -> Path:
    """Rows of truth | prediction | |error| for the first channel of a few samples.

    pred, true: (B, C, H, W).
    """
    plt = _pyplot()
    n = min(n_samples, len(pred))
    fig, axes = plt.subplots(n, 3, figsize=(9, 2.8 * n), squeeze=False)
    for i in range(n):
        t, p = true[i, 0].cpu().numpy(), pred[i, 0].cpu().numpy()
        lo, hi = t.min(), t.max()
        for ax, img, name, kw in ((axes[i, 0], t, "truth", {"vmin": lo, "vmax": hi}),
                                  (axes[i, 1], p, "prediction", {"vmin": lo, "vmax": hi}),
                                  (axes[i, 2], np.abs(p - t), "|error|", {"cmap": "magma"})):
            im = ax.imshow(img, origin="lower", **kw)
            ax.set_title(name)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_dataset_predictions(model, dataset, path: str | os.PathLike, *,
                             device: str | torch.device = "cpu", n_samples: int = 3,
                             title: str = "") -> Path:
    """:func:`plot_predictions` for the first ``n_samples`` items of a dataset (one-step
    predictions; the first target state of a ``RolloutDataset``)."""
    from torch.utils.data import DataLoader

    x, y = next(iter(DataLoader(dataset, batch_size=n_samples)))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(x.to(device)).cpu()
    model.train(was_training)
    return plot_predictions(pred, y[:, 0] if y.ndim == pred.ndim + 1 else y, path,
                            n_samples, title)


def plot_rollout_error(errors: np.ndarray, path: str | os.PathLike) -> Path:
    """Relative L2 error against rollout step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.arange(1, len(errors) + 1), errors, marker=".")
    ax.set_xlabel("rollout step")
    ax.set_ylabel("relative L2 error")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_classification_curves(history: Sequence[dict], path: str | os.PathLike) -> Path:
    """Training and validation cross-entropy (left) and validation top-1 (right)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    if history and "val_cross_entropy" in history[0]:
        ax_loss.plot(epochs, [h["val_cross_entropy"] for h in history],
                     label="validation cross-entropy")
        ax_acc.plot(epochs, [100 * h["val_top1"] for h in history], marker=".")
    ax_loss.set_xlabel("epoch")
    ax_loss.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation top-1 (%)")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


@torch.no_grad()
def confusion_matrix(model, dataset, n_classes: int, *, device: str | torch.device = "cpu",
                     batch_size: int = 64) -> np.ndarray:
    """counts[i, j]: images of class i predicted as class j."""
    from torch.utils.data import DataLoader

    was_training = model.training
    model.eval()
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    for x, y in DataLoader(dataset, batch_size=batch_size):
        pred = model(x.to(device)).argmax(dim=1).cpu().numpy()
        np.add.at(counts, (y.numpy(), pred), 1)
    model.train(was_training)
    return counts


def plot_confusion_matrix(model, dataset, classes: Sequence[str], path: str | os.PathLike, *,
                          device: str | torch.device = "cpu") -> Path:
    """Row-normalised confusion matrix of a classifier on ``dataset`` (true vs predicted)."""
    plt = _pyplot()
    counts = confusion_matrix(model, dataset, len(classes), device=device)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(12, 2 + 0.5 * len(classes))
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(rates, vmin=0, vmax=1, cmap="viridis")
    if len(classes) <= 30:
        ax.set_xticks(range(len(classes)), classes, rotation=90)
        ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
