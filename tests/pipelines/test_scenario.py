"""The scenario job and ``qingyuan scenario``: forecast file + PMF folder + city config."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from pipelines.config import load_network
from pipelines.config.scenario import load_scenario_config
from pipelines.errors import ConfigError
from pipelines.scenario import ScenarioError, run_scenario

ISSUE = pd.Timestamp("2016-12-15 16:00")  # 16 Dec 00:00 Beijing time


def _forecast(path: Path, daily_pm25: list[float], factor: float = 1.0) -> Path:
    stations = [s.id for s in load_network("beijing").stations]
    hourly = np.repeat(np.asarray(daily_pm25, float), 24) * factor
    mean = np.broadcast_to(hourly, (len(stations), 1, len(hourly))).astype("float64")
    ds = xr.Dataset(
        {
            "pm25_mean": (("station", "issue_time", "lead_time"), mean, {"units": "ug m-3"}),
            "pm25_quantile": (
                ("station", "issue_time", "lead_time", "quantile"),
                np.stack([0.85 * mean, mean, 1.15 * mean], axis=-1),
                {"units": "ug m-3"},
            ),
        },
        coords={
            "station": stations,
            "issue_time": [ISSUE.to_datetime64()],
            "lead_time": np.arange(1, len(hourly) + 1),
            "quantile": [0.1, 0.5, 0.9],
        },
        attrs={
            "issue_time": f"{ISSUE.isoformat()}Z",
            "data_cutoff": f"{ISSUE.isoformat()}Z",
            "model_uris": json.dumps({"pm25": "models:/beijing-pm25@champion"}),
            "mlflow_run_ids": json.dumps({"pm25": "run-abc"}),
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path


def _pmf(folder: Path, coal_share: float = 0.5) -> Path:
    """A PMF folder: 3 factors, factor_1 carries ``coal_share`` of pm25 at every hour."""
    folder.mkdir(parents=True)
    t = pd.date_range("2016-11-01", periods=24 * 40, freq="h")
    g = pd.DataFrame(1.0, index=t, columns=["factor_1", "factor_2", "factor_3"])
    g.to_csv(folder / "contributions_normalised.csv")
    rest = (1 - coal_share) / 2
    f = pd.DataFrame(
        {
            "factor_1": [coal_share * 100, 5.0],
            "factor_2": [rest * 100, 1.0],
            "factor_3": [rest * 100, 0.0],
        },
        index=["pm25", "so2"],
    )
    f.to_csv(folder / "profiles_concentration.csv")
    rows = [
        {"factor": k, "species": "pm25", "p5": 0.8, "p25": 0.9, "p50": 1.0, "p75": 1.1, "p95": 1.3}
        for k in (1, 2, 3)
    ]
    pd.DataFrame(rows).to_csv(folder / "bootstrap_profiles.csv", index=False)
    (folder / "summary.json").write_text(json.dumps({"mlflow_run_id": "pmf-run"}))
    return folder


def _config(tmp_path: Path, pmf: Path, interval: str = "none", extra: str = "") -> Path:
    p = tmp_path / "beijing.yml"
    p.write_text(
        f"""name: beijing
network: beijing
warnings: beijing-2016
area: beijing
pmf:
  solution: {pmf}
  total: pm25
share:
  method: hour_of_day
  interval: {interval}
response:
  lag_hours: 0
  ramp_hours: 0
