"""CLI: ingest, assess, grid, networks, validate on a small synthetic network in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

from qingyuan.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, prefect_harness):
    """A three-station air network ingested through `qingyuan ingest` (three days, hourly)."""
    root = tmp_path_factory.mktemp("cli")
    (root / "data").mkdir()
    hourly_csv(root / "data" / "a.csv", hours=72)
    net = write_network(root, GENERIC_NETWORK.format(name="clinet", files="data/a.csv"), "clinet")
    res = invoke("ingest", "--network", str(net), "--store", str(root / "store"))
    return root, net, res


def test_ingest_reports_json(ingested):
    _, _, res = ingested
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)  # Prefect logs to stderr
    assert report["network"] == "clinet" and report["rows_stored"] == 216 and report["balanced"]


def test_ingest_rejected_file_exits_3(tmp_path, prefect_harness):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    (tmp_path / "data" / "b.csv").write_text("when,site,pm25\n2016-01-01 01:00,A,3\n")
    net = write_network(tmp_path, GENERIC_NETWORK.format(name="rej", files="data/*.csv"), "rej")
    res = invoke("ingest", "--network", str(net), "--store", str(tmp_path / "store"))
    assert res.exit_code == 3, res.output
    assert "REJECTED " in res.output and "b.csv:1" in res.output
    assert "lacks required column" in res.output


def test_ingest_unknown_network_exits_2():
    res = invoke("ingest", "--network", "no-such-network")
    assert res.exit_code == 2 and res.output.startswith("error: ")


def test_assess_writes_daily_aqi(ingested):
    root, net, _ = ingested
    out = root / "outputs"
    res = invoke(
        "assess", "--network", str(net), "--store", str(root / "store"), "--outputs", str(out)
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["kind"] == "air" and set(summary["stations"]) == {"A", "B", "C"}
    assert (out / "clinet_daily_aqi.csv").exists() and Path(summary["grid_file"]).exists()


def test_assess_without_store_exits_2(tmp_path, prefect_harness):
    net = write_network(tmp_path, GENERIC_NETWORK.format(name="empty", files="x.csv"), "empty")
    res = invoke(
        "assess",
        "--network",
        str(net),
        "--store",
        str(tmp_path / "none"),
        "--outputs",
        str(tmp_path),
    )
    assert res.exit_code == 2 and "error: " in res.output


def test_grid_writes_netcdf(ingested, tmp_path):
    root, net, _ = ingested
    out = tmp_path / "g.nc"
    args = ["grid", "--network", str(net), "--store", str(root / "store"), "--out", str(out)]
    res = invoke(*args, "--method", "idw", "--date", "2016-01-02")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out) and out.exists()
    bad = invoke("grid", "--network", str(root / "missing.yml"), "--store", str(root / "store"))
    assert bad.exit_code == 2 and "error: " in bad.output


def test_networks_lists_the_bundled_ones():
    res = invoke("networks")
    assert res.exit_code == 0
    names = {line.split()[0] for line in res.output.splitlines()}
    assert {"beijing", "ndfa"} <= names


def test_validate_one_network(tmp_path):
    ok = invoke("validate", "beijing")
    assert ok.exit_code == 0 and ok.output.startswith("ok: beijing: 12 stations")
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\nkind: air\n")
    res = invoke("validate", str(bad))
    assert res.exit_code == 2 and res.output.startswith(f"error: {bad}")


def test_validate_refuses_a_misspelt_option_and_a_pattern_matching_nothing(tmp_path):
    (tmp_path / "data").mkdir()
    hourly_csv(tmp_path / "data" / "a.csv", hours=24)
    good = GENERIC_NETWORK.format(name="v1", files="data/a.csv")
    assert invoke("validate", str(write_network(tmp_path, good, "v1"))).exit_code == 0
    # a misspelt option would have been ignored: the file is then read with the default
    typo = good.replace("time_column:", "delimter: ';'\n    time_column:", 1)
    assert "delimter" in typo
    res = invoke("validate", str(write_network(tmp_path, typo, "v2")))
    assert res.exit_code == 2
    assert "sources.0.delimter" in res.output and "did you mean 'delimiter'?" in res.output
    line = next(i for i, t in enumerate(typo.splitlines(), 1) if "delimter" in t)
    assert f"v2.yml:{line}" in res.output  # the line of the misspelt key
    # a glob that matches nothing passed as "ok" and failed only at ingest
    nothing = GENERIC_NETWORK.format(name="v3", files="data/a_*.csv")
    res = invoke("validate", str(write_network(tmp_path, nothing, "v3")))
    assert res.exit_code == 2
    assert "sources.0.files" in res.output and "'data/a_*.csv' matches no file" in res.output


def _fake_results(ok: bool):
    return [
        {"file": "configs/networks/beijing.yml", "kind": "network", "ok": True, "message": ""},
        {
            "file": "configs/forecast.yml",
            "kind": "forecast",
            "ok": ok,
            "message": "" if ok else "configs/forecast.yml:3: field 'leads': not an integer",
        },
    ]


@pytest.mark.parametrize("ok", [True, False])
def test_validate_every_file_reports_each(monkeypatch, ok):
    import pipelines.config
    from qingyuan.paths import config_dir

    seen = []
    monkeypatch.setattr(
        pipelines.config,
        "validate_configs",
        lambda d: seen.append(d) or _fake_results(ok),
        raising=False,
    )
    res = invoke("validate")
    assert seen == [config_dir()]
    lines = res.output.splitlines()
    assert lines[0] == "ok: configs/networks/beijing.yml (network)"
    if ok:
        assert res.exit_code == 0 and lines[-1] == "all 2 configuration files valid"
    else:
        assert res.exit_code == 2
        assert lines[1] == (
            "FAILED: configs/forecast.yml (forecast): "
            "configs/forecast.yml:3: field 'leads': not an integer"
        )
        assert lines[-1] == "error: 1 of 2 configuration files failed"


def test_validate_the_bundled_configuration(tmp_path, monkeypatch):
    """Every bundled file passes; a broken copy of one fails with its file and line."""
    import shutil

    import pipelines.config
    from qingyuan.paths import config_dir

    if not hasattr(pipelines.config, "validate_configs"):
        pytest.skip("pipelines.config.validate_configs is not there yet")
    ok = invoke("validate")
    assert ok.exit_code == 0, ok.output
    assert "FAILED" not in ok.output and "networks/beijing.yml" in ok.output
    broken = tmp_path / "configs"
    shutil.copytree(config_dir(), broken)
    net = broken / "networks" / "beijing.yml"
    net.write_text(net.read_text(encoding="utf-8").replace("kind: air", "kind: soil", 1))
    monkeypatch.setenv("QINGYUAN_CONFIG", str(broken))
    bad = invoke("validate")
    assert bad.exit_code != 0 and "FAILED" in bad.output and "beijing.yml" in bad.output
