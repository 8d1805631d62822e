"""arsr.stats: paired bootstrap intervals, verdicts, Spearman's interval and the digits rule, on
hand-made per-video correctness."""
from __future__ import annotations

import math

import numpy as np
import pytest

from arsr import stats


def _correct(rate: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(rate * n) of n videos correct, in random order."""
    out = np.zeros(n)
    out[: round(rate * n)] = 1
    return rng.permutation(out)


def test_known_difference_holds():
    rng = np.random.default_rng(1)
    a, b = _correct(0.8, 200, rng), _correct(0.5, 200, rng)
    r = stats.paired_bootstrap(a, b, rng=0)
    assert r.difference == pytest.approx(30.0)
    assert r.ci_low < 30.0 < r.ci_high and r.ci_low > 15.0 and r.ci_high < 45.0
    assert (r.n_videos, r.n_seeds) == (200, 1)
    assert stats.verdict(r.ci_low, r.ci_high) == "holds"
    # the same data read as the claim "B beats A": reversed
    back = stats.paired_bootstrap(b, a, rng=0)
    assert back.difference == pytest.approx(-30.0)
    assert stats.verdict(back.ci_low, back.ci_high) == "reversed"
    assert stats.verdict(back.ci_low, back.ci_high, expected_sign=-1) == "holds"


def test_null_difference_is_inconclusive():
    rng = np.random.default_rng(2)
    a = _correct(0.6, 200, rng)
    same = stats.paired_bootstrap(a, a.copy(), rng=0)
    assert (same.difference, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    assert stats.verdict(same.ci_low, same.ci_high) == "inconclusive"  # 0 is not excluded
    # swapped halves: A right on the first half, B on the second -> same accuracy, very noisy pairs
    a = np.r_[np.ones(100), np.zeros(100)]
    r = stats.paired_bootstrap(a, a[::-1], rng=0)
    assert r.difference == 0.0 and r.ci_low < 0 < r.ci_high
    assert stats.verdict(r.ci_low, r.ci_high) == "inconclusive"


def test_interval_width_matches_the_analytic_standard_error():
    rng = np.random.default_rng(3)
    a = rng.random((3, 400)) < 0.7
    b = rng.random((3, 400)) < 0.6
    r = stats.paired_bootstrap(a, b, rng=0)
    d = a.mean(0) - b.mean(0)
    analytic = 2 * 1.96 * 100 * d.std(ddof=1) / math.sqrt(d.size)
    assert r.ci_high - r.ci_low == pytest.approx(analytic, rel=0.15)
    assert r.n_seeds == 3 and r.difference == pytest.approx(100 * d.mean())


def test_seeds_are_averaged_per_video():
    """Two seeds that disagree on every video are the same as one seed at 0.5 each."""
    a = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], float)
    b = np.zeros((2, 4))
    r = stats.paired_bootstrap(a, b, rng=0)
    assert (r.difference, r.ci_low, r.ci_high) == (50.0, 50.0, 50.0)


def test_bootstrap_is_deterministic_and_checks_shapes():
    rng = np.random.default_rng(4)
    a, b = rng.random((2, 150)) < 0.5, rng.random((2, 150)) < 0.5
    assert stats.paired_bootstrap(a, b, rng=7) == stats.paired_bootstrap(a, b, rng=7)
    assert stats.paired_bootstrap(a, b, rng=7) != stats.paired_bootstrap(a, b, rng=8)
    assert stats.paired_bootstrap(a, b) == stats.paired_bootstrap(a, b, rng=0)  # default seed 0
    with pytest.raises(ValueError, match="same seeds and videos"):
        stats.paired_bootstrap(a, b[:, :-1])
    with pytest.raises(ValueError, match="no seeds or no videos"):
        stats.paired_bootstrap(np.zeros((1, 0)), np.zeros((1, 0)))


def test_resampled_means_blocks_do_not_change_the_draws():
    """Many videos -> several blocks; the result equals a direct resampling with the same stream."""
    values = np.arange(5.0)
    got = stats.resampled_means(values, 300, rng=5)
    idx = np.random.default_rng(5).integers(0, 5, size=(300, 5))
    assert np.allclose(got, values[idx].mean(1))
    big = np.random.default_rng(0).random(30_000)
    means = stats.resampled_means(big, 200, rng=1)  # 30 000 x 200 > one block
    assert means.shape == (200,) and abs(means.mean() - big.mean()) < 0.01


def test_verdict_rule():
    assert stats.verdict(0.5, 3.0) == "holds"
    assert stats.verdict(-3.0, -0.5) == "reversed"
    assert stats.verdict(-1.0, 2.0) == "inconclusive"
    assert stats.verdict(0.0, 2.0) == "inconclusive"  # touching 0 does not exclude it
    assert stats.verdict(-3.0, -0.5, expected_sign=-1) == "holds"
    assert stats.verdict(math.nan, 1.0) == "inconclusive"
    assert stats.verdict(3.0, 0.5) == "holds"  # endpoints in either order
    with pytest.raises(ValueError):
        stats.verdict(0, 1, expected_sign=0)


def test_compare_with_best_names_the_best_other_and_needs_all_to_hold():
    rng = np.random.default_rng(6)
    target = _correct(0.8, 300, rng)[None]
    others = {"weak": _correct(0.3, 300, rng)[None], "strong": _correct(0.6, 300, rng)[None]}
    c = stats.compare_with_best(target, others)
    assert c.against == "strong" and c.verdict == "holds"
    assert c.result.difference == pytest.approx(20.0) and set(c.pairwise) == {"weak", "strong"}
    # one draw of resampled videos for all pairs: each pair as paired_bootstrap with the same seed
    alone = stats.paired_bootstrap(target, others["weak"], rng=0)
    assert c.pairwise["weak"][0] == pytest.approx(alone)
    with pytest.raises(ValueError, match="same seeds and videos"):
        stats.compare_with_best(target, {"short": target[:, :-1]})
    # a close rival: the best by mean is inconclusive -> the claim is
    others["close"] = target.copy()
    others["close"][0, :3] = 1 - others["close"][0, :3]
    c = stats.compare_with_best(target, others)
    assert c.verdict == "inconclusive"
    # a clearly better rival -> reversed
    others["better"] = np.ones_like(target)
    c = stats.compare_with_best(target, others)
    assert c.against == "better" and c.verdict == "reversed" and c.result.ci_high < 0


def test_rank_rows_average_ties():
    assert stats.rank_rows([3, 1, 4, 1, 5, 9]).tolist() == [3, 1.5, 4, 1.5, 5, 6]
    assert stats.rank_rows([[1, 2], [2, 1]]).tolist() == [[1, 2], [2, 1]]
    assert stats.spearman_rows([1, 2, 3, 4], [10, 100, 1000, 10000]) == pytest.approx(1.0)
    # scipy.stats.spearmanr([10, 20, 30, 40, 50, 60], [3, 1, 4, 1, 5, 9]).statistic
    assert stats.spearman_rows([10, 20, 30, 40, 50, 60], [3, 1, 4, 1, 5, 9]) == pytest.approx(0.6667366910003157)
    assert math.isnan(stats.spearman_rows([1, 2, 3], [1, 1, 1]))


def _methods_with_rates(rates, n=400, seeds=2, seed=0):
    rng = np.random.default_rng(seed)
    return [np.stack([_correct(r, n, rng) for _ in range(seeds)]) for r in rates]


def test_spearman_bootstrap_monotone_and_anti_monotone():
    psnr = [24.0, 25.0, 26.0, 27.0, 28.0, 29.0]
    rates = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]  # 10 points apart on 400 videos: ranks hardly move
    up = stats.spearman_bootstrap(psnr, _methods_with_rates(rates), rng=0)
    assert up.rho == pytest.approx(1.0) and up.ci_low > 0.8 and up.n_methods == 6 and up.n_videos == 400
    assert stats.association_verdict(up.ci_low, up.ci_high) == "reversed"
    down = stats.spearman_bootstrap(psnr, _methods_with_rates(rates[::-1]), rng=0)
    assert down.rho == pytest.approx(-1.0) and down.ci_high < -0.8
    assert stats.association_verdict(down.ci_low, down.ci_high) == "holds"
    again = stats.spearman_bootstrap(psnr, _methods_with_rates(rates[::-1]), rng=0)
    assert again == down


def test_spearman_bootstrap_unrelated_is_wide():
    psnr = [24.0, 25.0, 26.0, 27.0, 28.0]
    flat = stats.spearman_bootstrap(psnr, _methods_with_rates([0.5] * 5, n=100), rng=0)
    assert math.isnan(flat.rho) or abs(flat.rho) < 1
    assert flat.ci_low < 0 < flat.ci_high
    assert stats.association_verdict(flat.ci_low, flat.ci_high) == "inconclusive"  # +0.5 not ruled out
    with pytest.raises(ValueError, match="same videos"):
        stats.spearman_bootstrap([1, 2], [np.ones(5), np.ones(6)])


def test_association_verdict_rule():
    assert stats.association_verdict(0.1, 0.9) == "reversed"
    assert stats.association_verdict(-0.6, 0.3) == "holds"
    assert stats.association_verdict(-0.9, -0.4) == "holds"
    assert stats.association_verdict(-0.3, 0.8) == "inconclusive"
    assert stats.association_verdict(-0.3, 0.8, margin=0.9) == "holds"
    assert stats.association_verdict(math.nan, math.nan) == "inconclusive"


def test_half_width_and_decimals():
    x = np.r_[np.ones(50), np.zeros(50)]
    assert stats.mean_half_width(x) == pytest.approx(1.96 * 100 * x.std(ddof=1) / 10, rel=1e-3)
    assert stats.decimals_for(5.3) == 0
    assert stats.decimals_for(14.0) == 0
    assert stats.decimals_for(0.84) == 1
    assert stats.decimals_for(0.05) == 2
    assert stats.decimals_for(0.004) == 2 and stats.decimals_for(0.004, max_decimals=4) == 3
    assert stats.decimals_for(0.0) == 2 and stats.decimals_for(math.nan) == 2


def test_late_change_on_hand_made_curves():
    from arsr.stats import late_change, trend

    # 8 points: third quarter = points 4, 5; last quarter = points 6, 7
    assert late_change([9, 9, 9, 9, 2, 2, 1, 1]) == pytest.approx(-0.5)
    assert trend(late_change([9, 9, 9, 9, 2, 2, 1, 1])) == "falling"
    assert late_change([5, 4, 3, 2, 1, 1, 1.02, 1.02]) == pytest.approx(0.02)
    assert trend(0.02) == "flat" and trend(0.2) == "rising" and trend(float("nan")) == "n/a"
    assert math.isnan(late_change([1, 2, 3]))  # too short to say
    assert math.isnan(late_change([1, 1, 1, 1, 0, 0, 1, 1]))  # no ratio on a zero base
