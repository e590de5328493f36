"""A small real workspace for the web tests, built by the project's own jobs in a few seconds.

The bundled Beijing and NDFA networks with their last weeks of data only (the real files cut to
their tail), ingested and assessed; a Beijing forecast file with a scripted heavy episode and the
real warning job on it (one city releasing at once, one city with confirmation required); polar
plots / CPF; a small PMF run; an MLflow registry with a champion alias; the SYNTHETIC
``beijing_sources`` pollution-source network with one day of HJ 212 traffic sent over TCP to a
receiver, ingested, and its supervision alerts decided at the day's end (:func:`add_sources`).
Nothing is written into the checkout.
"""

from __future__ import annotations

import lzma
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"  # every test user's


@dataclass
class WebWorkspace:
    """Paths of the built workspace."""

    root: Path
    config: Path
    store: Path
    outputs: Path
    tracking_uri: str
    issue: pd.Timestamp  # the forecast issue time (naive UTC)
    source_day_end: pd.Timestamp | None = None  # cut-off of the supervision alerts (naive UTC)


def _tail_copy(src: Path, dst: Path, lines: int) -> None:
    with lzma.open(src, "rt", encoding="utf-8") as fh:
        rows = fh.read().splitlines()
    dst.write_text("\n".join([rows[0], *rows[-lines:]]) + "\n", encoding="utf-8")


def _cut_network(cfg: Path, name: str, data_dir: Path, lines: int) -> None:
    """Point a copied network file at tail copies of its bundled files (one YAML edit)."""
    path = cfg / "networks" / f"{name}.yml"
    text = path.read_text(encoding="utf-8")
    m = re.search(r'files: \["([^"]+)"\]', text)
    assert m, f"{path}: no files line"
    out = data_dir / name
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(ROOT.glob(m.group(1))):
        _tail_copy(f, out / f.name.removesuffix(".xz"), lines)
    text = text.replace(m.group(0), f'files: ["{out}/*.csv"]')
    path.write_text(text, encoding="utf-8")


def scripted_forecast(outputs: Path, issue: pd.Timestamp, daily_pm25: list[float]) -> Path:
    """A Beijing forecast file with a scripted episode, P10 / P90 at 0.8 / 1.2 and drivers."""
    from qy_helpers import beijing_forecast_file

    return beijing_forecast_file(outputs, issue, daily_pm25, band=(0.8, 1.2), drivers=True)


def _registry(uri: str) -> None:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("qingyuan-web-test")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "rmse_24h", 53.4)
    client.log_param(run.info.run_id, "model", "lightgbm")
    client.set_terminated(run.info.run_id)
    client.create_registered_model("beijing-pm25")
    v = client.create_model_version(
        "beijing-pm25", f"runs:/{run.info.run_id}/model", run.info.run_id
    )
    client.set_registered_model_alias("beijing-pm25", "champion", v.version)


#: The SYNTHETIC day of HJ 212 traffic of the source network (tests/pipelines/test_hj212_store.py).
SOURCE_DAY = "2017-02-11"


def add_sources(store: Path, outputs: Path, *, day: str = SOURCE_DAY) -> pd.Timestamp:
    """Replay one synthetic day of ``beijing_sources`` through a receiver, ingest, alert.

    Returns the alerts' cut-off (local midnight after the day, naive UTC). About 10 s.
    """
    import datetime as dt

    from pipelines.config import load_network
    from pipelines.hj212.replay import replay_through_receiver
    from pipelines.hj212.traffic import synthetic_day
    from pipelines.ingest import ingest
    from pipelines.warnings.supervision import run_supervision_alerts

    net = load_network("beijing_sources")
    d = dt.date.fromisoformat(day)
    replay_through_receiver(synthetic_day(net, d), store / "hj212", ack_timeout_s=2)
    ingest("beijing_sources", store)
    end = pd.Timestamp(d) + pd.Timedelta(hours=16)  # 00:00 Beijing time of the next day
    run_supervision_alerts("beijing_sources", outputs, store, end, deliver=False)
    return end


