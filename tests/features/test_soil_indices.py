"""Soil risk class, single-factor and Nemerow indices, plots and campaign change (hand-computed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.soil.indices import (
    campaign_change,
    exceedance_multiple,
    nemerow_grade,
    nemerow_index,
    plot_summary,
    risk_class,
    single_factor_index,
)


def test_class_at_the_limits():
    c = np.array([0.2, 0.3, 0.31, 1.5, 1.51, np.nan])
    got = risk_class(c, np.full(6, 0.3), np.full(6, 1.5))
    assert got.tolist() == [1, 1, 2, 2, 3, 0]  # <= S negligible; > I high; NaN not assessed


def test_no_intervention_value_is_at_most_risk_possible():
    got = risk_class(np.array([10.0, 1000.0]), np.full(2, 50.0), np.full(2, np.nan))
    assert got.tolist() == [1, 2]


def test_below_detection_limit_rule():
    # DL 0.05 <= S 0.3: negligible; DL 0.5 > S 0.3: not assessed (content unknown)
    got = risk_class(np.array([0.05, 0.5]), 0.3, 1.5, below_dl=np.array([True, True]))
    assert got.tolist() == [1, 0]
    pi = single_factor_index(np.array([0.05, 0.6]), 0.3, below_dl=np.array([True, False]))
    np.testing.assert_allclose(pi, [0.025 / 0.3, 2.0])  # DL/2 for the index


def test_indices_hand_computed():
    # a sample with Cd 0.6 (S 0.3), Pb 45 (S 90), Zn 250 (S 200):
    # Pi = 2.0, 0.5, 1.25; mean 1.25, max 2.0; P = sqrt((1.5625 + 4) / 2) = 1.66771
    pi = single_factor_index(np.array([0.6, 45.0, 250.0]), np.array([0.3, 90.0, 200.0]))
    np.testing.assert_allclose(pi, [2.0, 0.5, 1.25])
    assert abs(float(nemerow_index(pi)) - np.sqrt((1.25**2 + 2.0**2) / 2)) < 1e-12
    assert abs(float(nemerow_index(pi)) - 1.667708) < 1e-6
    np.testing.assert_allclose(
        exceedance_multiple(np.array([0.6, 45.0, 250.0]), np.array([0.3, 90.0, 200.0])),
        [1.0, 0.0, 0.25],
    )
    assert nemerow_grade(np.array([0.5, 0.7, 0.9, 1.5, 2.5, 3.5, np.nan])).tolist() == [
        "safe",
        "safe",
        "warning",
        "light",
        "moderate",
        "heavy",
        "",
    ]


def test_nemerow_ignores_missing_analytes():
    assert abs(float(nemerow_index(np.array([2.0, np.nan, 0.5, 1.25]))) - 1.667708) < 1e-6
    assert np.isnan(nemerow_index(np.array([np.nan, np.nan])))


def _table(rows):
    return pd.DataFrame(rows, columns=["plot", "analyte", "risk_class", "pi"])


def test_plot_worst_class_and_controlling_analyte():
    t = _table(
        [
            ("A", "soil_cd", 3, 5.0),
            ("A", "soil_pb", 2, 6.0),  # larger Pi, but a lower class: Cd controls
            ("B", "soil_cd", 2, 1.2),
            ("B", "soil_zn", 2, 1.5),  # same class: the larger Pi controls
            ("B", "soil_zn", 1, 0.9),  # a second sample of the plot
        ]
    )
    s = plot_summary(t)
    assert s.loc["A", "worst_class"] == 3 and s.loc["A", "controlling_analyte"] == "soil_cd"
    assert s.loc["B", "worst_class"] == 2 and s.loc["B", "controlling_analyte"] == "soil_zn"
    assert abs(s.loc["B", "nemerow"] - np.sqrt((1.35**2 + 1.5**2) / 2)) < 1e-12
    assert s.loc["A", "worst_class_name"] == "risk high"


def test_campaign_change():
    before = _table(
        [("A", "soil_cd", 2, 1.5), ("B", "soil_cd", 1, 0.5), ("C", "soil_cd", 0, np.nan)]
    )
    after = _table([("A", "soil_cd", 1, 0.8), ("B", "soil_cd", 3, 6.0), ("C", "soil_cd", 2, 2.0)])
    ch = campaign_change(before, after).set_index("plot")
    assert ch.loc["A", "change"] == "better" and ch.loc["B", "change"] == "worse"
    assert ch.loc["C", "change"] == "not comparable"
    assert abs(ch.loc["A", "delta_pi"] + 0.7) < 1e-12
