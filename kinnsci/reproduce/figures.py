"""PNGs of an experiment: metric bars with seed error bars, error against parameter count,
rollout error with seed bands, one test sample per model next to the truth and the error
(one error scale for all).

Figures are drawn on ``matplotlib.figure.Figure`` objects, so no global backend is switched
in the caller's program.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from kinnsci._atomic import atomic_path
from kinnsci.reproduce.report import METRIC_NAMES


def _wrap(title: str, width: int = 90) -> str:
    """Long experiment titles on several lines instead of cut off at the figure's edge."""
    return textwrap.fill(title, width)


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, dpi=110, format="png")
    return path


def _chosen_runs(content: dict[str, Any], key: str) -> list[dict]:
    lr = content["lr"][key]
    return sorted((r for r in content["runs"] if r["variant"] == key and r["lr"] == lr),
                  key=lambda r: r["seed"])


def plot_metric_bars(content: dict[str, Any], path: Path) -> Path:
    """One panel per test metric: a bar per model at its mean, error bar ±1 std."""
    from matplotlib.figure import Figure

    metrics = list(content["plan"]["metrics"])
    summary = content["summary"]
    labels = [s["label"] for s in summary.values()]
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    fig = Figure(figsize=(3.3 * cols, 2.9 * rows), layout="constrained")
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        means = [np.nan if s[metric]["mean"] is None else s[metric]["mean"]
                 for s in summary.values()]
        stds = [0.0 if s[metric]["std"] is None else s[metric]["std"] for s in summary.values()]
        ax.bar(range(len(labels)), means, yerr=stds, capsize=4, color=[
            f"C{j}" for j in range(len(labels))])
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"test {METRIC_NAMES.get(metric, metric)}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    seeds = content["plan"]["seeds"]
    fig.suptitle(_wrap(f"{content['title']} (mean ± std over {seeds} seeds)"), fontsize=10)
    return _save(fig, path)


def plot_params_vs_error(content: dict[str, Any], path: Path) -> Path:
    """Test error (the plan's selection metric, mean ± std over seeds) against each
    model's parameter count, log-log, one labelled point per model."""
    from matplotlib.figure import Figure

    metric = content["plan"]["selection_metric"]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for j, summary in enumerate(content["summary"].values()):
        stats = summary[metric]
        if stats["mean"] is None:
            continue
        ax.errorbar(summary["params"], stats["mean"], yerr=stats["std"] or 0.0, fmt="o",
                    capsize=4, color=f"C{j % 10}", label=summary["label"])
    ax.set_xscale("log")
    return _finish(fig, ax, content, "trainable parameters",
                   f"test {METRIC_NAMES.get(metric, metric)} (mean ± std)", path)


def _finish(fig, ax, content: dict[str, Any], xlabel: str, ylabel: str, path: Path) -> Path:
    """Log error axis, labels, the experiment's title, grid and legend; saved."""
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_wrap(content["title"], 60), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_rollout_bands(content: dict[str, Any], path: Path, metric: str = "rel_l2") -> Path:
    """Test error against rollout step: the seed mean per model and a ±1 std band."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for j, (key, summary) in enumerate(content["summary"].items()):
        curves = [r["test_curves"][metric] for r in _chosen_runs(content, key)
                  if not r["diverged"] and r["test_curves"].get(metric)]
        if not curves:
            continue
        curves = np.array(curves, dtype=float)
        steps = np.arange(1, curves.shape[1] + 1)
        mean, std = curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else 0 * curves[0]
        ax.plot(steps, mean, color=f"C{j}", label=f"{summary['label']} ({len(curves)} seeds)")
        ax.fill_between(steps, np.maximum(mean - std, 1e-12), mean + std, color=f"C{j}",
                        alpha=0.2)
    return _finish(fig, ax, content, "rollout step",
                   f"test {METRIC_NAMES.get(metric, metric)}", path)


def plot_samples(content: dict[str, Any], root: Path, path: Path) -> Path | None:
    """One row per model (its seed-0 run): input | truth | prediction | |error| on the
    first test sample (rollouts: the last rollout step), one error colour scale."""
    from matplotlib.figure import Figure

    rows = []
    for key, summary in content["summary"].items():
        runs = [r for r in _chosen_runs(content, key) if not r["diverged"]]
        sample = root / "runs" / runs[0]["id"] / "sample.npz" if runs else None
        if sample is not None and sample.exists():
            with np.load(sample, allow_pickle=False) as npz:
                rows.append((summary["label"], npz["input"][0], npz["truth"][0],
                             npz["prediction"][0]))
    if not rows:
        return None
    err_max = max(float(np.abs(p - t).max()) for _, _, t, p in rows)
    fig = Figure(figsize=(11, 2.5 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 4, squeeze=False)
    steady = content["plan"]["variables"] is None
    titles = ("input", "truth", "prediction", "|error|") if steady else (
        "initial state", f"truth, step {content['plan']['rollout_steps']}", "prediction",
        "|error|")
    for i, (label, x, t, p) in enumerate(rows):
        lo, hi = float(t.min()), float(t.max())
        for j, (img, kw) in enumerate(((x, {"cmap": "viridis"}),
                                       (t, {"vmin": lo, "vmax": hi}),
                                       (p, {"vmin": lo, "vmax": hi}),
                                       (np.abs(p - t), {"cmap": "magma", "vmin": 0,
                                                        "vmax": err_max}))):
            ax = axes[i, j]
            im = ax.imshow(img, origin="lower", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(_wrap(f"{content['title']}: first test sample (seed 0)"), fontsize=10)
    return _save(fig, path)


def write_figures(content: dict[str, Any], root: Path, exp_dir: Path) -> list[Path]:
    """``metrics.png``, ``params.png`` (error against parameters), ``sample.png`` (field
    experiments) and, for time-dependent experiments, ``rollout.png``."""
    paths = [plot_metric_bars(content, exp_dir / "metrics.png"),
             plot_params_vs_error(content, exp_dir / "params.png")]
    if content["plan"]["variables"] is not None:
        paths.append(plot_rollout_bands(content, exp_dir / "rollout.png"))
    sample = plot_samples(content, root, exp_dir / "sample.png")
    if sample is not None:
        paths.append(sample)
    return paths
