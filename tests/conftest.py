"""Shared fixtures: configuration, factories for station data, one Prefect harness per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QINGYUAN_HOME", str(ROOT))
# MLflow runs of the tests go to a store of their own, never into the checkout's mlruns/
_MLRUNS = Path(tempfile.mkdtemp(prefix="qingyuan-test-mlruns-"))
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_MLRUNS / 'mlflow.db'}"
atexit.register(shutil.rmtree, _MLRUNS, ignore_errors=True)


@pytest.fixture(scope="session")
def registry() -> dict:
    from pipelines.config import load_variables

    return load_variables()


@pytest.fixture(scope="session")
def hj633():
    from pipelines.config import aqi_standards

    return aqi_standards("hj633")


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (each start costs ~20 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """One real PostgreSQL server for the session (tests/qy_postgres.py); stopped at the end.

    Tests that write take their own database: ``postgres.new_database()``.
    """
    from qy_postgres import start_postgres

    base = Path(tempfile.mkdtemp(prefix="qy-pg-"))
    srv = start_postgres(base)
    atexit.register(srv.stop)  # also when the session is interrupted
    try:
        yield srv
    finally:
        srv.stop()
        shutil.rmtree(base, ignore_errors=True)


_EXIT_STATUS = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave without C-level teardown when a test loaded ecCodes into the pytest process.

    The application never does any more: GRIB2 is decoded and encoded in an ecCodes-only worker
    process (:mod:`pipelines.nwp.eccodes_worker`, tested in a fresh interpreter there). But two
    test modules craft and inspect GRIB messages with ecCodes directly
    (``tests/pipelines/nwp/test_nwp_store.py``, ``test_synthetic.py``), and the PyPI wheels'
    bundled OpenSSL 1.1, libcurl and libsqlite3 abort the interpreter in their exit handlers
    ("double free or corruption", exit 134) after every test has passed (measured 2026-12-02 on
    the full suite). So the test process ends with ``os._exit`` and the session's status once
    ecCodes is loaded; the report is already written.
    """
    import sys

    if "eccodes" in sys.modules or "gribapi" in sys.modules:
        shutil.rmtree(_MLRUNS, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS["code"])