def build_workspace(root: Path, *, days: int = 40) -> WebWorkspace:
    """Build the workspace under ``root`` and point ``QINGYUAN_CONFIG`` / MLflow at it.

    The caller restores the environment (``os.environ`` keys QINGYUAN_CONFIG,
    MLFLOW_TRACKING_URI) when done.
    """
    from pipelines.assess import assess_air, assess_water, write_assessment
    from pipelines.config import load_network, load_variables
    from pipelines.ingest import ingest
    from pipelines.store import StationStore
    from pipelines.tracing.air import polar_job, trajectory_job
    from pipelines.tracing.pmf import run_pmf
    from pipelines.warnings.job import run_warnings

    cfg = root / "configs"
    shutil.copytree(ROOT / "configs", cfg)
    _cut_network(cfg, "beijing", root / "data", 24 * days)
    first = sorted((root / "data" / "beijing").glob("*.csv"))[0]
    with first.open("a", encoding="utf-8") as fh:  # a row cut short in transfer: one refusal
        fh.write("35065,2017,2,28,23,12\n")
    ndfa = cfg / "networks" / "ndfa.yml"  # the whole bundled record (7 months of sondes)
    ndfa.write_text(
        ndfa.read_text(encoding="utf-8").replace('"data/ndfa/', f'"{ROOT}/data/ndfa/'),
        encoding="utf-8",
    )
    # the 2016 drill city asks for confirmation before release (the Beijing city releases at once)
    city = cfg / "warnings" / "beijing_2016.yml"
    city.write_text(
        city.read_text(encoding="utf-8") + "\nconfirmation: required\n", encoding="utf-8"
    )
    os.environ["QINGYUAN_CONFIG"] = str(cfg)
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    (root / "mlruns").mkdir()
    os.environ["MLFLOW_TRACKING_URI"] = uri
    store, outputs = root / "store", root / "outputs"
    reg = load_variables()["variables"]
    for name in ("beijing", "ndfa"):
        ingest(name, store)
    bj = StationStore(store, load_network("beijing"), reg)
    outputs.mkdir(parents=True)
    write_assessment(assess_air(bj), outputs / "beijing_daily_aqi.nc")
    nd = StationStore(store, load_network("ndfa"), reg)
    write_assessment(assess_water(nd), outputs / "ndfa_daily_class.nc")
    last = pd.Timestamp(bj.open(variables=["pm25"])["time"].values[-1])
    issue = last.floor("D") + pd.Timedelta(hours=16)  # 00:00 Beijing time of the next day
    if issue > last:
        issue -= pd.Timedelta(days=1)
    scripted_forecast(outputs, issue, [120.0, 190.0, 240.0, 260.0])
    run_warnings("beijing", outputs, now=issue, deliver=False)
    run_warnings("beijing_2016", outputs, now=issue, deliver=False)
    polar_job(
        "beijing",
        store,
        outputs,
        "pm25",
        ["Dongsi", "Huairou"],
        str(issue - pd.Timedelta(days=days)),
        str(issue),
        75.0,
    )
    trajectory_job(
        "beijing",
        store,
        outputs,
        "pm25",
        str(issue - pd.Timedelta(days=days)),
        str(issue),
        24.0,
        6,
        0.5,
        75.0,
    )
    pmf = ROOT / "data" / "esat_examples"
    run_pmf(
        pmf / "Dataset-BatonRouge-con.csv.xz",
        pmf / "Dataset-BatonRouge-unc.csv.xz",
        4,
        outputs / "pmf" / "Dataset-BatonRouge-con_f4",
        starts=2,
        bootstrap_n=0,
        total="TNMOC",
        track=False,
    )
    # the bundled soil survey (Meuse, read from the installed scikit-gstat): stored, assessed,
    # mapped on a coarse grid (the page and API read the files; the maps' values are tested in
    # tests/pipelines/test_soil_*.py)
    from pipelines.soil.jobs import assess_job, ingest_job, map_job

    ingest_job("meuse_soil", store)
    assess_job("meuse_soil", store, outputs)
    map_job("meuse_soil", store, outputs, resolution=200.0)
    _registry(uri)
    end = add_sources(store, outputs)
    return WebWorkspace(root, cfg, store, outputs, uri, issue, end)
