"""PNG figures of a run: loss curves, prediction vs truth vs error, rollout error."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


def _figure(width: float, height: float):
    """A matplotlib ``Figure`` not attached to pyplot: drawing it never switches the
    backend of a user's session (Jupyter) and needs no display."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _save(fig, path: str | os.PathLike) -> Path:
    # leave the suptitle its own band above the panels (tight_layout ignores it)
    fig.tight_layout(rect=(0, 0, 1, 0.985 if not fig.get_suptitle() else
                           1 - 0.45 / fig.get_figheight()))
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_loss_curves(history: Sequence[dict], path: str | os.PathLike,
                     title: str = "") -> Path:
    """Save :func:`loss_figure` to ``path`` (PNG)."""
    return _save(loss_figure(history, title), path)


def loss_figure(history: Sequence[dict], title: str = ""):
    """Training loss and, when present, the validation relative L2 against epoch
    (``title``: e.g. the model name)."""
    fig = _figure(5.5, 3.8)
    ax = fig.add_subplot()
    epochs = [h["epoch"] for h in history]
    ax.semilogy(epochs, [h["train_loss"] for h in history], marker=".", label="training loss")
    if history and "val_rel_l2" in history[0]:
        ax.semilogy(epochs, [h["val_rel_l2"] for h in history], marker=".",
                    label="validation rel. L2")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss / error (log scale)")
    ax.set_title(f"{title}: training curves" if title else "training curves")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return fig


@dataclass
class FieldInfo:
    """What a dataset's fields are, for labels: names, units, grid dims and coordinates,
    and for time-dependent data the time of each item's first target state."""

    input_name: str = "input"
    input_units: str = ""
    target_name: str = "field"
    target_units: str = ""
    input_channel: int = 0  # which input channel is shown (the newest state of a history)
    dims: tuple[str, str] = ("y", "x")
    target_names: tuple[str, ...] = ()  # every target channel's name (with units)
    extent: tuple[float, float, float, float] | None = None  # x0, x1, y0, y1
    axis_units: tuple[str, str] = ("", "")  # units of dims (rows, columns)
    item_times: dict[int, float] | None = None  # dataset item -> time of its target
    input_per_variable: bool = False  # inputs hold the target variables' history

    @staticmethod
    def of(dataset) -> FieldInfo:
        """Read names, units, dims and coordinates from an ``OperatorDataset`` or
        ``RolloutDataset``."""
        def describe(fields, k: int = 0) -> tuple[str, str, tuple[str, str]]:
            var = fields.variables[k]
            label = var.attrs.get("long_name")
            name = fields.names[k] + (f" ({label})" if label else "")
            return name, str(var.attrs.get("units", "")), tuple(var.dims[-2:])

        def grid(fields, dims):
            coords = getattr(fields, "coords", {})
            if not all(d in coords for d in dims):
                return None, ("", "")
            (yv, yu), (xv, xu) = coords[dims[0]], coords[dims[1]]
            return (float(xv[0]), float(xv[-1]), float(yv[0]), float(yv[-1])), (yu, xu)

        def names(fields):
            return tuple(_with_units(describe(fields, k)[0], describe(fields, k)[1])
                         for k in range(len(fields.names)))

        if hasattr(dataset, "inputs") and hasattr(dataset, "targets"):
            i_name, i_units, dims = describe(dataset.inputs)
            t_name, t_units, _ = describe(dataset.targets)
            extent, units = grid(dataset.targets, dims)
            return FieldInfo(i_name, i_units, t_name, t_units, 0, dims,
                             names(dataset.targets), extent, units)
        if hasattr(dataset, "fields"):
            fields = dataset.fields
            name, units, dims = describe(fields)
            newest = (dataset.history - 1) * dataset.n_variables
            extent, axis_units = grid(fields, dims)
            times = getattr(fields, "times", None)
            item_times = None
            if times is not None and np.issubdtype(np.asarray(times).dtype, np.number):
                per = dataset.windows_per_sample
                item_times = {i: float(times[(i % per) * dataset.stride + dataset.history])
                              for i in range(min(len(dataset), 64))}
            return FieldInfo(f"{name}, newest input state", units, name, units, newest,
                             dims, names(fields), extent, axis_units, item_times, True)
        return FieldInfo()


def _with_units(name: str, units: str) -> str:
    return f"{name} [{units}]" if units and units != "1" else name


