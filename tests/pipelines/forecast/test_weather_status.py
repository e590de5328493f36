"""Whether a model may forecast from the visible NWP run: feed, variables, reach per station."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.nwp_features import NWPRuns
from pipelines.forecast.jobs import weather_status


def _weather(periods=100, lacking_station_b_after=None):
    vals = {v: np.ones((1, 2, periods), "float32") for v in ("air_temperature", "wind_speed")}
    if lacking_station_b_after is not None:
        vals["wind_speed"][0, 1, lacking_station_b_after:] = np.nan
    runs = NWPRuns("f", ["A", "B"], pd.DatetimeIndex(["2020-01-01"]), np.arange(periods), vals, 3)
    return {"feed": "f", "synthetic": True, "status": "used", "runs": runs,
            "run_issue_time": "2020-01-01T00:00Z", "source": "s",
            "t_issue": pd.Timestamp("2020-01-01 03:00")}  # fmt: skip


META = {"weather_feed": "f", "weather_variables": ["air_temperature", "wind_speed"], "max_lead": 96}


def test_used_when_every_variable_reaches_the_last_lead_everywhere():
    prov = weather_status(_weather(), META)
    assert prov == {"feed": "f", "synthetic": True, "status": "used",
                    "run_issue_time": "2020-01-01T00:00Z", "source": "s"}  # fmt: skip


def test_one_short_station_or_variable_means_missing_and_the_run_was_not_used():
    prov = weather_status(_weather(lacking_station_b_after=90), META)
    assert prov["status"] == "missing" and "reaches 89 h" in prov["reason"]
    assert prov["considered_run"] == "2020-01-01T00:00Z" and "run_issue_time" not in prov
    lacking = weather_status(_weather(), {**META, "weather_variables": ["boundary_layer_height"]})
    assert lacking["status"] == "missing" and "lacks ['boundary_layer_height']" in lacking["reason"]


def test_another_feed_is_not_the_model_s():
    prov = weather_status(_weather(), {**META, "weather_feed": "ecmwf"})
    assert prov["status"] == "missing" and "trained with feed 'ecmwf'" in prov["reason"]
