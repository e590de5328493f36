"""Check every configuration file of a configuration directory (``qingyuan validate``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pipelines.errors import ConfigError

__all__ = ["KINDS", "validate_configs"]

#: kind -> file pattern inside the configuration directory, in the order they are checked
KINDS: dict[str, str] = {
    "variables": "variables.yml",
    "qc": "qc.yml",
    "standard": "standards/*.yml",
    "network": "networks/*.yml",
    "river": "rivers/*.yml",
    "warning": "warnings/*.yml",
    "forecast": "forecast.yml",
    "model": "models/*.yml",
    "source": "source.yml",
    "schedules": "schedules.yml",
    "nwp": "nwp.yml",
    "web": "web.yml",
    "access": "access.yml",
    "hj212": "hj212.yml",
    "scenario": "scenarios/*.yml",
}
_REQUIRED = ("variables.yml", "qc.yml", "forecast.yml")


@contextlib.contextmanager
def _config_dir(path: Path) -> Iterator[None]:
    """Make ``path`` the configuration directory of every loader for the duration."""
    old = os.environ.get("QINGYUAN_CONFIG")
    os.environ["QINGYUAN_CONFIG"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("QINGYUAN_CONFIG", None)
        else:
            os.environ["QINGYUAN_CONFIG"] = old


def _variables(path: Path) -> str:
    from pipelines.config.registry import VariablesFile
    from pipelines.config.yaml_io import load_validated

    spec, _ = load_validated(VariablesFile, path)  # not the cached registry: the file as it is now
    return f"{len(spec.variables)} variables"


def _qc(path: Path) -> str:
    from pipelines.config.registry import load_qc

    checks = load_qc()["checks"]
    on = [k for k, v in checks.items() if v.get("enabled", True)]
    return f"{len(checks)} QC checks ({len(on)} enabled)"


def _standard(path: Path) -> str:
    from features.aqi import AqiStandard
    from features.discharge import DischargeStandard
    from features.water_class import WaterStandard
    from pipelines.config.registry import (
        DischargeStandardSpec,
        WaterStandardSpec,
        load_standard_file,
    )

    spec = load_standard_file(path)
    data = spec.model_dump(exclude_none=True)
    if data.get("kind") == "soil":  # GB 15618 / GB 36600 (issue #18)
        from features.soil.standards import SoilStandard

        std = SoilStandard.from_config(data)
        bands = f", {len(std.ph_bounds) + 1} pH bands" if std.needs_ph else ""
        return f"soil standard {std.name} ({std.land} land): {len(std.analytes)} analytes{bands}"
    if isinstance(spec, DischargeStandardSpec):
        std = DischargeStandard.from_config(data)
        return (
            f"discharge standard {std.name} ({std.medium}, {std.period} means): "
            f"{len(std.classes)} classes"
        )
    try:
        if isinstance(spec, WaterStandardSpec):
            WaterStandard.from_config(data)
            return f"water classes {spec.name}: {len(spec.parameters)} parameters"
        std = AqiStandard.from_config(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(str(path), None, "pollutants", f"unusable table: {exc}") from exc
    return f"AQI edition {std.name} from {std.effective_from}: {len(std.pollutants)} scales"


def _network(path: Path) -> str:
    from pipelines.config.networks import check_input_files, load_network

    net = load_network(str(path))
    files = check_input_files(net)
    return (
        f"{net.kind} network {net.name}: {len(net.stations)} stations, "
        f"{len(net.sources)} source(s), {files} input file(s), every {net.frequency}"
    )


def _river(path: Path) -> str:
    from pipelines.config.rivers import load_river_network

    river = load_river_network(str(path))
    return f"river network {river.name}: {len(river.sections)} sections"


def _warning(path: Path) -> str:
    from pipelines.config.warnings import load_warning_config

    scheme, city = load_warning_config(str(path))
    if city is None:
        return f"warning scheme {path.stem}: {len(scheme.levels)} levels"
    return f"warning city {path.stem}: network {city.network}, {len(scheme.levels)} levels"


def _forecast(path: Path) -> str:
    from pipelines.config.forecast import forecast_config

    cfg = forecast_config()
    known = {p.stem for p in (path.parent / "networks").glob("*.yml")}
    for name in (*cfg["networks"], *cfg["run"], *cfg["run_networks"]):
        if name not in known:
            raise ConfigError(str(path), None, name, f"no network {name!r} in configs/networks")
    for name in cfg["networks"]:
        forecast_config(name)  # the merged settings of every override are valid too
    return (
        f"{len(cfg['targets'])} targets, {cfg['leads']} h, models {', '.join(cfg['models'])}; "
        f"run: {', '.join(cfg['run_networks'])}"
    )


def _model(path: Path) -> str:
    from pipelines.config.models import load_model_config

    cfg = load_model_config(path)
    return f"model {cfg['name']}: forecaster {cfg['forecaster']}" + (
        ", registered" if cfg["register"] else ""
    )


def _source(path: Path) -> str:
    from pipelines.config.source import source_config

    cfg = source_config()
    pmf = "PMF example" if "pmf_demo" in cfg else "no PMF example"
    return f"source tracing for {', '.join(cfg['run']) or 'no network'}; {pmf}"


def _nwp(path: Path) -> str:
    from pipelines.config.nwp import validate_nwp_file

    return validate_nwp_file(path)


def _schedules(path: Path) -> str:
    from pipelines.config.schedules import schedules_config

    cfg = schedules_config(path)
    return f"{len(cfg['deployments'])} deployments ({cfg['time_zone']})"


def _web(path: Path) -> str:
    from pipelines.config.web import web_config

    cfg = web_config(path)
    return f"web application on {cfg.server.host}:{cfg.server.port}, {cfg.server.workers} worker(s)"


def _access(path: Path) -> str:
    from pipelines.config.web import access_config

    cfg = access_config(path)
    return f"{len(cfg.levels)} levels, {len(cfg.roles)} roles, {len(cfg.datasets)} datasets"


def _hj212(path: Path) -> str:
    from pipelines.config.hj212 import hj212_config

    cfg = hj212_config(path)
    return f"{len(cfg.codes_2005.water)} water and {len(cfg.codes_2005.air)} air 2005 codes mapped"


def _scenario(path: Path) -> str:
    from pipelines.config.scenario import load_scenario_config
    from pipelines.config.warnings import load_warning_config

    spec, _ = load_scenario_config(str(path))
    _, city = load_warning_config(spec.warnings)
    if city is None or spec.area not in {a.id for a in city.areas}:
        raise ConfigError(
            str(path), None, "area", f"{spec.area!r} is not an area of {spec.warnings}"
        )
    return f"{len(spec.classes)} source classes on {spec.pmf.solution}"


_CHECKS: dict[str, Callable[[Path], str]] = {
    "variables": _variables,
    "qc": _qc,
    "standard": _standard,
    "network": _network,
    "river": _river,
    "warning": _warning,
    "forecast": _forecast,
    "model": _model,
    "source": _source,
    "schedules": _schedules,
    "nwp": _nwp,
    "web": _web,
    "access": _access,
    "hj212": _hj212,
    "scenario": _scenario,
}


def validate_configs(config_dir: Path) -> list[dict]:
    """Load and check every configuration file of a configuration directory.

    Parameters
    ----------
    config_dir : pathlib.Path
        The configuration directory (e.g. ``configs/``); cross-file references (a network's
        variables, a river's network, a city's network) resolve inside it.

    Returns
    -------
    list of dict
        One record per file, in the order of :data:`KINDS`: ``{"file": str, "kind": str,
        "ok": bool, "message": str}``; ``message`` is the error (file, line, field) on failure and
        a one-line summary on success. A missing ``variables.yml``, ``qc.yml`` or
        ``forecast.yml`` is a failed record.
    """
    config_dir = Path(config_dir).resolve()
    out: list[dict] = []
    with _config_dir(config_dir):
        for kind, pattern in KINDS.items():
            files = sorted(config_dir.glob(pattern))
            if not files and pattern in _REQUIRED:
                files = [config_dir / pattern]
            for path in files:
                try:
                    message, ok = _CHECKS[kind](path), True
                except ConfigError as exc:
                    message, ok = str(exc), False
                except Exception as exc:  # noqa: BLE001 - any failure of a file is reported
                    message, ok = f"{path}: {type(exc).__name__}: {exc}", False
                out.append({"file": str(path), "kind": kind, "ok": ok, "message": message})
    return out
