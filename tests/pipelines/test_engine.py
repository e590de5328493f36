"""The Dask engine gives the single-process results, on a cut of the bundled Beijing network.

One ``LocalCluster`` (2 worker processes, 1 thread each) serves the module. Nothing is written
into the checkout: configuration, store, outputs and MLflow live under a temporary directory.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from qy_web import _cut_network

from pipelines import engine
from pipelines.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NOW = pd.Timestamp("2030-01-01", tz="UTC")
TARGETS = ["pm25", "o3"]
ISSUE = "2017-02-27 08:00"


def _files(store: Path) -> list[Path]:
    return sorted((store / "beijing").glob("beijing_????-??.nc"))


def _same_store(a: Path, b: Path) -> None:
    fa, fb = _files(a), _files(b)
    assert [f.name for f in fa] == [f.name for f in fb] and fa
    for x, y in zip(fa, fb, strict=True):
        with xr.open_dataset(x) as dx, xr.open_dataset(y) as dy:
            xr.testing.assert_identical(dx.load(), dy.load())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Configs with Beijing cut to its last 40 days; store, outputs and MLflow in a temp dir."""
    tmp = tmp_path_factory.mktemp("engine")
    cfg = tmp / "configs"
    shutil.copytree(ROOT / "configs", cfg)
    _cut_network(cfg, "beijing", tmp / "data", 24 * 40)
    mp = pytest.MonkeyPatch()
    mp.setenv("QINGYUAN_HOME", str(tmp))
    mp.setenv("QINGYUAN_CONFIG", str(cfg))
    mp.setenv("QINGYUAN_STORE", str(tmp / "store"))
    mp.setenv("QINGYUAN_OUTPUTS", str(tmp / "outputs"))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}")
    mp.delenv(engine.SCHEDULER_ENV, raising=False)
    yield tmp
    mp.undo()


@pytest.fixture(scope="module")
def single(env):
    """The single-process ingest (the reference) and its wall time."""
    from pipelines.ingest import ingest

    t0 = time.perf_counter()
    report = ingest("beijing", env / "single", now=NOW)
    return env / "single", report, time.perf_counter() - t0


@pytest.fixture(scope="module")
def dask_client(env):
    """Two worker processes on 127.0.0.1 (started after the environment is set: they inherit it)."""
    with engine.client("local", n_workers=2, memory_limit="1.5GiB") as c:
        yield c


@pytest.fixture(scope="module")
def distributed(env, dask_client):
    t0 = time.perf_counter()
    report = engine.ingest("beijing", env / "dist", client=dask_client, group_size=4, now=NOW)
    return env / "dist", report, time.perf_counter() - t0


def test_distributed_ingest_writes_the_single_process_store(single, distributed, capsys):
    (a, ra, ta), (b, rb, tb) = single, distributed
    _same_store(a, b)
    for key in ("rows_in", "rows_stored", "rows_quarantined", "values_new", "values_changed"):
        assert getattr(ra, key) == getattr(rb, key)
    assert rb.balanced and rb.values_new > 0
    # the neighbour check did flag values, so identical flags mean the halos worked
    from features.qc.flags import QC_BITS

    bit = QC_BITS["spike_neighbour"][0]
    with xr.open_dataset(_files(b)[-1]) as ds:
        assert any(int((ds[f"{v}_qc"].values & bit).astype(bool).sum()) for v in ("pm25", "pm10"))
    with capsys.disabled():
        print(f"\ningest, 12 stations x 40 days: single {ta:.1f} s, LocalCluster(2) {tb:.1f} s")


def test_re_ingest_through_the_engine_stays_identical(single, distributed, dask_client):
    """The second upsert reads stored months on the workers: nothing new, nothing changed."""
    (a, _, _), (b, _, _) = single, distributed
    rep = engine.ingest("beijing", b, client=dask_client, group_size=5, now=NOW)
    assert rep.values_new == 0 and rep.values_changed == 0 and rep.values_unchanged > 0
    _same_store(a, b)


def test_daily_aqi_is_identical(single, distributed):
    from pipelines.assess import assess_air
    from pipelines.config import load_network, load_variables
    from pipelines.store import StationStore

    net, reg = load_network("beijing"), load_variables()["variables"]
    da = assess_air(StationStore(single[0], net, reg))
    db = assess_air(StationStore(distributed[0], net, reg))
    xr.testing.assert_identical(da, db)
    assert np.isfinite(da["aqi"].values).sum() > 0 if "aqi" in da else len(da.data_vars) > 0


