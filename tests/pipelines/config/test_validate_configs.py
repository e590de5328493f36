"""Every configuration file has a schema: the shipped files load, a typo names file, line, field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.config import config_dir, validate_configs
from pipelines.config.validate import KINDS

SHIPPED = config_dir()


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    dst = tmp_path / "configs"
    shutil.copytree(SHIPPED, dst)
    return dst


def test_every_shipped_file_is_valid():
    records = validate_configs(SHIPPED)
    bad = [r["message"] for r in records if not r["ok"]]
    assert not bad, bad
    kinds = {r["kind"] for r in records}
    assert kinds == set(KINDS)  # one record per file, every kind present
    files = {Path(r["file"]) for r in records}
    shipped = {p.resolve() for p in SHIPPED.rglob("*.yml")}
    assert files == shipped
    assert all(r["message"] and "\n" not in r["message"] for r in records)


# kind, file, text replaced, replacement, field named in the error
TYPOS = [
    (
        "forecast",
        "forecast.yml",
        "max_data_age_hours: 6",
        "max_data_age_hour: 6",
        "max_data_age_hour",
    ),
    (
        "forecast",
        "forecast.yml",
        "    issue_stride: 6",
        "    issue_strid: 6",
        "backtest.ndfa.issue_strid",
    ),
    ("forecast", "forecast.yml", "    leads: 72", "    lead: 72", "networks.ndfa.lead"),
    ("source", "source.yml", "    last_days: 365", "    last_day: 365", "run.beijing.last_day"),
    (
        "schedules",
        "schedules.yml",
        '    cron: "10 * * * *"',
        '    cronn: "10 * * * *"',
        "deployments.0.cronn",
    ),
    ("model", "models/lightgbm.yml", "register: true", "registr: true", "registr"),
    ("qc", "qc.yml", "    min_periods: 24", "    min_period: 24", "checks.spike_self.min_period"),
    (
        "variables",
        "variables.yml",
        "    long_name: PM2.5 mass concentration",
        "    longname: PM2.5 mass concentration",
        "variables.pm25.longname",
    ),
    ("standard", "standards/hj633_2012.yml", "max_index: 500", "max_indx: 500", "max_indx"),
    (
        "standard",
        "standards/gb3838_2002.yml",
        "{direction: min,",
        "{direction: least,",
        "parameters.dissolved_oxygen.direction",
    ),
    ("network", "networks/beijing.yml", "frequency: 1h", "frequncy: 1h", "frequncy"),
    ("river", "rivers/ndfa.yml", "sinuosity: 1.2", "sinuosty: 1.2", "sinuosty"),
    ("warning", "warnings/ndfa.yml", "cap_status: Actual", "cap_statuss: Actual", "cap_statuss"),
]


@pytest.mark.parametrize(("kind", "name", "old", "new", "field"), TYPOS)
def test_a_typo_names_file_line_and_field(cfg, kind, name, old, new, field):
    path = cfg / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if new in ln)
    records = {r["file"]: r for r in validate_configs(cfg)}
    rec = records[str(path.resolve())]
    assert rec["kind"] == kind and not rec["ok"]
    assert f"{path.resolve()}:{line}: field '{field}'" in rec["message"], rec["message"]
    # files that need the broken one (a river its network, an edition the one it inherits) fail
    # too, and name the broken file; all others pass
    others = [r for f, r in records.items() if f != str(path.resolve()) and not r["ok"]]
    assert all(str(path.resolve()) in r["message"] for r in others), [r["message"] for r in others]


def test_bad_values_are_refused(cfg):
    (cfg / "schedules.yml").write_text(
        "time_zone: Mars/Olympus\ndeployments:\n  - {name: a, flow: hourly, cron: '10 * * *'}\n"
    )
    (cfg / "source.yml").write_text("run:\n  beijing:\n    percentile: 175\n")
    rec = {Path(r["file"]).name: r for r in validate_configs(cfg)}
    assert (
        "schedules.yml:1: field 'time_zone': Value error, unknown time zone"
        in rec["schedules.yml"]["message"]
    )
    assert "source.yml:3: field 'run.beijing.percentile'" in rec["source.yml"]["message"]


def test_missing_required_file_and_unknown_run_network(cfg):
    (cfg / "qc.yml").unlink()
    text = (cfg / "forecast.yml").read_text(encoding="utf-8")
    (cfg / "forecast.yml").write_text(
        text + "run_networks: [beijing, atlantis]\n", encoding="utf-8"
    )
    rec = {Path(r["file"]).name: r for r in validate_configs(cfg)}
    assert not rec["qc.yml"]["ok"] and "file not found" in rec["qc.yml"]["message"]
    assert not rec["forecast.yml"]["ok"] and "atlantis" in rec["forecast.yml"]["message"]


def test_validate_does_not_leak_the_config_dir(cfg, monkeypatch):
    monkeypatch.delenv("QINGYUAN_CONFIG", raising=False)
    before = config_dir()
    validate_configs(cfg)
    assert config_dir() == before
