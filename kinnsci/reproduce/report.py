"""``results.md``: mean ± std per model and metric, the learning-rate sweep, the verdicts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from kinnsci._atomic import write_text_atomic

METRIC_NAMES = {
    "rel_l2": "rel. L2", "rel_l1": "rel. L1", "nrmse": "nRMSE", "rmse": "RMSE",
    "max_error": "max error", "rollout_rel_l2": "rollout rel. L2",
    "rollout_nrmse": "rollout nRMSE", "rollout_max_error": "rollout max error",
    "final_rel_l2": "final-step rel. L2", "train_seconds": "train time (s)",
    "mse": "MSE", "mae": "MAE", "pde_residual": "PDE residual (mean square)",
    "frmse_low": "fRMSE low", "frmse_mid": "fRMSE mid", "frmse_high": "fRMSE high",
    "crmse": "cRMSE", "brmse": "bRMSE", "final_conserved_error": "final-step mean error",
    "final_energy_ratio": "final-step energy ratio",
}


def mean_std(stats: dict[str, Any], digits: int = 3) -> str:
    """``mean ± std`` with ``digits`` significant digits, and the diverged count if any."""
    mean, std = stats.get("mean"), stats.get("std")
    if mean is None or not math.isfinite(mean):
        text = "—"
    else:
        text = f"{mean:.{digits}g} ± {std:.2g}" if std is not None else f"{mean:.{digits}g}"
    if stats.get("n_failed"):
        text += f" ({stats['n_failed']} diverged)"
    return text


def summary_table(content: dict[str, Any]) -> str:
    """One row per model: parameters, learning rate, each metric as mean ± std, time."""
    metrics = [*content["plan"]["metrics"], "train_seconds"]
    head = ["model", "params", "lr", *(METRIC_NAMES.get(m, m) for m in metrics)]
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "---:|" * (len(head) - 1)]
    for summary in content["summary"].values():
        cells = [summary["label"], f"{summary['params']:,}", f"{summary['lr']:g}",
                 *(mean_std(summary[m]) for m in metrics)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims_table(content: dict[str, Any]) -> str:
    lines = ["| claim | paper | ours (better vs worse, mean) | ratio [95 % CI] | p (one-sided) "
             "| verdict |", "|---|---|---|---:|---:|---|"]
    for c in content["claims"]:
        ours = f"{_num(c['mean_better'])} vs {_num(c['mean_worse'])}"
        note = f" ({c['note']})" if c.get("note") else ""
        lines.append(f"| {c['claim']} | {c['paper']} | {ours} | {ratio_cell(c)} | "
                     f"{_num(c.get('p_less'))} | **{c['verdict']}**{note} |")
    return "\n".join(lines)


def ratio_cell(claim: dict[str, Any]) -> str:
    """``mean(better) / mean(worse) [low, high]``, the 95 % interval of the ratio."""
    ratio, low, high = claim.get("ratio"), claim.get("ratio_low"), claim.get("ratio_high")
    if ratio is None or not math.isfinite(ratio):
        return "—"
    if low is None or high is None:
        return f"{ratio:.3f}"
    return f"{ratio:.3f} [{low:.3f}, {high:.3f}]"


RULE = ("Verdict rule: a one-sided Welch t-test (Welch–Satterthwaite degrees of freedom) per "
        "claim, Holm's correction across the claims of the experiment at α = 0.05: holds "
        "when the claim's direction is significant, does not hold when the opposite one "
        "is, inconclusive otherwise. Ratio = mean(better) / mean(worse), with its 95 % "
        "interval. Learning rates come from dedicated selection runs (seed "
        "{seed}, never a test seed), each claim judged at the rates chosen on its own "
        "metric's validation value; a diverged seed enters as the worst value and never "
        "decides a verdict alone. A claim with a margin m ('at most 10 % higher') is a "
        "non-inferiority claim: the same tests of mean(better) < (1 + m) mean(worse).")


def kirchhoff_table(content: dict[str, Any]) -> str:
    """Per Kirchhoff model (test seeds at its chosen lr): the state's share of the KNC
    outputs (mean over KNCs, mean ± std over seeds), the median |A|dt, and the
    prediction change when its discretizer is swapped for Euler (``kinnsci inspect``)."""
    rows = []
    for key, summary in content["summary"].items():
        runs = [r for r in content["runs"] if r["variant"] == key and r.get("role") == "seed"
                and r["lr"] == summary["lr"] and r.get("kirchhoff")]
        if not runs:
            continue
        def med(values):
            finite = sorted(v for v in values if v is not None)
            return finite[len(finite) // 2] if finite else math.nan

        shares = [float(np.mean([v for v in r["kirchhoff"]["state_share"] if v is not None]))
                  for r in runs]
        adts = [med(r["kirchhoff"]["abs_A_dt_median"]) for r in runs]
        euler = [r["kirchhoff"]["discretizer_swap"].get("euler", math.nan) for r in runs]
        rows.append(f"| {summary['label']} | {_pct(shares)} | {_num(med(adts))} | "
                    f"{_spread(euler)} |")
    if not rows:
        return ""
    return "\n".join(["| model | state share of KNC output (mean over KNCs; mean ± std over "
                      "seeds) | "
                      "median abs(A)dt | prediction change zoh -> euler (median [min, max] "
                      "over seeds) |", "|---|---:|---:|---:|", *rows])


def _spread(values: list[float]) -> str:
    """Relative changes as percentages: median [min, max] (a diverging swap, Euler past
    |A|dt = 2, shows as a huge maximum without hiding the typical seed)."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return "—"
    return (f"{100 * finite[len(finite) // 2]:.3g} % [{100 * finite[0]:.3g}, "
            f"{100 * finite[-1]:.3g}]")