@pytest.fixture(scope="module")
def champions(single):
    """Small LightGBM champions for two targets, registered in the temp MLflow store."""
    import mlflow

    from models import tracking
    from models.forecast.base import create_forecaster
    from models.forecast.pyfunc import history_frame
    from pipelines.config import forecast_config, load_network, model_configs
    from pipelines.config.locations import project_root
    from pipelines.forecast.jobs import HISTORY_HOURS, _meta, load_panel

    store = single[0]
    cfg = forecast_config("beijing")
    exp = tracking.configure(project_root(), cfg["mlflow"])
    panel = load_panel("beijing", store, weather=False)
    train_end = panel.times[-24 * 5]
    params = dict(model_configs(["lightgbm"])["lightgbm"]["params"])
    params["lgbm"] = {**params["lgbm"], "n_estimators": 15, "num_leaves": 7}
    params |= {"max_lead": int(cfg["leads"]), "issue_stride": 12, "leads_per_row": 2}
    last = int(panel.times.searchsorted(train_end, side="right") - 1)
    kinds = {"pm25": ("lightgbm", params), "o3": ("climatology", {})}  # drivers: LightGBM
    for target in TARGETS:
        kind, kw = kinds[target]
        model = create_forecaster(kind, target, quantiles=tuple(cfg["quantiles"]), **kw).fit(
            panel, train_end
        )
        name = f"beijing-{target}"
        _, version = tracking.log_model_run(
            experiment_id=exp,
            run_name=f"{name}-engine-test",
            params={"target": target},
            tags={"network": "beijing", "target": target},
            table=pd.DataFrame({"lead": [1], "rmse": [1.0]}),
            summary_metrics={},
            model=model,
            meta=_meta(panel, "beijing", target, int(cfg["leads"]), model),
            input_example=history_frame(panel, last, HISTORY_HOURS),
            registered_name=name,
        )
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
    assert load_network("beijing").name == "beijing"
    return store


def test_forecasts_are_identical_and_models_load_once_per_worker(champions, env, dask_client):
    from pipelines.forecast.files import open_forecast
    from pipelines.forecast.jobs import issue_forecast

    t0 = time.perf_counter()
    pa = issue_forecast("beijing", champions, ISSUE, env / "out-single", TARGETS)
    ta = time.perf_counter() - t0
    t0 = time.perf_counter()
    pb = engine.forecast("beijing", champions, ISSUE, env / "out-dist", TARGETS, client=dask_client)
    tb = time.perf_counter() - t0
    assert pa.name == pb.name
    fa, fb = open_forecast(pa), open_forecast(pb)
    names = [n for n in fa.data_vars if n != "recent"]
    assert {f"{t}_quantile" for t in TARGETS} <= set(names)
    for n in fa.data_vars:
        a, b = fa[n].values, fb[n].values
        if np.issubdtype(a.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True, err_msg=n)
        else:
            np.testing.assert_array_equal(a, b, err_msg=n)
    for k in ("model_uris", "data_cutoff", "issue_time"):
        if k in fa.attrs:
            assert fa.attrs[k] == fb.attrs[k], k
    assert np.isfinite(fa["pm25_quantile"].values).all()
    loads = sum(dask_client.run(engine.model_loads).values())
    assert loads == len(TARGETS)  # one task per target, each loaded its model once
    for _ in range(2):
        engine.forecast("beijing", champions, ISSUE, env / "out-dist", TARGETS, client=dask_client)
    loads = sum(dask_client.run(engine.model_loads).values())
    assert loads <= 2 * len(TARGETS)  # never more than once per worker and model (else 6)
    print(f"\nforecast, 2 targets: single {ta:.1f} s, LocalCluster(2) {tb:.1f} s (cold cache)")


def test_groups_cover_every_station_once_and_halos_hold_the_neighbours():
    from features.geo import pairwise_km
    from pipelines.config import load_network

    net = load_network("beijing")
    ids = [s.id for s in net.stations]
    lat = np.array([s.lat for s in net.stations])
    lon = np.array([s.lon for s in net.stations])
    groups = engine.station_groups(ids, lat, lon, 5)
    assert sorted(s for g in groups for s in g) == sorted(ids) and max(map(len, groups)) == 5
    dist = pairwise_km(lat, lon)
    for g in groups:
        h = engine.halo(g, ids, lat, lon, 20.0)
        assert not set(h) & set(g)
        inside = [ids.index(s) for s in g]
        want = {ids[j] for j in range(len(ids)) if ids[j] not in g and dist[inside, j].min() <= 20}
        assert set(h) == want
    assert engine.halo(groups[0], ids, lat, lon, 0.0) == []


def test_engine_selection_by_size_option_and_environment(monkeypatch):
    cfg = {"min_stations": 300, "group_size": 50, "memory_limit": "1GiB"}
    assert engine.select_engine(12, config=cfg).mode == "single"
    assert engine.select_engine(12, "local", config=cfg).mode == "local"
    big = engine.select_engine(2000, config=cfg)
    assert big.mode == "local" and big.group_size == 50
    monkeypatch.setenv(engine.SCHEDULER_ENV, "tcp://10.0.0.5:8786")
    big = engine.select_engine(2000, config=cfg)
    assert (big.mode, big.address) == ("remote", "tcp://10.0.0.5:8786")
    assert engine.select_engine(12, config=cfg).mode == "single"  # small networks stay local
    forced = engine.select_engine(12, "tcp://127.0.0.1:8786", config=cfg)
    assert forced.cluster == "tcp://127.0.0.1:8786"
    assert engine.select_engine(2000, "single", config=cfg).mode == "single"


