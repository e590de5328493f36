"""CLI: the group, ``python -m qingyuan``, ``run``, ``serve``, ``water assess`` and the error types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import pipelines.flows
from pipelines.errors import ConfigError
from qingyuan.cli import main
from qingyuan.cli.errors import AlertRaised, CommandError, FilesRejected, failing_on

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--help"], "trace"),
        (["trace", "--help"], "trajectory"),
        (["water", "--help"], "network"),
        (["attribute", "--help"], "drivers"),
    ],
)
def test_python_m_qingyuan(args, expect):
    res = subprocess.run(
        [sys.executable, "-m", "qingyuan", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Usage: qingyuan") and expect in res.stdout


def test_python_m_qingyuan_cli_reaches_every_group():
    res = subprocess.run(
        [sys.executable, "-m", "qingyuan.cli", "attribute", "drivers", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 0 and "--forecast" in res.stdout, res.stderr


def test_every_command_has_help():
    runner = CliRunner()
    for name, cmd in main.commands.items():
        res = runner.invoke(main, [name, "--help"])
        assert res.exit_code == 0, (name, res.output)
        for sub in getattr(cmd, "commands", {}):
            assert runner.invoke(main, [name, sub, "--help"]).exit_code == 0, (name, sub)


def test_error_types_and_exit_codes():
    assert (CommandError.exit_code, FilesRejected.exit_code, AlertRaised.exit_code) == (2, 3, 3)
    assert issubclass(CommandError, click.ClickException)

    @click.command()
    @click.option("--kind", default="config")
    def cmd(kind):
        if kind == "alert":
            raise AlertRaised("stale")
        with failing_on(ConfigError, KeyError):
            raise ConfigError("x.yml", 3, "f", "bad") if kind == "config" else KeyError("k")

    res = CliRunner().invoke(cmd, [])
    assert res.exit_code == 2 and res.stderr == "error: x.yml:3: field 'f': bad\n"
    assert CliRunner().invoke(cmd, ["--kind", "key"]).stderr == "error: 'k'\n"
    alert = CliRunner().invoke(cmd, ["--kind", "alert"])
    assert alert.exit_code == 3 and alert.stderr == "OPERATIONAL ALERT: stale\n"


def test_run_prints_the_summary(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(pipelines.flows, "run_flow", lambda *a: calls.append(a) or {"networks": {}})
    res = CliRunner().invoke(
        main, ["run", "--network", "ndfa", "--outputs", str(tmp_path), "--store", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert calls == [(["ndfa"], str(tmp_path), str(tmp_path))]
    assert res.output.startswith("# Qingyuan run summary")
    assert f"Outputs written to {tmp_path.resolve()} (summary.md" in res.output


def test_run_error_exits_2(monkeypatch, tmp_path):
    def fail(*a):
        raise ConfigError("configs/networks/x.yml", 2, "kind", "unknown")

    monkeypatch.setattr(pipelines.flows, "run_flow", fail)
    res = CliRunner().invoke(main, ["run", "--outputs", str(tmp_path)])
    assert res.exit_code == 2
    assert "error: configs/networks/x.yml:2: field 'kind': unknown" in res.output


def test_serve_refuses_an_unknown_flow(monkeypatch, tmp_path):
    cfg = tmp_path / "configs"
    cfg.mkdir()
    (cfg / "schedules.yml").write_text(
        "deployments:\n  - {name: x, flow: nope, cron: '* * * * *'}\n", encoding="utf-8"
    )
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))
    res = CliRunner().invoke(main, ["serve", "--dry-run"])
    assert res.exit_code == 2 and "unknown flow 'nope'" in res.output


def test_water_assess_prints_shares(monkeypatch, tmp_path):
    rating = pd.DataFrame({"week": ["w1", "w2"], "rating": ["优", None]})
    files = {"weekly": tmp_path / "w.csv", "rating": tmp_path / "r.csv"}
    out = {"shares": {"LIS": {"share": 0.75, "weeks": 8}}, "rating": rating, "files": files}
    monkeypatch.setattr(pipelines.flows, "water_assess_job", lambda *a: out)
    res = CliRunner().invoke(main, ["water", "assess"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "  LIS        weeks meeting target: 75% (8 weeks)"
    assert "w1" in res.output and "w2" not in res.output
    assert lines[-1] == f"tables: {files['weekly']}, {files['rating']}"