draws: 1000
classes:
  coal_heating:
    names: {{zh: 燃煤采暖, en: coal heating}}
    factors: [1]
  traffic:
    factors: [factor_2]
{extra}""",
        encoding="utf-8",
    )
    return p


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    pmf = _pmf(tmp_path / "pmf")
    fc = _forecast(tmp_path / "fc" / "beijing_20161215T1600Z.nc", [300, 300, 300, 300])
    return {"pmf": pmf, "forecast": fc, "config": _config(tmp_path, pmf), "tmp": tmp_path}


def test_full_cut_halves_pm25_and_aqi_follows_the_warning_path(setup):
    from pipelines.config.warnings import AreaSpec
    from pipelines.warnings.job import area_outlook

    res = run_scenario(
        str(setup["config"]),
        "coal_heating",
        100,
        start="2016-12-16T00:00",  # local = the issue time: every hour is cut
        forecast_file=setup["forecast"],
        out=setup["tmp"] / "out",
    )
    h = res.hourly
    assert h["share_percent"].to_numpy() == pytest.approx(50.0)
    assert h["cut_median"].to_numpy() == pytest.approx(
        h["baseline_median"].to_numpy() / 2, rel=0.01
    )
    assert h["cut_mean"].to_numpy() == pytest.approx(150.0)
    # the daily AQI with the cut is what the warning job computes for a forecast of half the PM2.5
    half = _forecast(setup["tmp"] / "half.nc", [300, 300, 300, 300], factor=0.5)
    want = area_outlook(xr.open_dataset(half), AreaSpec(id="beijing"), "Asia/Shanghai")
    assert res.daily["cut_aqi_median"].to_numpy() == pytest.approx(want.median, abs=1.0)
    assert res.daily["cut_pm25_24h_median"].to_numpy() == pytest.approx(150.0, rel=0.01)
    base = res.meta["baseline"]
    assert base["level"] == "red" and res.meta["with_cut"]["severity"] < base["severity"]
    assert res.meta["level_drops"] is True
    m = json.loads(Path(res.files["json"]).read_text(encoding="utf-8"))
    assert m["provenance"]["model_uri"] == "models:/beijing-pm25@champion"
    assert m["provenance"]["mlflow_run_id"] == "run-abc"
    assert m["provenance"]["pmf_mlflow_run_id"] == "pmf-run"
    assert m["provenance"]["data_cutoff"].startswith("2016-12-15T16:00")
    assert any("chemistry" in a for a in m["assumptions"]) and m["units"] == "ug m-3"
    md = Path(res.files["markdown"]).read_text(encoding="utf-8")
    assert "Assumptions" in md and "linear response" in md
    assert len(pd.read_csv(res.files["hourly"])) == 96


def test_cut_from_a_later_hour_and_share_uncertainty(setup):
    cfg = _config(setup["tmp"], setup["pmf"], interval="bootstrap")
    res = run_scenario(
        str(cfg),
        "coal_heating",
        30,
        start="2016-12-17T00:00",
        forecast_file=setup["forecast"],
        out=setup["tmp"] / "out2",
    )
    h = res.hourly
    before = h["time_local"] <= pd.Timestamp("2016-12-17 00:00")
    assert (h.loc[before, "reduction_mean"] == 0).all()
    assert h.loc[~before, "reduction_mean"].to_numpy() == pytest.approx(300 * 0.5 * 0.3)
    # the bootstrap spread (0.8-1.3) widens the reduction band around the same centre
    r = h.loc[~before].iloc[0]
    assert r.reduction_low < 0.85 * 45 and r.reduction_high > 1.15 * 45
    assert res.meta["share"]["relative_interval_5_95"] == pytest.approx([0.8, 1.3])
    # day 1 is untouched, the others lower
    d = res.daily
    assert d["cut_aqi_median"].iloc[0] == pytest.approx(d["baseline_aqi_median"].iloc[0])
    assert (d["cut_aqi_median"].iloc[1:] < d["baseline_aqi_median"].iloc[1:]).all()


def test_hourly_share_departures_from_the_pmf_record_widen_the_hourly_band(setup):
    """A class whose share wanders for hours in the PMF record: ``variability: record`` (the
    default) draws runs of those departures, ``none`` keeps every hour at the typical share."""
    pmf = setup["pmf"]
    g = pd.read_csv(pmf / "contributions_normalised.csv", index_col=0, parse_dates=True)
    rng = np.random.default_rng(0)
    z = np.zeros(len(g))
    for i in range(1, len(z)):
        z[i] = 0.9 * z[i - 1] + 0.44 * rng.standard_normal()
    g["factor_1"] = np.exp(z)
    g.to_csv(pmf / "contributions_normalised.csv")
    out = {}
    for var in ("record", "none"):
        cfg = _config(setup["tmp"], pmf, extra=f"# {var}\n")
        text = cfg.read_text(encoding="utf-8").replace(
            "  interval: none\n", f"  interval: none\n  variability: {var}\n"
        )
        cfg.write_text(text, encoding="utf-8")
        out[var] = run_scenario(
            str(cfg),
            "coal_heating",
            30,
            start="2016-12-16T00:00",
            forecast_file=setup["forecast"],
            out=setup["tmp"] / f"out_{var}",
        )
    rec, none = out["record"], out["none"]
    width = {
        k: (v.hourly["reduction_high"] - v.hourly["reduction_low"]).mean() for k, v in out.items()
    }
    assert width["record"] > 2 * width["none"]
    assert rec.hourly["reduction_mean"].to_numpy() == pytest.approx(
        none.hourly["reduction_mean"].to_numpy()
    )  # the centre is the typical share's
    d = rec.meta["share"]["hourly_deviation"]
    assert d["source"] == "record" and d["samples"] == len(g)
    assert d["relative_10_90"][0] < 0.8 < 1.2 < d["relative_10_90"][1]
    assert none.meta["share"]["hourly_deviation"] == {"source": "none"}
    lo, hi = rec.meta["mean_reduction_after_start_band"]
    assert lo < rec.meta["mean_reduction_after_start"] < hi
    assert hi - lo < width["record"]  # the period's band is narrower than an hour's
    md = Path(rec.files["markdown"]).read_text(encoding="utf-8")
    assert "hour-to-hour departures" in md and "Mean reduction after the cut starts" in md
    assert "hour-to-hour" not in Path(none.files["markdown"]).read_text(encoding="utf-8")


def test_bad_input_is_a_clear_error(setup):
    kw = {"forecast_file": setup["forecast"], "out": setup["tmp"] / "bad"}
    cfg = str(setup["config"])
    with pytest.raises(ScenarioError, match="unknown class 'nuclear'.*coal_heating, traffic"):
        run_scenario(cfg, "nuclear", 30, start="2016-12-16T00:00", **kw)
    with pytest.raises(ScenarioError, match="between 0 and 100"):
        run_scenario(cfg, "coal_heating", 130, start="2016-12-16T00:00", **kw)
    with pytest.raises(ScenarioError, match="outside the forecast"):
        run_scenario(cfg, "coal_heating", 30, start="2016-12-25T00:00", **kw)
    with pytest.raises(ScenarioError, match="contributions_normalised.csv is missing"):
        run_scenario(
            cfg, "coal_heating", 30, start="2016-12-16T00:00", pmf_solution=setup["tmp"], **kw
        )


def test_config_errors_name_file_line_and_field(tmp_path):
    pmf = tmp_path / "pmf"
    bad = _config(tmp_path, pmf, extra="  dust:\n    factors: [1]\n")
    with pytest.raises(ConfigError, match="factor_1 is in both 'coal_heating' and 'dust'"):
        load_scenario_config(str(bad))
    typo = tmp_path / "typo.yml"
    typo.write_text(
        _config(tmp_path, pmf).read_text(encoding="utf-8").replace("ramp_hours", "ramp_hour"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as exc:
        load_scenario_config(str(typo))
    assert "typo.yml" in str(exc.value) and "response.ramp_hour" in str(exc.value)
    assert "typo.yml:13:" in str(exc.value)  # the line of ramp_hour
    spec, _ = load_scenario_config("beijing")  # the bundled file validates
    assert {"coal_heating", "traffic", "industry"} <= set(spec.classes)
    assert spec.run is not None and spec.run.class_ in spec.classes


def test_cli_prints_the_table_and_refuses_bad_input(setup):
    from qingyuan.cli import main

    runner = CliRunner()
    args = ["scenario", "--network", str(setup["config"]), "--forecast", str(setup["forecast"])]
    args += ["--outputs", str(setup["tmp"] / "outputs")]
    ok = runner.invoke(
        main, [*args, "--class", "coal_heating", "--cut", "50", "--from", "2016-12-16T06:00"]
    )
    assert ok.exit_code == 0, ok.output
    assert "PM2.5 baseline" in ok.output and "Warning level" in ok.output
    assert "Assumptions" in ok.output and "no chemistry feedback" in ok.output
    assert (setup["tmp"] / "outputs" / "scenarios" / "beijing").is_dir()
    bad = runner.invoke(
        main, [*args, "--class", "coal_heating", "--cut", "-5", "--from", "2016-12-16T06:00"]
    )
    assert bad.exit_code == 2 and "between 0 and 100" in bad.output
    bad = runner.invoke(
        main, [*args, "--class", "wood", "--cut", "5", "--from", "2016-12-16T06:00"]
    )
    assert bad.exit_code == 2 and "unknown class 'wood'" in bad.output


def test_marker_factors_and_the_bulletin_notes(setup):
    from pipelines.scenario import scenario_notes

    cfg = _config(setup["tmp"], setup["pmf"]).read_text(encoding="utf-8")
    marker = setup["tmp"] / "marker.yml"
    marker.write_text(cfg.replace("factors: [1]", 'factors: ["marker:so2"]'), encoding="utf-8")
    outputs = setup["tmp"] / "outputs"
    res = run_scenario(
        str(marker),
        "coal_heating",
        60,
        start="2016-12-16T00:00",
        forecast_file=setup["forecast"],
        outputs=outputs,
    )
    assert res.meta["factors"] == ["factor_1"]  # the factor with most of the SO2
    assert Path(res.files["json"]).is_relative_to(outputs / "scenarios" / "beijing")
    notes = scenario_notes(outputs, "beijing-2016", "beijing", ISSUE)
    assert len(notes) == 1 and "燃煤采暖" in notes[0] and "-60 %" in notes[0]
    assert "no chemistry feedback" in notes[0]
    assert scenario_notes(outputs, "beijing-2016", "beijing-north", ISSUE) == []
    assert scenario_notes(outputs, "beijing-2016", "beijing", ISSUE + pd.Timedelta(days=1)) == []
    bad = setup["tmp"] / "bad_marker.yml"
    bad.write_text(cfg.replace("factors: [1]", 'factors: ["marker:lead"]'), encoding="utf-8")
    with pytest.raises(ScenarioError, match="marker species 'lead'"):
        run_scenario(
            str(bad), "coal_heating", 10, start="2016-12-16T00:00", forecast_file=setup["forecast"]
        )


def test_by_wind_takes_the_share_of_the_forecast_wind_sector(tmp_path):
    """``share.method: by_wind``: observed wind at the PMF samples, NWP wind at the hours.

    On the north-west-wind days of the PMF record factor 1 carries 80 % of PM2.5, on the
    south-wind days 33 %; the NWP run blows from the north-west for two days, then from the
    south: the share follows (the other methods would give one climatological share).
    """
    from pipelines.ingest import ingest
    from pipelines.nwp.runs import StationRun
    from pipelines.nwp.store import write_runs

    bj = load_network("beijing")
    stations = "\n".join(f"  - {{id: {s.id}, lat: {s.lat}, lon: {s.lon}}}" for s in bj.stations)
    t = pd.date_range("2016-11-01 01:00", periods=24 * 40, freq="h")  # UTC
    nw = (np.arange(len(t)) // 24) % 2 == 0  # alternate days: north-west, south
    rows = [
        f"{tt:%Y-%m-%d %H:%M},{s.id},{315 if w else 180},3.0"
        for s in bj.stations
        for tt, w in zip(t, nw, strict=True)
    ]
    (tmp_path / "obs.csv").write_text(
        "time,site,wd,ws\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    net_file = tmp_path / "windnet.yml"
    net_file.write_text(
        f"""name: windnet
