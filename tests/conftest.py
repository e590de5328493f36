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
