"""The configuration package: every YAML file of ``configs/`` has a schema and a loader here.

Every validation error names the file, the line and the field (:class:`ConfigError`).

- :mod:`~pipelines.config.yaml_io`: YAML with line numbers, :func:`validate_model`, :func:`deep_merge`.
- :mod:`~pipelines.config.locations`: where configuration, store and outputs live; code version.
- :mod:`~pipelines.config.registry`: variables, QC, standards (AQI editions, water classes,
  discharge limits).
- :mod:`~pipelines.config.networks`: station networks and their sources.
- :mod:`~pipelines.config.rivers`: river networks.
- :mod:`~pipelines.config.warnings`: warning schemes and city settings.
- :mod:`~pipelines.config.forecast`: forecast, backtest, champion and ``qingyuan run`` settings.
- :mod:`~pipelines.config.models`: forecasting models.
- :mod:`~pipelines.config.source`: source tracing and the PMF example.
- :mod:`~pipelines.config.schedules`: scheduled runs.
- :mod:`~pipelines.config.validate`: :func:`validate_configs`, every file of a directory.
"""

from __future__ import annotations

from pipelines.config.forecast import ForecastSpec, bundled_networks, forecast_config
from pipelines.config.locations import (
    code_version,
    config_dir,
    outputs_dir,
    project_root,
    store_dir,
)
from pipelines.config.models import ModelSpec, list_models, load_model_config, model_configs
from pipelines.config.networks import (
    ColumnSpec,
    NetworkSpec,
    SourceSpec,
    StationSpec,
    list_networks,
    load_network,
    resolve_files,
)
from pipelines.config.registry import (
    AqiStandardSpec,
    DischargeStandardSpec,
    QcFile,
    VariablesFile,
    VariableSpec,
    WaterStandardSpec,
    aqi_standards,
    discharge_standard,
    discharge_standards,
    load_qc,
    load_standard_file,
    load_variables,
    standard_files,
    water_standard,
)
from pipelines.config.schedules import SchedulesSpec, schedules_config
from pipelines.config.source import SourceTracingSpec, source_config
from pipelines.config.validate import validate_configs
from pipelines.config.yaml_io import (
    deep_merge,
    line_of,
    load_validated,
    load_yaml,
    plain,
    validate_model,
)
from pipelines.errors import ConfigError

# former private names, still imported by pipelines.config.warnings
_deep_merge = deep_merge
_validate = validate_model

__all__ = [
    "AqiStandardSpec",
    "ColumnSpec",
    "ConfigError",
    "DischargeStandardSpec",
    "ForecastSpec",
    "ModelSpec",
    "NetworkSpec",
    "QcFile",
    "SchedulesSpec",
    "SourceSpec",
    "SourceTracingSpec",
    "StationSpec",
    "VariableSpec",
    "VariablesFile",
    "WaterStandardSpec",
    "aqi_standards",
    "bundled_networks",
    "code_version",
    "config_dir",
    "deep_merge",
    "discharge_standard",
    "discharge_standards",
    "forecast_config",
    "line_of",
    "list_models",
    "list_networks",
    "load_model_config",
    "load_network",
    "load_qc",
    "load_standard_file",
    "load_validated",
    "load_variables",
    "load_yaml",
    "model_configs",
    "outputs_dir",
    "plain",
    "project_root",
    "resolve_files",
    "schedules_config",
    "source_config",
    "standard_files",
    "store_dir",
    "validate_configs",
    "validate_model",
    "water_standard",
]