def _relative_l2(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.linalg.norm(pred - true) / max(np.linalg.norm(true), 1e-30))


def _show(fig, ax, img, title, info: FieldInfo, label: str, **kw) -> None:
    if info.extent is not None:
        kw = {**kw, "extent": info.extent, "aspect": "auto"}
    im = ax.imshow(img, origin="lower", **kw)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(_with_units(info.dims[1], info.axis_units[1]), fontsize=8)
    ax.set_ylabel(_with_units(info.dims[0], info.axis_units[0]), fontsize=8)
    ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=ax, fraction=0.046).set_label(label, fontsize=8)


def plot_predictions(pred: Tensor, true: Tensor, path: str | os.PathLike,
                     n_samples: int = 3, title: str = "", *, inputs: Tensor | None = None,
                     info: FieldInfo | None = None,
                     samples: Sequence[int] | None = None) -> Path:
    """Save :func:`predictions_figure` to ``path`` (PNG)."""
    return _save(predictions_figure(pred, true, n_samples, title, inputs=inputs, info=info,
                                    samples=samples), path)


def predictions_figure(pred: Tensor, true: Tensor, n_samples: int = 3, title: str = "", *,
                       inputs: Tensor | None = None, info: FieldInfo | None = None,
                       samples: Sequence[int] | None = None,
                       variables: Sequence[int] | None = None):
    """One row per sample and predicted variable: input | truth | prediction | |error|.

    Truth and prediction share a colour scale per row; the error uses one scale per
    variable, so rows compare. Each row names its sample, variable and (time-dependent
    data) the time of the predicted state; axes carry the file's coordinates and units.

    Args:
        pred, true: (B, C, H, W).
        inputs: (B, C_in, H, W) model inputs, shown first when given.
        info: names, units, dims and coordinates (see :meth:`FieldInfo.of`).
        samples: the samples' indices in the file, for the row labels.
        variables: which target channels to show (default: all).
    """
    info = info or FieldInfo()
    n = min(n_samples, len(pred))
    channels = list(range(pred.shape[1]) if variables is None else variables)
    p, t = pred[:n].cpu().numpy(), true[:n].cpu().numpy()
    err = np.abs(p - t)
    err_max = {c: float(err[:, c].max()) or 1.0 for c in channels}
    cols = 4 if inputs is not None else 3
    rows = n * len(channels)
    fig = _figure(3.2 * cols, 2.9 * rows)
    axes = np.asarray(fig.subplots(rows, cols, squeeze=False))
    for i in range(n):
        sample = f"sample {samples[i]}" if samples is not None else f"item {i}"
        if info.item_times is not None and i in info.item_times:
            sample += f", t = {info.item_times[i]:.4g} s"
        for r, c in enumerate(channels):
            row = axes[i * len(channels) + r]
            name = (info.target_names[c] if c < len(info.target_names)
                    else _with_units(info.target_name, info.target_units))
            short = name.split()[0]
            lo, hi = t[i, c].min(), t[i, c].max()
            panels = []
            if inputs is not None:
                k = info.input_channel + (c if info.input_per_variable else 0)
                label = (f"{name}, newest input state" if info.input_per_variable
                         else _with_units(info.input_name, info.input_units))
                panels.append((inputs[i, k].cpu().numpy(), f"{sample}: input", label, {}))
            panels += [(t[i, c], f"{sample}: {short} truth", name, {"vmin": lo, "vmax": hi}),
                       (p[i, c], f"{short} prediction (rel. L2 "
                        f"{_relative_l2(p[i, c], t[i, c]):.3g})", name,
                        {"vmin": lo, "vmax": hi}),
                       (err[i, c], f"|{short} prediction − truth|", f"|error| of {short}",
                        {"cmap": "magma", "vmin": 0, "vmax": err_max[c]})]
            for ax, (img, head, label, kw) in zip(row, panels, strict=True):
                _show(fig, ax, img, head, info, label, **kw)
    if title:
        fig.suptitle(title)
    return fig


def _predict(model, x: Tensor, device) -> Tensor:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(x.to(device)).cpu()
    model.train(was_training)
    return pred


