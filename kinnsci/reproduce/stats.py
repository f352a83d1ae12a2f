"""Seed statistics and the verdict rule for the paper claims of one experiment.

A claim "A beats B on metric m" (lower is better) is judged from the per-seed test values:

- a one-sided Welch t-test (Welch–Satterthwaite degrees of freedom, ``scipy.stats``) of
  mean(A) < mean(B), and of the opposite direction;
- Holm's step-down correction across the claims of one experiment, at ``ALPHA`` = 0.05
  family-wise: ``holds`` when the claim's direction is significant after the correction,
  ``does not hold`` when the opposite direction is, ``inconclusive`` otherwise (also with
  fewer than two finite seeds on a side, or at the ``smoke`` scale, which checks the
  machinery and not the claim);
- the ratio of means mean(A) / mean(B) with a 95 % confidence interval (delta method on
  the log ratio, Welch–Satterthwaite degrees of freedom).

A claim "A is competitive with B" (KirchhoffNet vs an MLP, DynPMNN vs a Neural ODE) is
a non-inferiority claim with a margin m: the same tests of mean(A) < (1 + m) mean(B) and
its opposite, in the same Holm family. ``holds``: A is significantly less than a factor
1 + m worse; ``does not hold``: significantly more. At the margin (true ratio 1 + m) it
holds in at most ALPHA of the cases; for two equal models with a 5 % seed spread, m = 0.1
and n = 5 it holds with power 0.85 (``tests/test_reproduce_papers.py``).

A run that diverged (non-finite value) is reported and enters as the worst value of the
claim (the largest finite value of either side). It never decides a verdict by itself:
the claim is judged with the diverged seeds as worst values and with them left out, and
if the two verdicts differ it is ``inconclusive``.

Under the null (equal means) the false-``holds`` rate of one claim is 4.1-5.0 % at
n = 3 and 5 with equal spreads or at n = 5 with a 4x spread ratio, and 5.5 % at n = 3 with
a 4x ratio (Welch's approximation is slightly liberal near 2 degrees of freedom); at
n = 5 seeds a true difference of 2 standard deviations is detected with power 0.88
(Monte Carlo, 40 000 draws; ``tests/test_reproduce_stats.py``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

VERDICTS = ("holds", "does not hold", "inconclusive")
ALPHA = 0.05
SMOKE_VERDICT = "n/a (smoke: checks the machinery, not the claim)"


def summarize(values: Sequence[float | None]) -> dict[str, float | int]:
    """Mean, sample std (ddof=1; 0 for one value), count of finite values and of the
    non-finite ones (diverged runs)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    mean = sum(finite) / n if n else math.nan
    std = (math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1)) if n > 1 else
           (0.0 if n == 1 else math.nan))
    return {"mean": mean, "std": std, "n": n, "n_failed": len(values) - n}


