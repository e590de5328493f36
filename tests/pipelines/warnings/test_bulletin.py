"""The bulletin on its own: operational alert, no-warning state, the heavy-day line, the chart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.warnings.outlook import AreaOutlook
from features.warnings.rules import Decision
from pipelines.config.warnings import load_warning_config
from pipelines.warnings.bulletin import outlook_chart, write_bulletin
from pipelines.warnings.reports import WarnReport

T0 = pd.Timestamp("2016-12-14 00:00")


def _outlook(area: str) -> AreaOutlook:
    med = np.array([120.0, 250.0, 260.0, 90.0])
    return AreaOutlook(
        area,
        [T0 + pd.Timedelta(hours=24 * d) for d in range(4)],
        np.stack([0.8 * med, med, 1.2 * med], axis=1),
        (0.1, 0.5, 0.9),
        med,
        ["pm25"] * 4,
        ["pm25"],
    )


def test_bulletin_shows_the_ops_alert_the_state_and_the_outlook(tmp_path):
    scheme, city = load_warning_config("beijing")
    report = WarnReport("beijing", T0, "f.nc", ops_alert="forecast is 40 h old: no warning changed")
    area = city.areas[0].id
    report.outlooks[area] = _outlook(area)
    report.decisions[area] = Decision(
        None, None, None, 0.4, (100.0, 300.0), "pm25", 24.0, None, False, [0.0, 0.4, 0.45, 0.0], []
    )
    path = write_bulletin(tmp_path / "b" / "bulletin.html", scheme, city, report, [], {})
    html = path.read_text(encoding="utf-8")
    assert "Operational alert" in html and "forecast is 40 h old" in html
    assert html.count("No warning in force") == len(city.areas)
    assert "P(日 AQI &gt; 200)" in html and "0%, 40%, 45%, 0%" in html
    assert html.count("data:image/png;base64,") == 1  # only the area with an outlook
    assert not list(path.parent.glob("*.tmp"))  # written atomically


def test_outlook_chart_is_a_png():
    import base64

    png = base64.b64decode(outlook_chart(_outlook("x"), [200, 300], "Asia/Shanghai"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