kind: air
time_zone: UTC
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: [obs.csv]
    time_column: time
    station_column: site
    columns:
      wd: {{variable: wind_from_direction, units: degree}}
      ws: {{variable: wind_speed, units: m s-1}}
weather_forecasts:
  - {{name: nwp-test, format: netcdf, files: [nwp/*.nc], latency_hours: 5}}
forecast_weather: {{feed: nwp-test, fallback: no_weather}}
stations:
{stations}
""",
        encoding="utf-8",
    )
    store = tmp_path / "store"
    ingest(str(net_file), store)
    net = load_network(str(net_file))
    leads = np.arange(1, 24 * 4 + 12 + 1)  # the run (issued 12 h before ISSUE) reaches +96 h
    u = np.where(leads <= 48 + 12, 3 * np.sin(np.radians(45)), 0.0)  # from 315 deg: u>0, v<0
    v = np.where(leads <= 48 + 12, -3 * np.cos(np.radians(45)), 3.0)  # from 180 deg: v>0
    ids = net.station_ids()
    run = StationRun(
        feed="nwp-test",
        issue_time=ISSUE - pd.Timedelta(hours=12),
        stations=ids,
        leads=leads.astype(float),
        values={
            "eastward_wind": np.broadcast_to(u, (len(ids), len(leads))).copy(),
            "northward_wind": np.broadcast_to(v, (len(ids), len(leads))).copy(),
        },
        method="station",
    )
    write_runs(store / "windnet", net, [run])
    # PMF contributions: factor 1 four times as strong on the north-west days
    pmf = tmp_path / "pmf"
    pmf.mkdir()
    g = pd.DataFrame(1.0, index=t, columns=["factor_1", "factor_2", "factor_3"])
    g.loc[nw, "factor_1"] = 4.0
    g.loc[~nw, "factor_1"] = 0.5
    g.to_csv(pmf / "contributions_normalised.csv")
    prof = {"factor_1": [100.0, 5.0], "factor_2": [50.0, 1.0], "factor_3": [50.0, 0.0]}
    pd.DataFrame(prof, index=["pm25", "so2"]).to_csv(pmf / "profiles_concentration.csv")
    (pmf / "summary.json").write_text("{}")
    cfg = _config(tmp_path, pmf).read_text(encoding="utf-8")
    cfg = cfg.replace("network: beijing", f"network: {net_file}")
    cfg = cfg.replace("method: hour_of_day", "method: by_wind\n  sectors: 8")
    (tmp_path / "wind.yml").write_text(cfg, encoding="utf-8")
    fc = _forecast(tmp_path / "fc.nc", [300, 300, 300, 300])

    def scenario(store: Path, out: str):
        return run_scenario(
            str(tmp_path / "wind.yml"),
            "coal_heating",
            30,
            start="2016-12-15T16:00",
            forecast_file=fc,
            out=tmp_path / out,
            store=store,
        )

    res = scenario(store, "out")
    share = res.hourly["share_percent"].to_numpy()
    assert share[:48] == pytest.approx(80.0, abs=0.1)  # the NWP's north-west hours
    assert share[48:] == pytest.approx(100 / 3, abs=0.1)  # its south hours
    w = res.meta["share"]["wind"]
    assert w["feed"] == "nwp-test" and w["nwp_issue_time"] == "2016-12-15T04:00Z"
    assert w["hours_with_wind"] == 96 and w["samples_with_wind"] == len(t)
    md = Path(res.files["markdown"]).read_text(encoding="utf-8")
    assert "Share by wind sector: forecast wind for 96 of 96 hours (feed nwp-test" in md
    # without a visible run: the overall share at every hour, and the note says so
    res = scenario(tmp_path / "empty", "out2")
    overall = 100 * (100 * g["factor_1"]).sum() / (100 * g["factor_1"] + 100).sum()
    assert res.hourly["share_percent"].to_numpy() == pytest.approx(overall, abs=0.1)
    assert res.meta["share"]["wind"]["hours_with_wind"] == 0
