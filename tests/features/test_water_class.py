"""GB 3838-2002 single-factor water class."""

from __future__ import annotations

import numpy as np
import pytest

from features.water_class import (
    WaterStandard,
    below_detection_to_half,
    parameter_class,
    section_class,
)


@pytest.fixture(scope="module")
def std():
    from pipelines.config import water_standard

    return water_standard()


@pytest.mark.parametrize(
    "param,values,expected",
    [
        ("dissolved_oxygen", [8, 7.5, 7.49, 6, 5.99, 5, 3, 2, 1.99], [1, 1, 2, 2, 3, 3, 4, 5, 6]),
        ("codmn", [2, 2.01, 4, 6, 10, 15, 15.1], [1, 2, 2, 3, 4, 5, 6]),
        ("nh3n", [0.15, 0.16, 0.5, 1.0, 1.5, 2.0, 2.01], [1, 2, 2, 3, 4, 5, 6]),
        ("tp", [0.02, 0.1, 0.2, 0.3, 0.4, 0.41], [1, 2, 3, 4, 5, 6]),
        ("ph", [5.9, 6, 7.5, 9, 9.1], [6, 1, 1, 1, 6]),
    ],
)
def test_parameter_limits_river(std, param, values, expected):
    assert parameter_class(np.array(values, float), param, std, "river").tolist() == expected


def test_lake_tp_and_tn(std):
    assert parameter_class(
        np.array([0.01, 0.025, 0.05, 0.1, 0.2, 0.21]), "tp", std, "lake"
    ).tolist() == [1, 2, 3, 4, 5, 6]
    assert "tn" in std.evaluated("lake") and "tn" not in std.evaluated("river")


def test_single_factor_worst_class_and_determining(std):
    cls, det = section_class(
        {
            "dissolved_oxygen": np.array([8.0, 8.0, np.nan]),
            "nh3n": np.array([0.6, 0.1, np.nan]),
            "ph": np.array([7.0, 9.5, np.nan]),
            "conductivity": np.array([500.0, 500.0, 500.0]),
        },
        std,
        "river",
    )
    assert cls.tolist() == [3, 6, 0]
    assert det.tolist() == ["nh3n", "ph", ""]


def test_below_detection_limit_is_half(std):
    out = below_detection_to_half(
        np.array([0.3, 0.0]), np.array([False, True]), np.array([0.02, 0.02])
    )
    assert out.tolist() == [0.3, 0.01]
    assert isinstance(std, WaterStandard)