def _pct(values: list[float]) -> str:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return "—"
    mean = sum(finite) / len(finite)
    std = (sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) ** 0.5 if len(
        finite) > 1 else 0.0
    return f"{100 * mean:.3g} ± {100 * std:.2g} %"


def sweep_table(content: dict[str, Any]) -> str:
    plan = content["plan"]
    metric = METRIC_NAMES.get(plan["selection_metric"], plan["selection_metric"])
    lrs = [f"{lr:g}" for lr in plan["lrs"]]
    seed = content.get("selection_seed", 0)
    lines = [f"| model (validation {metric}, selection seed {seed}) | "
             + " | ".join(f"lr {lr}" for lr in lrs) + " | chosen |",
             "|---|" + "---:|" * (len(lrs) + 1)]
    for key, values in content["sweep"].items():
        cells = [_num(values.get(lr)) for lr in lrs]
        lines.append(f"| {content['summary'][key]['label']} | " + " | ".join(cells)
                     + f" | {content['lr'][key]:g} |")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    """Seconds under a minute (a 6 s smoke run is not "0.0 min"), else minutes."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def _num(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.4g}"


def data_line(plan: dict[str, Any]) -> str:
    """What the runs were trained on, in one sentence."""
    data = plan["data"]
    split = "/".join(f"{f:g}" for f in plan["split"])
    if "source" in data:  # a regression table
        rows = "all rows" if data.get("n_samples") is None else f"{data['n_samples']} rows"
        extra = (f", {data['n_features']} features" if data.get("n_features") else "") + (
            f", noise {data['noise']:g}, seed {data['seed']}"
            if data["source"] == "friedman1" else "")
        what = (f"CSV file `{data['source']}` (target `{data['target']}`, SHA-256 "
                f"{data['sha256'][:12]}…)" if data.get("sha256") else f"`{data['source']}`")
        return (f"Data: {what}, {rows}{extra}, split {split} (train/val/test) with split "
                f"seed {plan['split_seed']}, min-max scaled by the training rows, the same "
                "for every model and seed.")
    line = (f"Data: `{data['generator']}`, {data['n_samples']} samples at "
            f"{data['resolution']}x{data['resolution']} (seed {data['seed']}), split {split} "
            "(train/val/test), the same for every model and seed.")
    if plan["variables"] is not None:
        line += (f" History {plan['history']} states, rollouts of {plan['rollout_steps']} "
                 "steps from each test trajectory's start.")
    return line


def render(content: dict[str, Any]) -> str:
    plan = content["plan"]
    schedule = ("a constant learning rate" if plan["scheduler"] == "none"
                else f"a {plan['scheduler']} schedule")
    lines = [
        f"# {content['title']}", "",
        f"{content['paper']}. Scale `{content['scale']}`: {plan['seeds']} seeds per model, "
        f"{plan['epochs']} epochs, batch {plan['batch_size']}, AdamW (weight decay "
        f"{plan['weight_decay']:g}) with {schedule} for every model; each "
        f"model's learning rate is the best of {', '.join(f'{lr:g}' for lr in plan['lrs'])} "
        f"on the validation split, by selection runs of their own (seed "
        f"{content.get('selection_seed', 0)}).", "",
        data_line(plan), "",
        f"Wall time of this invocation: {_duration(content['wall_seconds'])}; compute in all "
        f"runs: {_duration(content['compute_seconds'])} ({content['device']}, "
        f"{content['threads']} thread{'s' if content['threads'] != 1 else ''}, torch "
        f"{content['torch']}).", "",
    ]
    if plan.get("note"):
        lines += [plan["note"], ""]
    lines += ["## Test metrics (mean ± std over seeds)", "", summary_table(content), "",
              "## Claims", "", claims_table(content), "",
              RULE.format(seed=content.get("selection_seed", 0)), ""]
    kirchhoff = kirchhoff_table(content)
    if kirchhoff:
        lines += ["## What the Kirchhoff state does (`kinnsci inspect`, 8 test samples)", "",
                  kirchhoff, ""]
    lines += ["## Learning-rate sweep", "", sweep_table(content), ""]
    return "\n".join(lines)


def write_report(content: dict[str, Any], path: Path) -> Path:
    return write_text_atomic(path, render(content))


def _metrics_of(claim: dict[str, Any]) -> str:
    """The claim's metric, or "M vs M'" when its worse side is read on another metric."""
    metric, worse = claim["metric"], claim.get("worse_metric") or claim["metric"]
    name = METRIC_NAMES.get(metric, metric)
    return name if worse == metric else f"{name} vs {METRIC_NAMES.get(worse, worse)}"


