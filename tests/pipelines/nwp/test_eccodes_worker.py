"""The ecCodes worker: GRIB2 is decoded and encoded in a child process, never in the caller's.

Other NWP test modules import eccodes into this pytest process (to write fixtures and check
hashes), so "not loaded here" is checked in fresh interpreters started by the tests.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config.nwp import load_nwp_mapping
from pipelines.errors import SourceError
from pipelines.nwp import eccodes_worker
from pipelines.nwp.eccodes_worker import GribError
from pipelines.nwp.grib import read_grib
from pipelines.nwp.synthetic import FIELDS, write_grib2

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("eccodes") is None, reason="ecCodes is not installed"
)

ROOT = Path(__file__).resolve().parents[3]
ISSUE = pd.Timestamp("2016-12-02 00:00")
NOW = pd.Timestamp("2017-01-01")
LAT = np.array([39.5, 40.0, 40.5])
LON = np.array([116.0, 116.5, 117.0, 117.5])
STEPS = 4

#: Writes one small run with write_grib2 and reads it back with read_grib (fresh interpreter).
ROUND_TRIP = """
import sys
from pathlib import Path
import numpy as np
import pandas as pd
from pipelines.nwp.grib import read_grib
from pipelines.nwp.synthetic import FIELDS, write_grib2

