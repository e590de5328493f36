"""Server mode (issue #15): a real MLflow tracking server and a real Prefect server on PostgreSQL.

Each server runs as a subprocess on 127.0.0.1 with its own database on the session's throw-away
PostgreSQL (``postgres`` fixture). MLflow: the project's backtest logs a run, registers the
model and moves the ``champion`` alias through the server, and the forecast job loads the
champion back through it (artifacts proxied into a temporary folder). Prefect: ``qingyuan
serve`` registers the deployments of ``configs/schedules.yml`` with the server and runs one
of them when asked; the server's database holds the deployments and the completed flow run.
Anything touching ``PREFECT_API_URL`` runs in subprocesses with their own environment, so
the session's Prefect test harness is left alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import xarray as xr
from qy_helpers import GENERIC_NETWORK, write_network

ROOT = Path(__file__).resolve().parents[2]  # the checkout
BIN = Path(sys.executable).parent  # the venv's console scripts (mlflow, prefect, qingyuan)
STARTUP_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Prefect setting of this process, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return env | extra


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path, *, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200 (raise with the server's log when it dies or hangs)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not healthy after {timeout_s:.0f} s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """Interrupt a server (its children too: own process group), kill it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _start(cmd: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as fh:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
            start_new_session=True,
        )


# --------------------------------------------------------------------------------------- MLflow


