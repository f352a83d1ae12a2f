"""The verdict rule of ``kinnsci reproduce``: Welch's one-sided test, Holm's correction,
the ratio's interval, diverged seeds; its error rates measured by Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from kinnsci.reproduce.stats import (
    ALPHA,
    compare,
    holm,
    one_sided_p,
    ratio_interval,
    verdict,
    verdicts,
)

SIMULATIONS = 20_000


def _false_holds_rate(n: int, spread_ratio: float, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    better = rng.normal(1.0, 0.1, size=(SIMULATIONS, n))
    worse = rng.normal(1.0, 0.1 * spread_ratio, size=(SIMULATIONS, n))
    return float(np.mean(one_sided_p(better, worse) < ALPHA))


@pytest.mark.parametrize(("n", "spread_ratio", "excess"), [
    (3, 1.0, 0.0), (5, 1.0, 0.0), (5, 4.0, 0.0),
    # Welch's df approximation is slightly liberal near 2 degrees of freedom: 5.5 % was
    # measured with 40 000 draws (docs/reproduce.md says so); the old rule gave 8 % here
    (3, 4.0, 0.005),
])
def test_false_holds_rate_under_the_null_stays_at_alpha(n, spread_ratio, excess):
    """Equal means: "holds" in at most alpha of the cases, within Monte-Carlo error (3
    standard errors of a proportion). The old "> 2 s.e." rule gave 5.8 % / 8 % at n = 3."""
    rate = _false_holds_rate(n, spread_ratio)
    mc_error = 3 * math.sqrt(ALPHA * (1 - ALPHA) / SIMULATIONS)
    assert rate <= ALPHA + excess + mc_error, rate


def test_power_for_a_two_sd_effect_at_five_seeds():
    """Stated in the docs: a true difference of 2 standard deviations is found with
    power ~0.88 at n = 5 per side (one claim, alpha 0.05)."""
    rng = np.random.default_rng(1)
    better = rng.normal(0.0, 1.0, size=(SIMULATIONS, 5))
    worse = rng.normal(2.0, 1.0, size=(SIMULATIONS, 5))
    power = float(np.mean(one_sided_p(better, worse) < ALPHA))
    assert 0.82 < power < 0.90, power


def test_the_p_value_is_welchs_one_sided_test():
    better, worse = [1.0, 1.2, 0.9, 1.1], [1.5, 1.9, 1.4]
    expected = scipy.stats.ttest_ind(better, worse, equal_var=False, alternative="less").pvalue
    assert compare(better, worse)["p_less"] == pytest.approx(expected)


def test_holm_steps_down_and_ignores_missing_p_values():
    # sorted 0.01 < 0.05/3, 0.02 < 0.05/2, 0.04 < 0.05: all three
    assert holm([0.04, 0.01, 0.02]) == [True, True, True]
    # 0.01 < 0.05/3 rejects; 0.03 > 0.05/2 stops the steps (0.035 is not tested)
    assert holm([0.01, 0.03, 0.035]) == [True, False, False]
    assert holm([0.03, float("nan")]) == [True, False]  # a family of one finite test


def test_a_family_of_claims_is_corrected_together():
    strong = ([1.0, 1.1, 0.9, 1.0, 1.05], [2.0, 2.1, 1.9, 2.0, 2.05])
    weak = ([1.0, 1.1, 0.9, 1.0, 1.05], [1.12, 1.22, 1.02, 1.12, 1.17])
    alone = verdict(*weak)
    assert alone["p_less"] < ALPHA and alone["verdict"] == "holds"
    judged = verdicts([compare(*strong), compare(*weak), compare(*weak), compare(*weak)])
    assert judged[0]["verdict"] == "holds"
    # three weak claims at p ~0.04 each: Holm needs 0.05 / 3 for the first of them
    assert {j["verdict"] for j in judged[1:]} == {"inconclusive"}


def test_the_ratio_interval_covers_the_true_ratio_at_its_level():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(2000):
        a, b = rng.normal(1.0, 0.05, 5), rng.normal(1.25, 0.1, 5)
        _, low, high = ratio_interval(a, b)
        hits += low <= 0.8 <= high
    assert 0.92 <= hits / 2000 <= 0.98


@pytest.mark.parametrize(("better", "worse", "expected"), [
    ([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], "holds"),
    ([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], "does not hold"),
    ([1.0, 1.1, 0.9], [1.1, 1.2, 1.0], "inconclusive"),
    # 2.08 standard errors apart at df 4: the old "> 2 s.e." rule said holds, p = 0.053
    ([1.0, 1.1, 0.9], [1.17, 1.27, 1.07], "inconclusive"),
    ([1.0], [2.0], "inconclusive"),                         # one seed: no spread
    ([1.0, 1.0], [1.0, 1.0], "inconclusive"),               # identical
    # a diverged seed enters as the worst value but never decides alone
    ([1.0, 1.1], [float("nan"), 2.0], "inconclusive"),
    ([1.0, 1.1, 0.9, 1.0, 1.05], [float("nan"), 2.0, 2.1, 1.9, 2.0], "holds"),
    ([None, 1.1, 1.0, 1.2, 1.05], [1.5, 2.0, 1.8, 1.7, 1.9], "holds"),
])
def test_verdict_rule(better, worse, expected):
    assert verdict(better, worse)["verdict"] == expected


def test_a_diverged_seed_is_reported_in_the_note():
    result = verdict([1.0, 1.1, 0.9, 1.0, 1.05], [float("nan"), 2.0, 2.1, 1.9, 2.0])
    assert result["n_failed_worse"] == 1 and "worst value" in result["note"]
