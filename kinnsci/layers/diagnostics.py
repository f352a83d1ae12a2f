"""What the Kirchhoff state does in a trained model: per KNC, the share of its output the
state carries, the |A|Δ its nodes reach, their time constants, and how much the model's
prediction moves when the discretizer is swapped.

KINN's promise of interpretability made measurable: ``kinnsci inspect CHECKPOINT`` (and
:func:`inspect_kirchhoff` on any module holding :class:`~kinnsci.layers.KNC` s) reports it
for a batch of real inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from kinnsci.discretize import get_discretizer
from kinnsci.layers.knc import KNC

QUANTILES = (0.05, 0.5, 0.95)


def _quantiles(values: Tensor) -> dict[str, float]:
    flat = values.detach().double().flatten()
    if flat.numel() > 1_000_000:  # torch.quantile's limit; a strided subsample is plenty
        flat = flat[:: flat.numel() // 1_000_000 + 1]
    q = torch.quantile(flat, torch.tensor(QUANTILES, dtype=flat.dtype))
    return {f"q{round(100 * p):02d}": float(v) for p, v in zip(QUANTILES, q, strict=True)}


def _norm_ratio(a: Tensor, b: Tensor) -> float:
    return float(torch.linalg.vector_norm(a.double()) /
                 torch.linalg.vector_norm(b.double()).clamp_min(1e-300))


def inspect_kirchhoff(model: nn.Module, x: Tensor,
                      swap: Sequence[str] = ("euler", "bilinear"),
                      forward: Callable[[nn.Module, Tensor], Tensor] | None = None
                      ) -> dict[str, Any]:
    """Diagnostics of every KNC in ``model`` on the batch ``x``.

    Args:
        model: any module containing :class:`KNC` s (e.g. FKNO, UKNO, a trained
            ``NormalizedOperator``).
        x: a batch the model takes, e.g. ``(batch, C_in, H, W)``.
        swap: discretizers to try in place of each KNC's own.
        forward: how to call the model (default ``model(x)``).

    Returns:
        ``{"kncs": [...], "discretizer_swap": {name: relative change}}``. Each KNC entry:
        its module path, discretizer, ``state_share`` = ||C·h|| / ||D·x|| over the batch
        (the state's readout against the skip term), ``state_cut``, the quantiles of
        |A|Δ (the decay per step; > 2 makes Euler unstable) and of the time constant
        1 / (|A|Δ) in positions (how far along the scan a node remembers).
    """
    call = forward or (lambda m, inp: m(inp))
    kncs = [(name, m) for name, m in model.named_modules() if isinstance(m, KNC)]
    records: dict[str, dict[str, Any]] = {}

    def hook(name: str):
        def record(module: KNC, args: tuple, output: Tensor) -> None:
            u = args[0]
            dt_scale = args[1] if len(args) > 1 else None
            skip = module.D * u
            entry = records.setdefault(name, {"state": 0.0, "skip": 0.0, "a_dt": []})
            entry["state"] += float(torch.linalg.vector_norm((output - skip).double()) ** 2)
            entry["skip"] += float(torch.linalg.vector_norm(skip.double()) ** 2)
            if not module.state_cut:
                delta, _, _ = module.coefficients(u)
                if dt_scale is not None:
                    delta = delta * dt_scale
                entry["a_dt"].append((delta[..., None] * module.A.abs()).flatten()[::7])
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in kncs]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            reference = call(model, x)
    finally:
        for h in handles:
            h.remove()
    report = []
    for name, m in kncs:
        entry = records.get(name, {"state": 0.0, "skip": 0.0, "a_dt": []})
        item: dict[str, Any] = {
            "module": name, "discretizer": m.discretizer.name, "state_cut": m.state_cut,
            "channels": m.channels, "d_state": m.d_state,
            "state_share": (entry["state"] / entry["skip"]) ** 0.5 if entry["skip"] else None,
        }
        if entry["a_dt"]:
            a_dt = torch.cat(entry["a_dt"])
            item["abs_A_dt"] = _quantiles(a_dt)
            item["time_constant_steps"] = _quantiles(1.0 / a_dt.clamp_min(1e-30))
        report.append(item)
    changes = {}
    originals = [m.discretizer for _, m in kncs]
    try:
        for name in swap:
            for _, m in kncs:
                m.discretizer = get_discretizer(name)
            with torch.no_grad():
                changes[name] = _norm_ratio(call(model, x) - reference, reference)
    finally:
        for (_, m), disc in zip(kncs, originals, strict=True):
            m.discretizer = disc
        model.train(was_training)
    return {"kncs": report, "discretizer_swap": changes}


def plot_kirchhoff(report: dict[str, Any], path, title: str = "") -> None:
    """One figure: the state's share of each KNC's output (bars) and the |A|Δ range each
    reaches (median with 5-95 % whiskers, log scale), KNCs in model order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kinnsci._atomic import atomic_path

    kncs = report["kncs"]
    labels = [k["module"] or "knc" for k in kncs]
    fig, (ax_share, ax_adt) = plt.subplots(1, 2, figsize=(11, 0.35 * len(kncs) + 2.2),
                                           sharey=True)
    ys = range(len(kncs))
    shares = [100 * (k["state_share"] or 0.0) for k in kncs]
    ax_share.barh(ys, shares, color="tab:blue")
    ax_share.set_yticks(list(ys), labels, fontsize=7)
    ax_share.invert_yaxis()
    ax_share.set_xlabel("state share of the KNC output, ||C·h|| / ||D·x|| (%)")
    for y, k in zip(ys, kncs, strict=True):
        if "abs_A_dt" in k:
            q = k["abs_A_dt"]
            ax_adt.errorbar(q["q50"], y, xerr=[[q["q50"] - q["q05"]], [q["q95"] - q["q50"]]],
                            fmt="o", color="tab:orange", capsize=3)
    ax_adt.set_xscale("log")
    ax_adt.axvline(2.0, color="grey", ls="--", lw=0.8)
    ax_adt.set_xlabel("|A|Δ per step (median, 5–95 %); Euler unstable right of 2")
    swaps = ", ".join(f"{n}: {100 * v:.2g} %" for n, v in report["discretizer_swap"].items())
    fig.suptitle((title + "\n" if title else "") + f"prediction change on discretizer swap: "
                 f"{swaps or 'n/a'}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