def _first_items(dataset, n: int) -> tuple[Tensor, Tensor, list[int]]:
    from torch.utils.data import DataLoader

    x, y = next(iter(DataLoader(dataset, batch_size=n)))
    samples = getattr(dataset, "samples", None)
    per = getattr(dataset, "windows_per_sample", 1)
    ids = [int(samples[i // per]) for i in range(len(x))] if samples is not None \
        else list(range(len(x)))
    return x, (y[:, 0] if y.ndim == x.ndim + 1 else y), ids


def plot_dataset_predictions(model, dataset, path: str | os.PathLike, *,
                             device: str | torch.device = "cpu", n_samples: int = 3,
                             title: str = "", variables: Sequence[int] | None = None
                             ) -> Path:
    """:func:`plot_predictions` for the first ``n_samples`` items of a dataset (one-step
    predictions; the first target state of a ``RolloutDataset``), labelled with the
    file's variable names, units, dims, coordinates, sample indices and times."""
    x, y, ids = _first_items(dataset, n_samples)
    return _save(predictions_figure(_predict(model, x, device), y, n_samples, title,
                                    inputs=x, info=FieldInfo.of(dataset), samples=ids,
                                    variables=variables), path)


def plot_model_comparison(models: Mapping[str, torch.nn.Module], dataset,
                          path: str | os.PathLike, *, device: str | torch.device = "cpu",
                          n_samples: int = 3, title: str = "") -> Path:
    """Save :func:`comparison_figure` to ``path`` (PNG)."""
    return _save(comparison_figure(models, dataset, device=device, n_samples=n_samples,
                                   title=title), path)


def comparison_figure(models: Mapping[str, torch.nn.Module], dataset, *,
                      device: str | torch.device = "cpu", n_samples: int = 3,
                      title: str = ""):
    """Several models on the same samples: input | truth | one |error| panel per model.

    Every error panel of every row shares one colour scale, so models and samples compare
    at a glance; each panel gives that prediction's relative L2 error.
    """
    x, y, ids = _first_items(dataset, n_samples)
    info = FieldInfo.of(dataset)
    t = y[:, 0].numpy()
    preds = {name: _predict(m, x, device)[:, 0].numpy() for name, m in models.items()}
    err_max = max(float(np.abs(p - t).max()) for p in preds.values()) or 1.0
    n, cols = len(x), 2 + len(models)
    fig = _figure(3.2 * cols, 2.9 * n)
    axes = np.asarray(fig.subplots(n, cols, squeeze=False))
    target = _with_units(info.target_name, info.target_units)
    for i in range(n):
        _show(fig, axes[i, 0], x[i, info.input_channel].numpy(), f"sample {ids[i]}: input",
              info, _with_units(info.input_name, info.input_units))
        _show(fig, axes[i, 1], t[i], "truth", info, target)
        for ax, (name, p) in zip(axes[i, 2:], preds.items(), strict=True):
            _show(fig, ax, np.abs(p[i] - t[i]),
                  f"{name} |error| (rel. L2 {_relative_l2(p[i], t[i]):.3g})", info,
                  "|prediction − truth|", cmap="magma", vmin=0, vmax=err_max)
    fig.suptitle(title or "the same test samples, one error scale for every model")
    return fig


def plot_rollout_error(errors: np.ndarray, path: str | os.PathLike, title: str = "",
                       variables: str = "", dt: float | None = None) -> Path:
    """Relative L2 error against rollout step (mean over the test trajectories) of the
    state ``variables`` (e.g. "h, u, v"); ``dt`` (seconds per step) adds the time."""
    fig = _figure(5.5, 3.8)
    ax = fig.add_subplot()
    steps = np.arange(1, len(errors) + 1)
    ax.plot(steps, errors, marker=".")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("rollout step" + (f" (Δt = {dt:.4g} s)" if dt else ""))
    ax.set_ylabel(f"relative L2 error of ({variables})" if variables
                  else "relative L2 error")
    ax.set_title(title or "rollout error against step, mean over test trajectories",
                 fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_classification_curves(history: Sequence[dict], path: str | os.PathLike) -> Path:
    """Training and validation cross-entropy (left) and validation top-1 (right)."""
    epochs = [h["epoch"] for h in history]
    fig = _figure(9, 3.5)
    ax_loss, ax_acc = fig.subplots(1, 2)
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
    return _save(fig, path)


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
    counts = confusion_matrix(model, dataset, len(classes), device=device)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(12, 2 + 0.5 * len(classes))
    fig = _figure(size, size)
    ax = fig.add_subplot()
    im = ax.imshow(rates, vmin=0, vmax=1, cmap="viridis")
    if len(classes) <= 30:
        ax.set_xticks(range(len(classes)), classes, rotation=90)
        ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    return _save(fig, path)
