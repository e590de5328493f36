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
    # the header speaks local time like the rows, with UTC beside it
    assert "2016-12-14 08:00 (Asia/Shanghai) = 2016-12-14 00:00 UTC" in html


def test_outlook_chart_is_a_png():
    import base64

    png = base64.b64decode(outlook_chart(_outlook("x"), [200, 300], "Asia/Shanghai"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_at_risk_charts_only_areas_reaching_a_threshold_or_warned(tmp_path):
    scheme, city = load_warning_config("beijing")
    assert city.bulletin_charts == "all"
    calm = _outlook("calm")
    calm.quantiles[:], calm.median[:] = 50.0, 50.0  # the upper quantile stays below AQI 200
    first = city.areas[0]
    city = city.model_copy(update={"areas": [first, first.model_copy(update={"id": "calm"})]})
    report = WarnReport("beijing", T0, "f.nc")
    a, b = first.id, "calm"
    report.outlooks[a], report.outlooks[b] = _outlook(a), calm
    html_all = write_bulletin(tmp_path / "all.html", scheme, city, report, [], {}).read_text()
    assert html_all.count("data:image/png;base64,") == 2
    risky = city.model_copy(update={"bulletin_charts": "at_risk"})
    html = write_bulletin(tmp_path / "risk.html", scheme, risky, report, [], {}).read_text()
    assert html.count("data:image/png;base64,") == 1 and f"alt='{a} chart'" in html


def test_a_bad_bulletin_charts_value_names_the_file_and_field(tmp_path, monkeypatch):
    import shutil

    from pipelines.config.locations import config_dir
    from pipelines.errors import ConfigError

    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    path = cfg / "warnings" / "beijing.yml"
    path.write_text(path.read_text(encoding="utf-8") + "bulletin_charts: some\n", encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    try:
        load_warning_config("beijing")
    except ConfigError as exc:
        assert "beijing.yml" in str(exc) and "bulletin_charts" in str(exc)
    else:
        raise AssertionError("an unknown bulletin_charts value was accepted")


def test_the_water_bulletin_shows_each_section_target_from_the_river_file(tmp_path):
    scheme, city = load_warning_config("ndfa")  # areas set no target; configs/rivers/ndfa.yml does
    report = WarnReport("ndfa", T0, None)
    for area in city.areas:
        report.decisions[area.id] = Decision(
            None, None, None, 0.0, None, "", 0.0, None, False, [], [],
            details={"stations": {area.id: {"class": "IV", "findings": []}}},
        )  # fmt: skip
    html = write_bulletin(tmp_path / "b.html", scheme, city, report, [], {}).read_text("utf-8")
    assert "<td>RVB</td><td>IV</td><td>II</td>" in html  # RVB's section target is II
    assert "<td>RMB</td><td>IV</td><td>III</td>" in html
    assert "<td>—</td>" not in html.split("目标 Target", 1)[1].split("</table>", 1)[0]
