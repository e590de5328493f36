"""Shared fixtures: configuration, factories for station data, one Prefect harness per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QINGYUAN_HOME", str(ROOT))


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
