"""``configs/models/<name>.yml``: one forecasting model each (forecaster, registration, params)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.config.locations import config_dir
from pipelines.config.yaml_io import load_validated
from pipelines.errors import ConfigError

__all__ = ["ModelSpec", "list_models", "load_model_config", "model_configs"]


class ModelSpec(BaseModel):
    """A model configuration.

    ``params`` go to the forecaster's constructor unchanged (the forecaster validates them);
    the horizon is a forecast setting (``configs/forecast.yml: leads``), not a model one.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str | None = None  # default: the file name
    forecaster: str | None = None  # registered forecaster; default: the model name
    # registered in MLflow as <network>-<target> (competes for champion); ``register`` in YAML
    register_: bool = Field(False, alias="register")
    params: dict[str, Any] = Field(default_factory=dict)
    # inputs the model is built to use, by network kind: a backtest or training on a network
    # whose store lacks any of them says so (printed and tagged ``missing_inputs`` in MLflow)
    expects: dict[Literal["air", "water", "source"], list[str]] = Field(default_factory=dict)


def list_models(cfg_dir: Path | None = None) -> list[str]:
    """Names of the model files in ``configs/models``."""
    return sorted(p.stem for p in ((cfg_dir or config_dir()) / "models").glob("*.yml"))


def load_model_config(path: Path) -> dict[str, Any]:
    """One model file, validated, as a plain dict with the defaults filled in."""
    spec, _ = load_validated(ModelSpec, path)
    spec.name = spec.name or Path(path).stem
    spec.forecaster = spec.forecaster or spec.name
    return spec.model_dump(by_alias=True)


def model_configs(names: list[str]) -> dict[str, dict[str, Any]]:
    """Model configurations from ``configs/models/<name>.yml``.

    Raises
    ------
    ConfigError
        If a model file is missing or does not match the schema (file, line, field).
    """
    out = {}
    for n in names:
        path = config_dir() / "models" / f"{n}.yml"
        if not path.is_file():
            raise ConfigError(str(path), None, "", f"no such model (known: {list_models()})")
        out[n] = load_model_config(path)
    return out