@pytest.fixture(scope="module")
def mlflow_server(postgres, tmp_path_factory) -> Iterator[tuple[str, str, Path]]:
    """``mlflow server`` on a PostgreSQL backend store; yield (URL, database name, artifacts)."""
    tmp = tmp_path_factory.mktemp("mlflow-server")
    db_url = postgres.new_database("mlflow")
    artifacts = tmp / "artifacts"
    port = _free_port()
    log = tmp / "mlflow-server.log"
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", db_url]
    cmd += ["--artifacts-destination", str(artifacts), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", "1"]
    proc = _start(cmd, env=_clean_env(), log=log)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(proc, f"{url}/health", log, timeout_s=STARTUP_S)
        yield url, db_url.rsplit("/", 1)[1], artifacts
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def served_network(tmp_path_factory) -> Iterator[tuple[Path, str]]:
    """A 3-station network, 70 days of AR(1) PM data, ingested; configs with a registered model.

    ``configs/models/served.yml`` (a copy of the checkout's configs) registers the persistence
    forecaster, so that the backtest's registration and champion path runs in a second.
    """
    from pipelines.ingest import ingest

    tmp = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(5)
    times = pd.date_range("2016-01-01 01:00", periods=24 * 70, freq="h")
    a = np.zeros(3)
    rows = []
    for i, t in enumerate(times):
        a = 0.95 * a + rng.normal(0, 6, 3)
        base = 50 + 15 * np.sin(2 * np.pi * i / 24)
        for s, st in enumerate("ABC"):
            v = max(base + a[s], 1.0)
            rows.append(f"{t:%Y-%m-%d %H:%M},{st},{v:.1f},{1.4 * v:.1f},{v / 80:.2f}")
    (tmp / "data").mkdir()
    (tmp / "data" / "x.csv").write_text("time,site,pm25,pm10,co\n" + "\n".join(rows) + "\n")
    net = write_network(tmp, GENERIC_NETWORK.format(name="srvnet", files="data/x.csv"), "srvnet")
    ingest(str(net), tmp / "store", now=pd.Timestamp("2030-01-01", tz="UTC"))
    cfg = tmp / "configs"
    shutil.copytree(ROOT / "configs", cfg)
    (cfg / "models" / "served.yml").write_text(
        "name: served\nforecaster: persistence\nregister: true\nparams: {}\n"
    )
    yield tmp, str(net)


def test_mlflow_server_on_postgresql_registers_and_serves_the_champion(
    mlflow_server, served_network, postgres, monkeypatch
):
    from pipelines.forecast.jobs import backtest_network, issue_forecast

    url, db, artifacts = mlflow_server
    tmp, net = served_network
    before = mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("QINGYUAN_HOME", str(tmp))
    monkeypatch.setenv("QINGYUAN_CONFIG", str(tmp / "configs"))
    try:
        backtest_network(
            net,
            tmp / "store",
            targets=["pm25"],
            start="2016-02-20",
            end="2016-03-01",
            train_end="2016-02-18",
            models=["served"],
            out_dir=tmp / "out",
        )
        assert mlflow.get_tracking_uri() == url
        client = mlflow.MlflowClient()
        champ = client.get_model_version_by_alias("srvnet-pm25", "champion")
        run = client.get_run(champ.run_id)
        assert champ.version == "1" and run.data.tags["model"] == "served"
        assert len(client.get_metric_history(champ.run_id, "rmse")) == 96  # one per lead
        assert champ.source.startswith(("models:/", "mlflow-artifacts:/"))
        # the server's PostgreSQL store holds the run, the registry and the alias ...
        assert postgres.psql("SELECT name FROM registered_models", db).split() == ["srvnet-pm25"]
        assert postgres.psql("SELECT alias, version FROM registered_model_aliases", db).strip() == (
            "champion|1"
        )
        assert champ.run_id in postgres.psql("SELECT run_uuid FROM runs", db).split()
        # ... and the artifacts went through the server into its artifact destination
        stored = {p.name for p in artifacts.rglob("*") if p.is_file()}
        assert {"per_lead_metrics.csv", "forecaster.joblib", "MLmodel"} <= stored
        # the forecast job loads the champion back through the server
        path = issue_forecast(net, tmp / "store", "2016-02-25 08:00", tmp / "fc", targets=["pm25"])
        with xr.open_dataset(path) as ds:
            assert "models:/srvnet-pm25@champion" in ds.attrs["model_uris"]
            assert champ.run_id in ds.attrs["mlflow_run_ids"]
            assert np.isfinite(ds["pm25_quantile"].values).all()
    finally:
        monkeypatch.undo()
        mlflow.set_tracking_uri(before)


# -------------------------------------------------------------------------------------- Prefect


@pytest.fixture(scope="module")
def prefect_server(postgres, tmp_path_factory) -> Iterator[tuple[str, str, Path]]:
    """``prefect server start`` on PostgreSQL (asyncpg); yield (API URL, database, tmp folder)."""
    tmp = tmp_path_factory.mktemp("prefect-server")
    db_url = postgres.new_database("prefect")
    name = db_url.rsplit("/", 1)[1]
    port = _free_port()
    env = _clean_env(
        PREFECT_HOME=str(tmp / "prefect-home"),
        PREFECT_API_DATABASE_CONNECTION_URL=postgres.url(name, driver="asyncpg"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        # no scheduled runs are created: only the run this test asks for executes
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
    )
    log = tmp / "prefect-server.log"
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    proc = _start(cmd, env=env, log=log)
    try:
        api = f"http://127.0.0.1:{port}/api"
        _wait_healthy(proc, f"{api}/health", log, timeout_s=STARTUP_S)
        yield api, name, tmp
    finally:
        _stop(proc)


def _poll(what, *, timeout_s: float, every_s: float = 0.5):  # noqa: ANN001, ANN202 - callable
    deadline = time.monotonic() + timeout_s
    while True:
        got = what()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every_s)


def test_qingyuan_serve_registers_and_runs_deployments_on_prefect_server(
    prefect_server, postgres, tmp_path
):
    from prefect.client.orchestration import SyncPrefectClient

    from pipelines.config import schedules_config

    api, db, _ = prefect_server
    expected = {d["name"]: d for d in schedules_config()["deployments"]}
    (tmp_path / "store").mkdir()
    (tmp_path / "outputs").mkdir()
    env = _clean_env(
        PREFECT_API_URL=api,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        QINGYUAN_STORE=str(tmp_path / "store"),
        QINGYUAN_OUTPUTS=str(tmp_path / "outputs"),
        QINGYUAN_CONFIG=str(ROOT / "configs"),
    )
    log = tmp_path / "serve.log"
    serve = _start([str(BIN / "qingyuan"), "serve"], env=env, log=log)
    try:
        _serve_and_run(SyncPrefectClient(api=api), expected, serve, log)
    finally:
        _stop(serve)
    # the server's PostgreSQL database holds what the client listed
    rows = postgres.psql("SELECT name FROM deployment ORDER BY name", db).split()
    assert rows == sorted(expected)
    assert postgres.psql("SELECT state_type FROM flow_run", db).split() == ["COMPLETED"]


def _serve_and_run(client, expected: dict, serve: subprocess.Popen, log: Path) -> None:  # noqa: ANN001
    """Wait for the deployments of ``qingyuan serve``, check them, run the outbox one."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import DeploymentSort

    def listed(**filters):  # noqa: ANN003, ANN202 - the client's filter arguments
        # limit and sort given: this server refuses the client's None defaults (422)
        return client.read_deployments(limit=200, sort=DeploymentSort.NAME_ASC, **filters)

    with client:
        deployments = _poll(lambda: len(d := listed()) >= len(expected) and d, timeout_s=90)
        assert serve.poll() is None, log.read_text()[-3000:]
        assert deployments, f"deployments not registered: {log.read_text()[-3000:]}"
        got = {d.name: d for d in deployments}
        assert set(got) == set(expected)
        for name, spec in expected.items():
            d = got[name]
            assert d.parameters == spec["parameters"] and "qingyuan" in d.tags
            (sched,) = d.schedules
            assert sched.schedule.cron == spec["cron"]
            assert sched.schedule.timezone == spec.get("time_zone", "Asia/Shanghai")
        # the serving process is the worker: a run of the outbox deployment executes there
        (outbox,) = listed(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["outbox-retry"]))
        )
        run = client.create_flow_run_from_deployment(outbox.id)

        def finished():  # noqa: ANN202
            state = client.read_flow_run(run.id).state
            return state if state is not None and state.is_final() else None

        state = _poll(finished, timeout_s=60)
        assert state is not None, f"flow run not finished: {log.read_text()[-3000:]}"
        assert state.is_completed(), f"{state}: {log.read_text()[-3000:]}"
        assert client.read_flow(client.read_flow_run(run.id).flow_id).name == "deliver"
