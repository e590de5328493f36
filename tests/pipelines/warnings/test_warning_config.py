"""The warning schema holds every default: loaded schemes carry complete blocks."""

from __future__ import annotations

import shutil

import pytest

from pipelines.config import config_dir
from pipelines.config.warnings import OutboxSettings, load_warning_config
from pipelines.errors import ConfigError


def test_loaded_blocks_are_complete():
    scheme, city = load_warning_config("beijing")
    assert set(scheme.decision) == {
        "confidence",
        "upper_bound_from_days",
        "upper_quantile",
        "min_lead_hours",
        "lift_clear_hours",
        "merge_gap_days",
    }
    assert scheme.verification == {
        "heavy_aqi_above": 200.0,
        "episode_min_days": 2,
        "warned_ahead_hours": 24.0,
    }
    assert scheme.water == {}
    assert city.outbox == OutboxSettings()
    water, _ = load_warning_config("ndfa")
    assert water.water["max_data_age_hours"] == 12 and water.water["standard"] == "gb3838-2002"
    assert water.decision["lift_clear_hours"] == 24  # the file's value
    assert water.decision["confidence"] == 0.5  # the schema's default
    assert all(t["readings"] >= 1 and t["units"] for t in water.water["thresholds"])


def _copy(tmp_path, monkeypatch, name, old, new):
    cfg = tmp_path / "configs"
    shutil.copytree(config_dir(), cfg)
    f = cfg / "warnings" / name
    text = f.read_text(encoding="utf-8")
    assert old in text
    f.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setenv("QINGYUAN_CONFIG", str(cfg))


def test_a_city_may_override_the_verification_defaults(tmp_path, monkeypatch):
    _copy(
        tmp_path,
        monkeypatch,
        "beijing.yml",
        "subscribers: []",
        "subscribers: []\nverification: {heavy_aqi_above: 150}",
    )
    f = tmp_path / "configs" / "warnings" / "beijing.yml"
    f.write_text(f.read_text().replace("  max_attempts: 8", "  max_attempts: 3"))
    scheme, city = load_warning_config("beijing")
    assert scheme.verification == {
        "heavy_aqi_above": 150.0,
        "episode_min_days": 2,
        "warned_ahead_hours": 24.0,
    }
    assert city.outbox == OutboxSettings(max_attempts=3, backoff_s=30)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("  episode_min_days: 2", "  episode_days: 2", "verification.episode_days"),
        ("  episode_min_days: 2", "  episode_min_days: 0", "verification.episode_min_days"),
    ],
)
def test_bad_verification_block_names_file_and_field(tmp_path, monkeypatch, old, new, field):
    _copy(tmp_path, monkeypatch, "national_2018.yml", old, new)
    with pytest.raises(ConfigError) as exc:
        load_warning_config("beijing")
    assert "national_2018.yml" in str(exc.value) and field in str(exc.value)


def test_unknown_outbox_setting_is_refused(tmp_path, monkeypatch):
    _copy(tmp_path, monkeypatch, "beijing.yml", "  backoff_s: 30", "  backof_s: 30")
    with pytest.raises(ConfigError, match="outbox.backof_s"):
        load_warning_config("beijing")