def one_sided_p(better: np.ndarray, worse: np.ndarray) -> np.ndarray:
    """p-values of Welch's test of mean(better) < mean(worse), along the last axis
    (vectorised over leading axes; NaN where a side has < 2 values or no spread)."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical seeds: NaN, said so
        result = sps.ttest_ind(better, worse, axis=-1, equal_var=False, alternative="less")
    return np.asarray(result.pvalue, dtype=float)


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down rejections (family-wise error ``alpha``); NaN never rejects and
    does not count towards the family size."""
    finite = [(p, i) for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    reject = [False] * len(p_values)
    for rank, (p, i) in enumerate(sorted(finite)):
        if p > alpha / (len(finite) - rank):
            break
        reject[i] = True
    return reject


def ratio_interval(better: Sequence[float], worse: Sequence[float], level: float = 0.95
                   ) -> tuple[float, float, float]:
    """mean(better) / mean(worse) and its ``level`` confidence interval, by the delta
    method on the log ratio with Welch–Satterthwaite degrees of freedom (NaN where it is
    undefined: < 2 values on a side, or a mean <= 0)."""
    a, b = np.asarray(better, float), np.asarray(worse, float)
    if len(a) < 2 or len(b) < 2 or a.mean() <= 0 or b.mean() <= 0:
        ratio = a.mean() / b.mean() if len(a) and len(b) and b.mean() else math.nan
        return float(ratio), math.nan, math.nan
    ratio = a.mean() / b.mean()
    va = a.var(ddof=1) / (len(a) * a.mean() ** 2)
    vb = b.var(ddof=1) / (len(b) * b.mean() ** 2)
    se = math.sqrt(va + vb)
    if se == 0:
        return float(ratio), float(ratio), float(ratio)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = sps.t.ppf(0.5 + level / 2, df) * se
    return float(ratio), float(ratio * math.exp(-half)), float(ratio * math.exp(half))


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _with_worst(values: Sequence[float | None], worst: float) -> list[float]:
    return [float(v) if v is not None and math.isfinite(v) else worst for v in values]


def compare(better: Sequence[float | None], worse: Sequence[float | None],
            margin: float = 0.0) -> dict:
    """The statistics of one claim before the family's correction: means, std, ratio with
    its 95 % interval, and the one-sided p-values in both directions, with diverged seeds
    as the worst value (``p_*``) and left out (``p_*_finite``).

    ``margin`` m > 0 makes the claim a non-inferiority one: the p-values test mean(better)
    < (1 + m) mean(worse) and its opposite (Welch on ``worse`` scaled by 1 + m); the ratio
    and its interval stay mean(better) / mean(worse).

    Raises:
        ValueError: ``margin`` < 0.
    """
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    a, b = summarize(better), summarize(worse)
    finite = _finite(better) + _finite(worse)
    worst = max(finite) if finite else math.nan
    filled = (_with_worst(better, worst), _with_worst(worse, worst))
    dropped = (_finite(better), _finite(worse))

    def p_values(pair):
        x, y = np.asarray(pair[0], float), (1.0 + margin) * np.asarray(pair[1], float)
        if len(x) < 2 or len(y) < 2:
            return math.nan, math.nan
        return float(one_sided_p(x, y)), float(one_sided_p(y, x))

    ratio, low, high = ratio_interval(*filled)
    p_less, p_greater = p_values(filled)
    p_less_f, p_greater_f = p_values(dropped)
    return {"mean_better": a["mean"], "mean_worse": b["mean"], "std_better": a["std"],
            "std_worse": b["std"], "n_failed_better": a["n_failed"],
            "n_failed_worse": b["n_failed"], "ratio": ratio, "ratio_low": low,
            "ratio_high": high, "p_less": p_less, "p_greater": p_greater,
            "p_less_finite": p_less_f, "p_greater_finite": p_greater_f, "margin": margin}


def verdicts(comparisons: list[dict], alpha: float = ALPHA) -> list[dict]:
    """Each of one experiment's :func:`compare` results with its ``verdict`` and Holm-
    adjusted decision, judged as a family (see the module docstring)."""
    def decide(less_key: str, greater_key: str) -> list[str]:
        holds = holm([c[less_key] for c in comparisons], alpha)
        fails = holm([c[greater_key] for c in comparisons], alpha)
        return ["holds" if h else "does not hold" if f else "inconclusive"
                for h, f in zip(holds, fails, strict=True)]

    with_worst = decide("p_less", "p_greater")
    without = decide("p_less_finite", "p_greater_finite")
    out = []
    for c, v, w in zip(comparisons, with_worst, without, strict=True):
        diverged = c["n_failed_better"] + c["n_failed_worse"]
        verdict = v if v == w else "inconclusive"
        note = ("a diverged seed would decide it" if v != w
                else f"{diverged} diverged seed(s) entered as the worst value"
                if diverged else "")
        out.append({**c, "verdict": verdict, "note": note})
    return out


def verdict(better: Sequence[float | None], worse: Sequence[float | None],
            margin: float = 0.0) -> dict:
    """One claim judged alone (a family of one): :func:`verdicts` of :func:`compare`."""
    return verdicts([compare(better, worse, margin)])[0]
