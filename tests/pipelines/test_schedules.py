"""Scheduled runs: configs/schedules.yml becomes Prefect deployments with cron schedules."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipelines.config import load_yaml, plain
from pipelines.flows import FLOWS, build_deployments
from qingyuan.cli import main
from qingyuan.paths import config_dir


def test_deployments_from_config():
    cfg = plain(load_yaml(config_dir() / "schedules.yml"))
    deps = build_deployments(cfg)
    by_name = {d.name: d for d in deps}
    assert set(by_name) == {
        "hourly-ingest-forecast",
        "daily-warning",
        "ingest-water",
        "water-alerts",
        "outbox-retry",
        "weekly-retrain",
        "nightly-soil",
    }
    assert by_name["water-alerts"].parameters == {"city": "ndfa"}  # a water warning file
    daily = by_name["daily-warning"]
    sched = daily.schedules[0].schedule
    assert sched.cron == "30 15 * * *" and sched.timezone == "Asia/Shanghai"
    assert daily.parameters == {"city": "beijing"}
    assert by_name["weekly-retrain"].parameters["test_days"] == 60
    # the soil networks (issue #18) are a scheduled flow like the station networks
    assert by_name["nightly-soil"].parameters == {"networks": ["meuse_soil"]}
    assert FLOWS["soil"].name == "soil"
    # retries are part of the flows themselves
    assert FLOWS["hourly"].retries == 2 and FLOWS["retrain"].retries == 1


def test_unknown_flow_is_refused():
    with pytest.raises(KeyError, match="unknown flow"):
        build_deployments({"deployments": [{"name": "x", "flow": "nope", "cron": "* * * * *"}]})


def test_cli_serve_dry_run_lists_schedules():
    res = CliRunner().invoke(main, ["serve", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "daily-warning: flow warn, cron '30 15 * * *'" in res.output
