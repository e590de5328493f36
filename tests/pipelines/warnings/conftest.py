"""Fixtures shared by the warning-lifecycle tests: the scheme and a fresh database per backend."""

from __future__ import annotations

import pytest

from pipelines.config.warnings import load_warning_config
from pipelines.warnings import db as wdb


@pytest.fixture
def scheme():
    """The national 2018 warning scheme."""
    return load_warning_config("national-2018")[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path, monkeypatch) -> str:
    """A fresh empty warnings database on each backend: its SQLAlchemy URL."""
    monkeypatch.delenv(wdb.ENV_VAR, raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warnings' / 'warnings.db'}"
    return request.getfixturevalue("postgres").new_database(request.module.__name__[-12:])
