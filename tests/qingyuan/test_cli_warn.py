"""CLI: warn (decide / status / deliver, exit 3 on an operational alert) and replay."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

import pipelines.flows
import pipelines.warnings.replay
from pipelines.warnings.replay import ReplayResult
from pipelines.warnings.store import WarningStore
from qingyuan.cli import main


def _result(ops_alert=None):
    return {
        "decisions": {
            "beijing": {"action": "issue", "level": "orange", "identifier": "ID-1"},
            "beijing-north": {"action": "none", "level": None, "identifier": None},
        },
        "outputs": {"feed": "feed.json"},
        "ops_alert": ops_alert,
    }


def test_warn_prints_decisions(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: calls.append(a) or _result())
    res = CliRunner().invoke(
        main, ["warn", "--outputs", str(tmp_path), "--as-of", "2016-12-14 01:00"]
    )
    assert res.exit_code == 0, res.output
    assert calls == [("beijing", str(tmp_path), None, "2016-12-14 01:00", None)]
    lines = res.output.splitlines()
    assert lines[:2] == ["beijing: issue orange ID-1", "beijing-north: none"]
    assert json.loads("\n".join(lines[2:])) == {"feed": "feed.json"}


def test_warn_operational_alert_exits_3(monkeypatch, tmp_path):
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: _result("forecast 30 h old"))
    res = CliRunner().invoke(main, ["warn", "--city", "ndfa", "--store", str(tmp_path)])
    assert res.exit_code == 3
    assert "OPERATIONAL ALERT: forecast 30 h old" in res.stderr
    assert "beijing: issue orange ID-1" in res.stdout


def test_warn_status_and_deliver(tmp_path):
    missing = CliRunner().invoke(main, ["warn", "--status", "--outputs", str(tmp_path)])
    assert missing.exit_code == 2
    assert (
        f"error: no warning database at {tmp_path / 'warnings' / 'warnings.db'}" in missing.output
    )
    (tmp_path / "warnings").mkdir()
    WarningStore(tmp_path / "warnings" / "warnings.db")  # an empty database
    status = CliRunner().invoke(main, ["warn", "--status", "--outputs", str(tmp_path)])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert shown["active"] == [] and shown["ops_alerts"] == []
    deliver = CliRunner().invoke(main, ["warn", "--deliver", "--outputs", str(tmp_path)])
    assert deliver.exit_code == 0, deliver.output
    first, rest = deliver.output.split("\n", 1)
    assert isinstance(json.loads(first), dict) and "outbox" in json.loads(rest)


def test_replay_writes_tables(monkeypatch, tmp_path):
    seen = {}

    def fake(city, store_root, start, end, train_end, model, issue_hour):
        seen.update(city=city, start=start, model=model, issue_hour=issue_hour)
        table = pd.DataFrame({"day": ["2016-03-01"], "hit": [True]})
        return ReplayResult(
            city=city,
            model=model,
            window={},
            tables={"beijing": table},
            summaries={"beijing": {"pod": 1.0}},
            log=pd.DataFrame({"step": [1]}),
        )

    monkeypatch.setattr(pipelines.warnings.replay, "replay", fake)
    res = CliRunner().invoke(
        main, ["replay", "--model", "persistence", "--outputs", str(tmp_path), "--store", "s"]
    )
    assert res.exit_code == 0, res.output
    assert seen["city"] == "beijing" and seen["model"] == "persistence"
    out = tmp_path / "replay"
    assert res.output.splitlines() == ['beijing: {"pod": 1.0}', f"tables in {out}"]
    assert pd.read_csv(out / "replay_beijing_persistence_beijing.csv")["hit"].tolist() == [True]
    assert (out / "replay_beijing_persistence_log.csv").exists()


def test_replay_without_a_replay_block_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["replay", "--city", "ndfa", "--outputs", str(tmp_path)])
    assert res.exit_code == 2
    assert "error: ndfa: no `replay:` block in its warning file" in res.output


def test_warn_unknown_city_fails_before_any_flow_runs(monkeypatch, tmp_path):
    def never(*args, **kwargs):
        raise AssertionError("the flow must not start for an unknown warning file")

    monkeypatch.setattr(pipelines.flows, "warn_flow", never)
    res = CliRunner().invoke(main, ["warn", "--city", "nosuch", "--outputs", str(tmp_path)])
    assert res.exit_code == 2
    assert "no warning scheme or city 'nosuch'" in res.output


def test_warn_says_when_every_delivery_failed_and_exits_3(monkeypatch, tmp_path):
    failed = _result() | {"delivery": {"delivered": 0, "failed": 2, "dead": 0}}
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: failed)
    res = CliRunner().invoke(main, ["warn", "--outputs", str(tmp_path)])
    assert res.exit_code == 3
    assert "delivery: 0 delivered, 2 failed, 0 dead" in res.stderr
    assert "DELIVERY FAILED: every delivery failed (2 message(s)" in res.stderr
    # one failure among deliveries that worked is retried quietly; a message given up is not
    some = _result() | {"delivery": {"delivered": 3, "failed": 1, "dead": 0}}
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: some)
    assert CliRunner().invoke(main, ["warn", "--outputs", str(tmp_path)]).exit_code == 0
    dead = _result() | {"delivery": {"delivered": 3, "failed": 0, "dead": 1}}
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: dead)
    res = CliRunner().invoke(main, ["warn", "--outputs", str(tmp_path)])
    assert res.exit_code == 3 and "1 outbox message(s) given up" in res.stderr


def test_warn_rerun_of_a_decided_issue_time_says_unchanged(monkeypatch, tmp_path):
    again = _result()
    again["decisions"]["beijing"]["duplicate"] = True
    monkeypatch.setattr(pipelines.flows, "warn_flow", lambda *a: again)
    res = CliRunner().invoke(main, ["warn", "--outputs", str(tmp_path)])
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first == "beijing: unchanged (this issue time was already decided: issue orange ID-1)"
