"""Backtest, MLflow tracking, champion alias and issued forecasts on a small synthetic network."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_helpers import GENERIC_NETWORK, write_network

from pipelines.ingest import ingest

ROOT = Path(__file__).resolve().parents[3]  # the checkout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A 3-station network with 150 days of AR(1) PM data, ingested; MLflow under a temp root."""
    tmp = tmp_path_factory.mktemp("fc")
    rng = np.random.default_rng(3)
    times = pd.date_range("2016-01-01 01:00", periods=24 * 150, freq="h")
    rows = []
    a = np.zeros(3)
    for i, t in enumerate(times):
        a = 0.97 * a + rng.normal(0, 8, 3)
        base = 60 + 20 * np.sin(2 * np.pi * i / 24)
        for s, st in enumerate("ABC"):
            v = max(base + a[s], 1.0)
            rows.append(f"{t:%Y-%m-%d %H:%M},{st},{v:.1f},{1.5 * v:.1f},{v / 80:.2f}")
    (tmp / "data").mkdir()
    (tmp / "data" / "x.csv").write_text("time,site,pm25,pm10,co\n" + "\n".join(rows) + "\n")
    net = write_network(tmp, GENERIC_NETWORK.format(name="fcnet", files="data/x.csv"), "fcnet")
    ingest(str(net), tmp / "store", now=pd.Timestamp("2030-01-01", tz="UTC"))
    mp = pytest.MonkeyPatch()
    mp.setenv("QINGYUAN_HOME", str(tmp))
    mp.setenv("QINGYUAN_CONFIG", str(ROOT / "configs"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(tmp / 'mlruns' / 'mlflow.db').resolve()}")
    yield tmp, str(net)
    mp.undo()


@pytest.fixture(scope="module")
def backtested(env):
    from pipelines.forecast.jobs import backtest_network

    tmp, net = env
    res = backtest_network(
        net,
        tmp / "store",
        targets=["pm25"],
        start="2016-04-15",
        end="2016-05-29",
        train_end="2016-04-14",
        models=["persistence", "climatology", "lightgbm"],
        out_dir=tmp / "out",
    )
    return tmp, net, res["pm25"]


def test_backtest_table_and_artifacts(backtested):
    tmp, _, res = backtested
    t = res.table
    assert set(t["model"]) == {"persistence", "climatology", "lightgbm"}
    assert set(t["lead"]) == set(range(1, 97))  # configs/forecast.yml: leads 96
    lgb_rmse = t[t.model == "lightgbm"].set_index("lead")["rmse"]
    per = t[t.model == "persistence"].set_index("lead")["rmse"]
    assert lgb_rmse[12] < per[12]
    assert (tmp / "out" / "backtest_fcnet_pm25.csv").exists()
    assert (tmp / "out" / "skill_fcnet_pm25.png").stat().st_size > 10_000
    assert (tmp / "out" / "reliability_fcnet_pm25.png").stat().st_size > 10_000
    assert (tmp / "out" / "forecast_fcnet_pm25_lightgbm_A_24h.png").exists()
    daily = pd.read_csv(tmp / "out" / "backtest_daily_fcnet.csv")
    assert set(daily["model"]) == {"persistence", "climatology", "lightgbm"}
    assert set(daily["day"]) == {1, 2, 3}
    assert daily["rmse_pm25_24h"].notna().all()


def test_mlflow_runs_metrics_and_champion(backtested):
    tmp, _, _ = backtested
    assert mlflow.get_tracking_uri() == f"sqlite:///{(tmp / 'mlruns' / 'mlflow.db').resolve()}"
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("qingyuan-forecast")
    every = client.search_runs([exp.experiment_id])
    runs = [r for r in every if r.data.tags["kind"] == "backtest"]
    assert {r.data.tags["model"] for r in runs} == {"persistence", "climatology", "lightgbm"}
    (daily,) = [r for r in every if r.data.tags["kind"] == "backtest-daily"]
    steps = client.get_metric_history(daily.info.run_id, "lightgbm.rmse_pm25_24h")
    assert sorted(m.step for m in steps) == [1, 2, 3]
    lgb_run = next(r for r in runs if r.data.tags["model"] == "lightgbm")
    history = client.get_metric_history(lgb_run.info.run_id, "rmse")
    assert sorted(m.step for m in history) == list(range(1, 97))
    assert lgb_run.data.tags["data_window"] and lgb_run.data.tags["code_version"]
    champ = client.get_model_version_by_alias("fcnet-pm25", "champion")
    assert champ.run_id == lgb_run.info.run_id


def _rerun(backtested, start: str, models: list[str]) -> None:
    from pipelines.forecast.jobs import backtest_network

    tmp, net, _ = backtested
    backtest_network(
        net,
        tmp / "store",
        targets=["pm25"],
        start=start,
        end="2016-05-29",
        train_end="2016-04-14",
        models=models,
    )


def test_challenger_with_same_score_does_not_replace_champion(backtested):
    _rerun(backtested, "2016-04-15", ["persistence", "lightgbm"])
    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name='fcnet-pm25'")
    assert len(versions) == 2
    assert str(client.get_model_version_by_alias("fcnet-pm25", "champion").version) == "1"
    v2 = client.get_model_version("fcnet-pm25", "2")
    assert v2.tags["challenger_result"].startswith("lost")


def test_champion_is_rescored_on_a_different_backtest(backtested):
    _rerun(backtested, "2016-04-20", ["lightgbm"])
    client = mlflow.MlflowClient()
    champ = client.get_model_version_by_alias("fcnet-pm25", "champion")
    assert "2016-04-19" in champ.tags["backtest_key"]  # 2016-04-20 local = 04-19 16:00 UTC
    v3 = client.get_model_version("fcnet-pm25", "3")
    assert v3.tags["backtest_key"] == champ.tags["backtest_key"]


def test_forecast_file_has_provenance(backtested):
    from pipelines.forecast.jobs import issue_forecast

    tmp, net, _ = backtested
    path = issue_forecast(net, tmp / "store", "2016-05-20 08:00", tmp / "out", targets=["pm25"])
    with xr.open_dataset(path) as ds:
        assert ds["pm25_quantile"].dims == ("station", "issue_time", "lead_time", "quantile")
        assert ds.sizes["lead_time"] == 96 and ds.sizes["station"] == 3
        assert ds.attrs["issue_time"] == "2016-05-20T00:00:00Z"
        assert ds.attrs["data_cutoff"] == "2016-05-20T00:00:00Z"
        assert "models:/fcnet-pm25@champion" in ds.attrs["model_uris"]
        champ = mlflow.MlflowClient().get_model_version_by_alias("fcnet-pm25", "champion")
        assert champ.run_id in ds.attrs["mlflow_run_ids"]
        q = ds["pm25_quantile"].values
        assert np.all(np.diff(q, axis=-1) >= 0) and np.isfinite(q).all()
        # the LightGBM champion's driver attribution (pollutants from the variable registry)
        from models.forecast.drivers import GROUPS

        assert ds["pm25_drivers"].dims == ("station", "issue_time", "lead_time", "driver")
        assert [str(g) for g in ds["driver"].values] == list(GROUPS)
        assert np.isfinite(ds["pm25_drivers"].values).all()
        assert ds["pm25_input_recent"].values.tolist() == [1, 1, 1]
    assert [p.name for p in path.parent.iterdir() if not p.name.endswith("Z.nc")] == []


def test_forecast_refuses_stale_or_unknown(backtested):
    from pipelines.forecast.jobs import issue_forecast

    tmp, net, _ = backtested
    with pytest.raises(ValueError, match="no data"):
        issue_forecast(net, tmp / "store", "2018-01-01 08:00", tmp / "out", targets=["pm25"])
    with pytest.raises(KeyError, match="unknown station"):
        issue_forecast(
            net, tmp / "store", "2016-05-20 08:00", tmp / "out", targets=["pm25"], stations=["Z"]
        )


def test_corrupt_champion_fails_loudly_then_falls_back_if_allowed(backtested):
    from pipelines.forecast.jobs import issue_forecast

    tmp, net, _ = backtested
    client = mlflow.MlflowClient()
    champ = client.get_model_version_by_alias("fcnet-pm25", "champion")
    src = Path(
        client.get_model_version_download_uri("fcnet-pm25", champ.version).removeprefix("file://")
    )
    shutil.rmtree(src)
    with pytest.raises(RuntimeError, match="cannot load champion"):
        issue_forecast(net, tmp / "store", "2016-05-20 08:00", tmp / "out", targets=["pm25"])
    path = issue_forecast(
        net, tmp / "store", "2016-05-20 08:00", tmp / "out", targets=["pm25"], allow_fallback=True
    )
    with xr.open_dataset(path) as ds:
        assert "models:/fcnet-pm25/3" in ds.attrs["model_uris"]  # newest version that loads


def test_unknown_target_or_model_is_refused_by_name(env):
    from pipelines.errors import ConfigError
    from pipelines.forecast.jobs import backtest_network

    tmp, net = env
    kw = dict(start="2016-04-15", end="2016-05-29", train_end="2016-04-14")
    with pytest.raises(ValueError, match="target 'so2' is not a stored variable"):
        backtest_network(
            net, tmp / "store", targets=["so2"], models=["persistence"], log_to_mlflow=False, **kw
        )
    with pytest.raises(ConfigError, match=r"no_such_model\.yml.*(file not found|no such model)"):
        backtest_network(
            net,
            tmp / "store",
            targets=["pm25"],
            models=["no_such_model"],
            log_to_mlflow=False,
            **kw,
        )


def test_network_yaml_window_and_the_table_keeps_other_models(backtested, capsys):
    """The window comes from the network's own YAML; a partial re-run replaces only its models."""
    from pipelines.forecast.jobs import backtest_network

    tmp, net, _ = backtested
    path = Path(net)
    original = path.read_text()
    table = tmp / "out" / "backtest_fcnet_pm25.csv"
    try:
        path.write_text(
            original
            + "backtest: {train_end: 2016-04-14, test_start: 2016-04-15, test_end: 2016-05-29}\n"
        )
        res = backtest_network(
            net, tmp / "store", targets=["pm25"], models=["persistence", "lightgbm"],
            log_to_mlflow=False, out_dir=tmp / "out",
        )  # fmt: skip
        assert res["pm25"].window["test_start"].startswith("2016-04-14 16:00")  # local 04-15
        out = capsys.readouterr().out
        # the network has no wind or weather: the model says it runs without them
        assert "fcnet: lightgbm expects wind_u, wind_v, air_temperature" in out
        t = pd.read_csv(table)
        assert set(t["model"]) == {"persistence", "climatology", "lightgbm"}  # climatology kept
        assert t.groupby("model")["lead"].count().eq(96).all()
        path.write_text(
            original
            + "backtest: {train_end: 2016-04-14, test_start: 2016-04-20, test_end: 2016-05-29}\n"
        )
        backtest_network(
            net, tmp / "store", targets=["pm25"], models=["persistence"], log_to_mlflow=False,
            out_dir=tmp / "out",
        )  # fmt: skip
        assert "rows of climatology, lightgbm dropped (another backtest window)" in (
            capsys.readouterr().out
        )
        assert set(pd.read_csv(table)["model"]) == {"persistence"}
    finally:
        path.write_text(original)


def test_a_failed_model_leaves_a_failed_mlflow_run(backtested, monkeypatch, capsys):
    from models.forecast.base import FORECASTERS, Forecaster
    from pipelines.forecast import jobs

    class Broken(Forecaster):
        def fit(self, panel, train_end):
            raise RuntimeError("out of memory")

    monkeypatch.setitem(FORECASTERS, "broken", Broken)
    real = jobs.model_configs
    monkeypatch.setattr(
        jobs,
        "model_configs",
        lambda names: (
            real([n for n in names if n != "broken"])
            | {"broken": {"forecaster": "broken", "register": False, "params": {}}}
        ),
    )
    tmp, net, _ = backtested
    res = jobs.backtest_network(
        net, tmp / "store", targets=["pm25"], start="2016-05-01", end="2016-05-29",
        train_end="2016-04-14", models=["persistence", "broken"],
    )  # fmt: skip
    assert (
        "fcnet pm25: model broken FAILED (RuntimeError: out of memory)" in capsys.readouterr().out
    )
    assert set(res["pm25"].table["model"]) == {"persistence"}
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("qingyuan-forecast")
    (run,) = client.search_runs([exp.experiment_id], "tags.model = 'broken'")
    assert run.info.status == "FAILED" and run.data.tags["error"] == "RuntimeError: out of memory"