lat, lon = np.array([39.5, 40.0]), np.array([116.0, 116.5, 117.0])
fields = {var: np.full((3, 2, 3), 1.0 + k) for k, (var, _, _) in enumerate(FIELDS)}
fields["precipitation"] = np.cumsum(np.ones((3, 2, 3)), axis=0) - 1.0
path = Path(sys.argv[1]) / "run.grib2"
write_grib2(fields, path, issue_time=pd.Timestamp("2016-12-02"), grid_lat=lat, grid_lon=lon)
runs = read_grib(path, step_hours=1, now=pd.Timestamp("2017-01-01"))
assert len(runs) == 1 and list(runs[0].steps) == [0, 1, 2], runs
"""


def _fields(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (STEPS, LAT.size, LON.size)
    base = {"air_temperature": 5.0, "dew_point_temperature": -3.0, "air_pressure": 1010.0}
    fields = {var: base.get(var, 1.0) + rng.random(shape) for var, _, _ in FIELDS}
    fields["precipitation"] = np.cumsum(rng.random(shape), axis=0)
    fields["boundary_layer_height"] = 500.0 + 100.0 * rng.random(shape)
    fields["air_temperature"][1, 2, 3] = np.nan  # one bitmap message
    return fields


def _write(path: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    fields = _fields(seed)
    write_grib2(fields, path, issue_time=ISSUE, grid_lat=LAT, grid_lon=LON)
    return path, fields


def _python(*snippets: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    code = "\n".join(textwrap.dedent(s) for s in snippets)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def _maps(pid: int) -> str:
    maps = Path(f"/proc/{pid}/maps")
    if not maps.exists():
        pytest.skip("no /proc on this system")
    return maps.read_text()


def test_read_and_write_never_load_eccodes_in_the_caller(tmp_path):
    check = """
    assert "eccodes" not in sys.modules and "gribapi" not in sys.modules, "ecCodes loaded"
    maps = Path("/proc/self/maps")
    assert not maps.exists() or "libeccodes" not in maps.read_text(), "libeccodes mapped"
    """
    _assert_clean(_python(ROUND_TRIP, check, args=(str(tmp_path),)))


def test_process_with_mlflow_reading_grib_exits_with_status_0(tmp_path):
    first = "import mlflow"
    then = """
    import sqlite3
    import netCDF4
    # MLflow's SQL store needs sqlite >= 3.31: not the 3.26 bundled with ecCodes
    assert sqlite3.sqlite_version_info >= (3, 31), sqlite3.sqlite_version
    with sqlite3.connect(Path(sys.argv[1]) / "t.db") as db:
        db.execute("create table t (x)")
    netCDF4.Dataset(Path(sys.argv[1]) / "t.nc", "w").close()
    """
    proc = _python(first, ROUND_TRIP, then, args=(str(tmp_path),))
    _assert_clean(proc)
    assert "double free" not in proc.stderr and "Segmentation" not in proc.stderr


def test_worker_killed_before_exit_leaves_status_0(tmp_path):
    code = """
    import os, signal, time
    from pipelines.nwp import eccodes_worker
    pid = eccodes_worker.worker_pid()
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGABRT)  # as if ecCodes crashed at the worker's own exit
    time.sleep(0.5)
    """
    _assert_clean(_python(ROUND_TRIP, code, args=(str(tmp_path),)))


def test_round_trip_values_and_the_worker_process(tmp_path):
    path, fields = _write(tmp_path / "run.grib2")
    (run,) = read_grib(path, step_hours=1, now=NOW)
    assert run.issue_time == ISSUE
    np.testing.assert_array_equal(run.steps, np.arange(STEPS))
    np.testing.assert_allclose(run.lat, LAT)
    np.testing.assert_allclose(run.lon, LON)
    fields["precipitation"] = np.diff(fields["precipitation"], axis=0)  # de-accumulated
    run.fields["precipitation"] = run.fields["precipitation"][1:]
    for var, short, _ in FIELDS:
        tol = 0.6 if short == "blh" else 0.01  # GRIB_DECIMALS rounding, 16-bit packing
        np.testing.assert_allclose(run.fields[var], fields[var], atol=tol, err_msg=var)
    assert np.isnan(run.fields["air_temperature"][1, 2, 3])
    pid = eccodes_worker.worker_pid()
    assert pid is not None and pid != os.getpid()
    maps = _maps(pid)
    assert "libeccodes" in maps
    assert "libnetcdf" not in maps and "_sqlite3" not in maps  # numpy + eccodes only


def test_corrupt_grib_is_a_source_error_naming_the_file(tmp_path):
    junk = tmp_path / "junk.grib2"
    junk.write_bytes(b"GRIB\x00\x00\x00\x02" + b"\xff" * 200)
    with pytest.raises(SourceError, match="message 1: not readable GRIB") as err:
        read_grib(junk, now=NOW)
    assert err.value.file == str(junk) and str(junk) in str(err.value)

    good, _ = _write(tmp_path / "good.grib2")
    cut = tmp_path / "cut.grib2"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size - 100])
    n = STEPS * len(FIELDS)  # the last message is cut short
    with pytest.raises(SourceError, match=f"message {n}: not readable GRIB") as err:
        read_grib(cut, now=NOW)
    assert err.value.file == str(cut)

    with pytest.raises(SourceError, match="cannot open") as err:
        read_grib(tmp_path / "missing.grib2", now=NOW)
    assert err.value.file == str(tmp_path / "missing.grib2")


def test_relative_paths_are_the_callers(tmp_path, monkeypatch):
    _write(tmp_path / "run.grib2")
    monkeypatch.chdir(tmp_path)
    (run,) = read_grib("run.grib2", step_hours=1, now=NOW)
    assert run.file == "run.grib2"


def test_stopping_early_keeps_the_worker_in_step(tmp_path):
    path, _ = _write(tmp_path / "run.grib2")
    mapping = load_nwp_mapping()
    no_2t = mapping.model_copy(
        update={"grib": {k: v for k, v in mapping.grib.items() if k != "2t"}}
    )
    with pytest.raises(SourceError, match=r"message 1 \(2t\): unknown variable '2t'"):
        read_grib(path, mapping=no_2t, now=NOW)  # the other messages are drained
    (run,) = read_grib(path, step_hours=1, now=NOW)
    assert "air_temperature" in run.fields


def test_encoding_error_comes_back_and_the_worker_goes_on(tmp_path):
    field = {
        "shortName": "2t",
        "keys": (),
        "accumulated": False,
        "missing_value": 9999.0,
        "values": np.zeros((1, 2, 2)),
    }
    with pytest.raises(GribError, match="2t: cannot set 'noSuchKey'"):
        eccodes_worker.write_messages(
            tmp_path / "x.grib2",
            sample="regular_ll_sfc_grib2",
            header=[("noSuchKey", 1)],
            fields=[field],
            bits_per_value=16,
        )
    path, _ = _write(tmp_path / "run.grib2")
    assert len(read_grib(path, now=NOW)) == 1


def test_a_dead_worker_is_replaced(tmp_path):
    path, _ = _write(tmp_path / "run.grib2")
    read_grib(path, now=NOW)
    pid = eccodes_worker.worker_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while eccodes_worker.worker_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_grib(path, now=NOW)) == 1
    assert eccodes_worker.worker_pid() not in (None, pid)


def test_message_error_in_the_worker_names_file_and_message(tmp_path):
    path = tmp_path / "polar.grib2"
    field = {
        "shortName": "2t",
        "keys": (),
        "accumulated": False,
        "missing_value": 9999.0,
        "values": np.full((1, 16, 31), 270.0),  # the sample's 496 points
    }
    eccodes_worker.write_messages(
        path, sample="polar_stereographic_pl_grib2", header=(), fields=[field], bits_per_value=16
    )
    match = "message 1: grid type 'polar_stereographic' is not regular_ll"
    with pytest.raises(SourceError, match=match) as err:
        read_grib(path, now=NOW)
    assert err.value.file == str(path)
