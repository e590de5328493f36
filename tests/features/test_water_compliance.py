"""Weekly compliance shares and the river-rating summary (one implementation for flow and CLI)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.water_compliance import compliance_shares, rating_summary


def test_compliance_shares_count_judged_weeks_only():
    weekly = pd.DataFrame(
        {
            "section": ["B", "B", "B", "A", "A", "C"],
            "complies": [True, False, np.nan, True, True, np.nan],
        }
    )
    out = compliance_shares(weekly)
    assert list(out) == ["A", "B"]  # C was never judged
    assert out["A"] == {"share": 1.0, "weeks": 2}
    assert out["B"] == {"share": 0.5, "weeks": 2}


def test_rating_summary():
    rating = pd.DataFrame(
        {"week": ["w1", "w2", "w3", "w4"], "rating": ["优", np.nan, "良好", "优"]}
    )
    out = rating_summary(rating)
    assert out["weeks_rated"] == 3 and out["by_rating"] == {"优": 2, "良好": 1}
    assert out["last_week"] == {"week": "w4", "rating": "优"}
    none = rating_summary(pd.DataFrame({"week": ["w1"], "rating": [np.nan]}))
    assert none == {"weeks_rated": 0, "by_rating": {}, "last_week": None}