def test_engine_config_is_validated_with_file_line_and_field(tmp_path):
    assert engine.engine_config()["min_stations"] >= 1
    bad = tmp_path / "schedules.yml"
    bad.write_text("time_zone: UTC\nengine:\n  min_stations: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        engine.engine_config(bad)
    text = str(err.value)
    assert "schedules.yml" in text and "min_stations" in text and "3" in text


# ------------------------------------------------------------------------------------- faults
class _ExitOnce:
    """Worker plugin: the first QC task anywhere kills its worker process (marker file)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def setup(self, worker) -> None:
        from pipelines.store import StationStore

        if getattr(StationStore.check, "_exit_once", False):
            return
        original, marker = StationStore.check, self.marker

        def check(self, *args, **kwargs):
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return original(self, *args, **kwargs)
            os.close(fd)
            os._exit(1)  # the worker dies mid-task

        check._exit_once = True
        StationStore.check = check


def test_a_worker_killed_mid_task_is_retried_and_the_store_is_whole(single, env, dask_client):
    import cloudpickle
    from distributed.diagnostics.plugin import WorkerPlugin

    plugin_cls = type("ExitOnce", (_ExitOnce, WorkerPlugin), {})
    cloudpickle.register_pickle_by_value(__import__(__name__))  # tests are not importable there
    marker = env / "killed.marker"
    dask_client.register_plugin(plugin_cls(str(marker)), name="exit-once")
    try:
        rep = engine.ingest("beijing", env / "faults", client=dask_client, group_size=3, now=NOW)
    finally:
        dask_client.unregister_worker_plugin("exit-once")
        dask_client.restart()  # workers without the patch for the tests after this one
    assert marker.exists()  # a worker did die
    assert rep.balanced
    _same_store(single[0], env / "faults")
    leftovers = [p for p in (env / "faults" / "beijing").iterdir() if ".tmp" in p.name]
    assert not leftovers


def test_concurrent_ingests_of_a_network_are_serialised(single, env, dask_client, monkeypatch):
    from pipelines.store import StationStore

    spans: list[tuple[float, float]] = []
    original = StationStore.lock

    def lock(self):
        import contextlib

        @contextlib.contextmanager
        def held():
            with original(self):
                t0 = time.perf_counter()
                yield
                spans.append((t0, time.perf_counter()))

        return held()

    monkeypatch.setattr(StationStore, "lock", lock)
    errors: list[BaseException] = []

    def run(size: int) -> None:
        try:
            engine.ingest("beijing", env / "twice", client=dask_client, group_size=size, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in (4, 6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors
    # each ingest holds the lock for its partitions and again for its report; no two holds overlap
    assert len(spans) >= 2
    ordered = sorted(spans)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert end <= start  # the next writer started after the previous one released the lock
    _same_store(single[0], env / "twice")


def test_a_second_cycle_is_refused_or_waits(env):
    root = env / "cycles"
    order: list[str] = []
    with engine.cycle_lock(root, "beijing"):
        with pytest.raises(engine.CycleBusy, match="another cycle"):
            with engine.cycle_lock(root, "beijing"):
                pass

        def waiter() -> None:
            with engine.cycle_lock(root, "beijing", wait=True):
                order.append("second")

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(10)
    assert order == ["first done", "second"]
    with engine.cycle_lock(root, "other"):  # other networks are not blocked
        pass


def test_the_ingest_flow_runs_its_tasks_on_the_dask_cluster(
    single, env, dask_client, prefect_harness
):
    """``cluster=`` an address: reads through the ``DaskTaskRunner``, QC on the same workers."""
    from pipelines.flows import ingest_flow

    report = ingest_flow("beijing", str(env / "flow"), cluster=dask_client.scheduler.address)
    assert report["balanced"] and report["values_new"] > 0
    _same_store(single[0], env / "flow")
    tasks = dask_client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.task_prefixes]
    )
    assert any("read-source" in k or "read_source" in k for k in tasks), tasks
    assert any(k.startswith("qc-beijing") for k in tasks), tasks


def test_a_bad_cluster_option_is_a_usage_error_not_a_traceback():
    from click.testing import CliRunner

    from qingyuan.cli import main

    for bad in ("bogus", "tcp://host", "tcp://:8786", "host:8786"):
        r = CliRunner().invoke(main, ["ingest", "--network", "beijing", "--cluster", bad])
        assert r.exit_code == 2 and "--cluster" in r.output and "Traceback" not in r.output, bad