def overview(results: list[dict[str, Any]]) -> str:
    """One row per paper claim across experiments: the paper's figure, ours (mean ± std
    of both models and the number of seeds) and the verdict."""
    lines = ["| experiment | claim | paper | ours: better vs worse (mean ± std, seeds) | "
             "verdict |", "|---|---|---|---|---|"]
    for content in results:
        summary = content["summary"]
        for c in content["claims"]:
            a = summary[c["better"]][c["metric"]]
            b = summary[c["worse"]][c.get("worse_metric") or c["metric"]]
            ours = f"{mean_std(a)} vs {mean_std(b)} ({_metrics_of(c)}, n = {a['n']}, {b['n']})"
            lines.append(f"| {content['experiment']} ({content['scale']}) | {c['claim']} | "
                         f"{c['paper']} | {ours} | **{c['verdict']}** |")
    return "\n".join(lines)


def write_overview(root: Path) -> Path | None:
    """``root/claims.md``: :func:`overview` of every ``root/*/results.json``."""
    import json

    files = sorted(root.glob("*/results.json"))
    if not files:
        return None
    results = [json.loads(f.read_text()) for f in files]
    text = ("# Paper claims\n\nOne-sided Welch tests, Holm-corrected per experiment (see "
            "each experiment's results.md).\n\n" + overview(results) + "\n")
    return write_text_atomic(root / "claims.md", text)


def claims_overview(root: str | Path, scale: str) -> str:
    """The claims table of every registered experiment at ``scale``, read from
    ``root/EXPERIMENT/results.json``: one row per claim with the ratio, its interval and
    the verdict; an experiment without results under the current rule gets one row per
    planned claim saying "not rerun under the new rule" (never an old verdict)."""
    import json

    from kinnsci.reproduce.experiments import EXPERIMENTS
    from kinnsci.reproduce.plan import SCHEMA

    root = Path(root)
    lines = ["| experiment | claim | paper | ours: better vs worse (mean ± std, seeds) | "
             "ratio [95 % CI] | verdict |", "|---|---|---|---|---:|---|"]
    for name, experiment in EXPERIMENTS.items():
        path = root / name / "results.json"
        content = json.loads(path.read_text()) if path.exists() else None
        current = (content is not None and content.get("schema") == SCHEMA
                   and content.get("scale") == scale)
        if not current:
            for claim in experiment.plan(scale).claims:
                lines.append(f"| {name} ({scale}) | {claim.text} | {claim.paper} | — | — | "
                             "not rerun under the new rule |")
            continue
        summary = content["summary"]
        for c in content["claims"]:
            a = summary[c["better"]][c["metric"]]
            b = summary[c["worse"]][c.get("worse_metric") or c["metric"]]
            ours = f"{mean_std(a)} vs {mean_std(b)} ({_metrics_of(c)}, n = {a['n']}, {b['n']})"
            note = f" ({c['note']})" if c.get("note") else ""
            lines.append(f"| {name} ({scale}) | {c['claim']} | {c['paper']} | {ours} | "
                         f"{ratio_cell(c)} | **{c['verdict']}**{note} |")
    return "\n".join(lines)
