"""CLI: backtest, train, forecast - argument parsing, printing and error exits (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import pipelines.flows
import pipelines.forecast.jobs
from qingyuan.cli import main
from qingyuan.cli.forecast import backtest_text

TABLES = {
    "pm25": {
        "model": ["persistence", "persistence", "lightgbm", "lightgbm"],
        "lead": [1, 5, 1, 5],
        "rmse": [10.12345, 20.0, 8.0, 15.0],
        "mae": [7.0, 14.0, 6.0, 11.0],
    },
    "daily": {"model": ["lightgbm"], "day": ["D+1"], "rmse_aqi": [22.2222]},
}


def test_backtest_text_keeps_the_reported_leads():
    text = backtest_text(TABLES, [1, 24])
    lines = text.splitlines()
    assert lines[:2] == ["", "pm25"]
    assert "10.123" in text and "20.0" not in text  # lead 5 is not reported
    assert "daily AQI, D+1..D+3" in text and "22.222" in text
    assert TABLES["daily"]  # the input is not consumed
    assert backtest_text({}, [1]) == ""
    # a daily AQI from fewer than the six pollutants says so
    partial = backtest_text({**TABLES, "daily_targets": ["pm25"]}, [1])
    assert "daily AQI, D+1..D+3 (from pm25 only: the AQI of the pollutants backtested" in partial


def test_backtest_passes_its_options_to_the_flow(monkeypatch, tmp_path):
    calls = []

    def fake(*args):
        calls.append(args)
        return dict(TABLES)

    monkeypatch.setattr(pipelines.flows, "backtest_flow", fake)
    res = CliRunner().invoke(
        main,
        [
            "backtest",
            "--network",
            "beijing",
            "--target",
            "pm25",
            "--model",
            "persistence",
            "--start",
            "2016-03-01",
            "--store",
            str(tmp_path / "s"),
            "--outputs",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert calls == [
        (
            "beijing",
            str(tmp_path / "s"),
            ["pm25"],
            "2016-03-01",
            None,
            None,
            str(tmp_path / "o"),
            ["persistence"],
        )
    ]
    assert "pm25" in res.output and "daily AQI" in res.output


def test_backtest_with_a_failed_model_prints_the_scores_and_exits_3(monkeypatch):
    failed = {"pm25": {"mlforecast_default": "ValueError: Input data must be 2 dimensional"}}
    monkeypatch.setattr(pipelines.flows, "backtest_flow", lambda *a: {**TABLES, "failed": failed})
    res = CliRunner().invoke(main, ["backtest", "--network", "beijing"])
    assert res.exit_code == 3 and "10.123" in res.output
    assert (
        "MODEL FAILED: pm25 mlforecast_default: ValueError: Input data must be 2 dimensional "
        "(the other models were scored and logged)"
    ) in res.output


@pytest.mark.parametrize("command", ["backtest", "train"])
def test_backtest_and_train_unknown_network_exit_2(command, prefect_harness):
    res = CliRunner().invoke(main, [command, "--network", "no-such-network"])
    assert res.exit_code == 2 and "error: " in res.output and "no-such-network" in res.output


def test_train_reports(monkeypatch):
    monkeypatch.setattr(pipelines.flows, "backtest_flow", lambda *a: {})
    res = CliRunner().invoke(main, ["train", "--target", "pm25", "--train-end", "2016-02-28"])
    assert res.exit_code == 0 and res.output.startswith("trained;")


def test_forecast_prints_the_file(monkeypatch, tmp_path):
    seen = {}

    def fake(network, store, issue_time, out, targets):
        seen.update(network=network, store=store, issue=issue_time, out=out, targets=targets)
        return out / "f.nc"

    monkeypatch.setattr(pipelines.forecast.jobs, "issue_forecast", fake)
    res = CliRunner().invoke(
        main,
        [
            "forecast",
            "--issue-time",
            "2017-02-20 08:00",
            "--target",
            "pm25",
            "--store",
            str(tmp_path),
            "--outputs",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(tmp_path / "f.nc")
    assert seen == {
        "network": "beijing",
        "store": Path(tmp_path),
        "issue": "2017-02-20 08:00",
        "out": Path(tmp_path),
        "targets": ["pm25"],
    }


def test_forecast_errors():
    missing = CliRunner().invoke(main, ["forecast"])
    assert missing.exit_code == 2 and "--issue-time" in missing.output
    res = CliRunner().invoke(
        main, ["forecast", "--network", "no-such-network", "--issue-time", "2017-01-01"]
    )
    assert res.exit_code == 2 and res.output.startswith("error: ")
