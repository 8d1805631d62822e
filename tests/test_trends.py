"""arsr.trends: has a training curve settled (the report's trend check), on hand-made curves."""
from __future__ import annotations

import math

import pytest


def test_late_change_on_hand_made_curves():
    from arsr.trends import late_change, trend

    # 8 points: third quarter = points 4, 5; last quarter = points 6, 7
    assert late_change([9, 9, 9, 9, 2, 2, 1, 1]) == pytest.approx(-0.5)
    assert trend(late_change([9, 9, 9, 9, 2, 2, 1, 1])) == "falling"
    assert late_change([5, 4, 3, 2, 1, 1, 1.02, 1.02]) == pytest.approx(0.02)
    assert trend(0.02) == "flat" and trend(0.2) == "rising" and trend(float("nan")) == "n/a"
    assert math.isnan(late_change([1, 2, 3]))  # too short to say
    assert math.isnan(late_change([1, 1, 1, 1, 0, 0, 1, 1]))  # no ratio on a zero base


def test_held_out_change_reads_the_end_of_the_last_rate_stretch():
    from arsr.trends import held_out_change, held_out_trend

    nan = float("nan")
    # the rate drops after row 2; validated in the stretch: rows 3-8, 10, 11 (8 points, quarters of 2):
    # third quarter 0.62, 0.64 (rows 7, 8), last 0.70, 0.72 (rows 10, 11): +8 points; the rise right after
    # the step (rows 3, 4) and the points before it take no part
    accuracy = [0.1, nan, 0.30, 0.50, 0.58, 0.60, 0.60, 0.62, 0.64, nan, 0.70, 0.72]
    rates = [0.01] * 3 + [0.001] * 9
    assert held_out_change(accuracy, rates) == pytest.approx(8.0)
    assert held_out_trend(8.0) == "rising" and held_out_trend(-3.0) == "falling"
    assert held_out_trend(1.5) == "plateau" and held_out_trend(nan) == "n/a"
    # risen early in the stretch, then settled: a plateau, though the stretch's second half is far above its first
    settled = [0.5, 0.6, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert held_out_change(settled, [0.001] * 8) == pytest.approx(0.0)
    # a constant rate: every validated point is the stretch; fewer than 4 points: no change to tell
    assert held_out_change([0.5, 0.9, 0.52, 0.6], [0.1] * 4) == pytest.approx(8.0)
    assert math.isnan(held_out_change([0.9, nan, 0.5, 0.5, 0.5], [0.1, 0.1, 0.01, 0.01, 0.01]))
    with pytest.raises(ValueError, match="3 accuracies but 2 learning rates"):
        held_out_change([0.1, 0.2, 0.3], [0.1, 0.1])


def test_final_segment_change_reads_the_last_constant_rate_stretch():
    from arsr.trends import final_segment_change

    rates = [0.1] * 4 + [0.01] * 8
    # before the step: anything; after it: 1.0 x4 then 0.9 x4 -> -10%
    loss = [5, 4, 3, 2] + [1.0] * 4 + [0.9] * 4
    assert final_segment_change(loss, rates) == pytest.approx(-0.1)
    # an odd stretch: the middle point sits in neither half
    assert final_segment_change([1.0, 1.0, 1.0, 7.0, 0.5, 0.5, 0.5], [0.1] * 7) == pytest.approx(-0.5)
    assert math.isnan(final_segment_change([1.0] * 12, [0.1] * 7 + [0.01] * 5))  # 5 points after the step
    with pytest.raises(ValueError, match="12 losses but 3 learning rates"):
        final_segment_change([1.0] * 12, [0.1] * 3)


def test_discriminator_ratio_reads_the_last_quarter_against_chance():
    from arsr.trends import discriminator_ratio, discriminator_verdict

    chance = 2 * math.log(2)
    # 8 points: the last quarter (0.70, 0.69) is about half of chance: D learned
    learned = [1.39, 1.38, 1.2, 1.0, 0.9, 0.8, 0.70, 0.69]
    assert discriminator_ratio(learned, chance) == pytest.approx(0.695 / chance)
    assert discriminator_verdict(discriminator_ratio(learned, chance)) == "learning"
    idle = [1.40, 1.38, 1.39, 1.36, 1.39, 1.41, 1.38, 1.37]
    assert discriminator_verdict(discriminator_ratio(idle, chance)) == "at chance"
    assert discriminator_ratio([1.0, float("nan"), 1.0], chance) == pytest.approx(1.0 / chance)  # < 4: all
    assert math.isnan(discriminator_ratio([float("nan")], chance))
    assert discriminator_verdict(float("nan")) == "n/a"
