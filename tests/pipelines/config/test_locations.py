"""Locations from environment variables; the application package re-exports them."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pipelines
from pipelines.config import locations


def test_defaults_follow_the_home(monkeypatch, tmp_path):
    for var in ("QINGYUAN_CONFIG", "QINGYUAN_STORE", "QINGYUAN_OUTPUTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QINGYUAN_HOME", str(tmp_path))
    assert locations.project_root() == tmp_path.resolve()
    assert locations.config_dir() == tmp_path.resolve() / "configs"
    assert locations.store_dir() == tmp_path.resolve() / "store"
    assert locations.outputs_dir() == tmp_path.resolve() / "outputs"


def test_each_location_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("QINGYUAN_CONFIG", str(tmp_path / "c"))
    monkeypatch.setenv("QINGYUAN_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("QINGYUAN_OUTPUTS", str(tmp_path / "o"))
    assert locations.config_dir() == (tmp_path / "c").resolve()
    assert locations.store_dir() == (tmp_path / "s").resolve()
    assert locations.outputs_dir() == (tmp_path / "o").resolve()


def test_checkout_is_the_default_root(monkeypatch):
    monkeypatch.delenv("QINGYUAN_HOME", raising=False)
    assert locations.project_root() == Path(pipelines.__file__).resolve().parent.parent
    assert (locations.project_root() / "configs" / "variables.yml").is_file()


def test_application_paths_are_the_same_functions():
    from qingyuan import paths

    for name in ("project_root", "config_dir", "store_dir", "outputs_dir"):
        assert getattr(paths, name) is getattr(locations, name)


def test_code_version_is_the_distribution_version():
    assert locations.code_version() == importlib.metadata.version("qingyuan")
