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


def test_held_out_change_reads_the_last_rate_stretch_from_the_point_before_it():
    from arsr.trends import held_out_change, held_out_trend

    nan = float("nan")
    # validated at rows 1, 3, 5, 6, 7; the rate drops after row 3: the stretch is rows 4-7, preceded by row 3
    accuracy = [nan, 0.30, nan, 0.50, nan, 0.60, 0.62, 0.64]
    rates = [0.01, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001]
    # points 0.50, 0.60, 0.62, 0.64: second half 0.63 - first half 0.55 = 8 points
    assert held_out_change(accuracy, rates) == pytest.approx(8.0)
    assert held_out_trend(8.0) == "rising" and held_out_trend(-3.0) == "falling"
    assert held_out_trend(1.5) == "plateau" and held_out_trend(nan) == "n/a"
    # odd count: the middle point is left out; a constant rate: every validated point is the stretch
    assert held_out_change([0.5, 0.9, 0.52], [0.1, 0.1, 0.1]) == pytest.approx(2.0)
    assert math.isnan(held_out_change([nan, nan, 0.5], [0.1, 0.1, 0.1]))  # one point: no change to tell
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
