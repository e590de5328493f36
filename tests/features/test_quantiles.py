"""P(value > threshold) from quantile forecasts: linear CDF, extrapolation, NaN, one level."""

from __future__ import annotations

import numpy as np
import pytest

from features.quantiles import exceedance_from_quantiles

LEVELS = (0.1, 0.5, 0.9)
Q = np.array([10.0, 20.0, 30.0])


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (10.0, 0.9),  # at a quantile: 1 - its level
        (20.0, 0.5),
        (30.0, 0.1),
        (15.0, 0.7),  # halfway between P10 and P50: CDF 0.3
        (27.5, 0.2),  # CDF 0.5 + 0.75 * 0.4 = 0.8
        (8.0, 0.98),  # below P10: the first segment's slope (0.04 per unit) extended
        (32.0, 0.02),  # above P90: the last segment's slope extended
        (0.0, 1.0),  # extrapolated CDF below 0 is clipped
        (100.0, 0.0),  # ... and above 1
    ],
)
def test_linear_cdf_between_and_beyond_the_quantiles(threshold, expected):
    assert exceedance_from_quantiles(Q, LEVELS, threshold) == pytest.approx(expected)


def test_broadcasts_sorts_and_propagates_nan():
    q = np.stack([Q, Q[::-1], [10.0, np.nan, 30.0]])[None]  # 1 x 3 x Q, one row unsorted
    p = exceedance_from_quantiles(q, LEVELS, 15.0)
    assert p.shape == (1, 3)
    assert p[0, 0] == pytest.approx(0.7) and p[0, 1] == pytest.approx(0.7)
    assert np.isnan(p[0, 2])


def test_probability_falls_as_the_threshold_rises():
    thresholds = np.linspace(0, 40, 81)
    p = np.array([exceedance_from_quantiles(Q, LEVELS, t) for t in thresholds])
    assert np.all(np.diff(p) <= 1e-12) and p[0] == 1.0 and p[-1] == 0.0


def test_tied_quantiles_and_a_single_level():
    # P10 == P50: a threshold on the tie takes the middle of the collapsed segment
    tied = exceedance_from_quantiles(np.array([10.0, 10.0, 30.0]), LEVELS, 10.0)
    assert tied == pytest.approx(0.7)
    one = exceedance_from_quantiles(np.array([[5.0], [15.0], [np.nan]]), (0.5,), 10.0)
    assert one[:2].tolist() == [0.0, 1.0] and np.isnan(one[2])
