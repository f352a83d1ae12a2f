"""Seed statistics and the verdict rule for a paper claim.

A claim "A beats B on metric m" (lower is better) is judged from the per-seed values:

- ``holds``: mean(A) < mean(B) by more than two standard errors of the difference,
- ``does not hold``: mean(A) > mean(B) by more than two standard errors,
- ``inconclusive``: the difference is within two standard errors, or either side has fewer
  than two finite seeds (no spread can be estimated).

The standard error is sqrt(s_A²/n_A + s_B²/n_B) with sample standard deviations (ddof=1),
Welch's form. A run that diverged (non-finite value) is reported, not averaged: when only
one side has diverged runs, that side loses (the claim holds if ``worse`` diverged, does
not hold if ``better`` did); when both have, the verdict is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

VERDICTS = ("holds", "does not hold", "inconclusive")


def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """Mean, sample std (ddof=1; 0 for one value), count of finite values and of the
    non-finite ones (diverged runs)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    mean = sum(finite) / n if n else math.nan
    std = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else
           (0.0 if n == 1 else math.nan))
    return {"mean": mean, "std": std, "n": n, "n_failed": len(values) - n}


def standard_error(a: dict, b: dict) -> float:
    """Standard error of mean(a) - mean(b) from two :func:`summarize` results."""
    return math.sqrt(a["std"] ** 2 / a["n"] + b["std"] ** 2 / b["n"])


def verdict(better: Sequence[float], worse: Sequence[float]) -> dict[str, float | str]:
    """Judge "``better`` has lower values than ``worse``" by the rule above.

    Returns the verdict, the two means, their difference (worse - better: positive when the
    claim points the right way), its standard error and the ratio worse / better.
    """
    a, b = summarize(better), summarize(worse)
    result = {"mean_better": a["mean"], "mean_worse": b["mean"], "difference": math.nan,
              "standard_error": math.nan, "ratio": math.nan, "verdict": "inconclusive"}
    if a["n_failed"] or b["n_failed"]:
        if a["n_failed"] and b["n_failed"]:
            return result
        result["verdict"] = "holds" if b["n_failed"] else "does not hold"
        return result
    if a["n"] == 0 or b["n"] == 0:
        return result
    diff = b["mean"] - a["mean"]
    result["difference"] = diff
    result["ratio"] = b["mean"] / a["mean"] if a["mean"] else math.inf
    if a["n"] < 2 or b["n"] < 2:
        return result
    se = standard_error(a, b)
    result["standard_error"] = se
    if abs(diff) > 2 * se:
        result["verdict"] = "holds" if diff > 0 else "does not hold"
    return result
