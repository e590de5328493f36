"""GRIB2 NWP files (read with ecCodes): regular lat/lon grids, one message per field and step.

Every message must carry a shortName of ``configs/nwp.yml`` (``grib:``); its ``units`` key (or
the mapping's units) is converted to the registry's. Messages are grouped into runs by
``dataDate``/``dataTime`` (the issue time, UTC); the step is ``endStep`` in hours. ecCodes never
loads in this process (:mod:`pipelines.nwp.eccodes_worker` says why).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.nwp import convert_nwp_units
from features.units import UnitError
from pipelines.config.nwp import NwpMapping, load_nwp_mapping
from pipelines.config.registry import load_variables
from pipelines.errors import SourceError
from pipelines.nwp.eccodes_worker import GribError, WorkerDied, grib_messages
from pipelines.nwp.runs import GridRun, assemble_grid_run, check_issue_time

__all__ = ["read_grib"]


def _message(raw: dict) -> dict:
    """Add the issue time (``dataDate``/``dataTime`` -> naive UTC) to a decoded message."""
    date, time = raw["dataDate"], raw["dataTime"]
    issue = pd.Timestamp(f"{date:08d}") + pd.Timedelta(hours=time // 100, minutes=time % 100)
    return {**raw, "issue": issue}


def _add_message(
    runs: dict[pd.Timestamp, dict],
    file: str,
    n: int,
    msg: dict,
    mapping: NwpMapping,
    registry: dict,
    now: pd.Timestamp,
) -> None:
    """Check message ``n`` and put its values (registry units) into its run."""
    sn = msg["shortName"]
    where = f"message {n} ({sn})"
    if sn not in mapping.grib:
        raise SourceError(
            file,
            f"{where}: unknown variable {sn!r}; known shortNames: {sorted(mapping.grib)}",
            field=sn,
        )
    param = mapping.grib[sn]
    target = registry[param.variable]["units"]
    src_units = msg["units"] if msg["units"] not in ("", "~", "unknown") else param.units
    try:
        values = convert_nwp_units(msg["values"], src_units, target)
    except UnitError as exc:
        raise SourceError(
            file,
            f"{where}: units {src_units!r} do not convert to {target!r} ({exc})",
            field=sn,
        ) from exc
    check_issue_time(file, msg["issue"], now, field=sn)
    run = runs.setdefault(
        msg["issue"], {"lat": msg["lat"], "lon": msg["lon"], "vars": {}, "labels": {}}
    )
    if not (np.allclose(run["lat"], msg["lat"]) and np.allclose(run["lon"], msg["lon"])):
        raise SourceError(file, f"{where}: grid differs from the run's first message")
    per = run["vars"].setdefault(param.variable, {})
    if msg["step"] in per:
        raise SourceError(file, f"{where}: step {msg['step']:g} h given twice", field=sn)
    per[msg["step"]] = values
    run["labels"][param.variable] = sn


def _read_runs(
    file: str, mapping: NwpMapping, registry: dict, now: pd.Timestamp
) -> dict[pd.Timestamp, dict]:
    """Issue time -> axes, ``variable -> step -> values`` and shortName labels of every run."""
    runs: dict[pd.Timestamp, dict] = {}
    try:
        with grib_messages(file) as messages:
            for n, raw in enumerate(messages, start=1):
                _add_message(runs, file, n, _message(raw), mapping, registry, now)
    except GribError as exc:
        raise SourceError(file, exc.reason) from exc
    except WorkerDied as exc:
        raise SourceError(file, f"ecCodes failed on the file ({exc})") from exc
    return runs


def read_grib(
    path: Path | str,
    *,
    mapping: NwpMapping | None = None,
    step_hours: float | None = None,
    now: pd.Timestamp | None = None,
) -> list[GridRun]:
    """Read a GRIB2 file into grid runs in registry units.

    Parameters
    ----------
    path : pathlib.Path or str
        The file (one or several runs, all steps).
    mapping : NwpMapping, optional
        shortName -> registry variable (default: ``configs/nwp.yml``).
    step_hours : float, optional
        Required step spacing [h]; a gap is an error.
    now : pandas.Timestamp, optional
        The present (naive UTC; default: the clock); a later issue time is an error.

    Returns
    -------
    list of GridRun
        One per issue time, oldest first.

    Raises
    ------
    SourceError
        Naming the file, the message (number and shortName) and the reason: unreadable file,
        unknown shortName, units that cannot be converted, a grid that differs between messages,
        missing steps, an issue time in the future.
    """
    file = str(path)
    mapping = mapping or load_nwp_mapping()
    registry = load_variables()["variables"]
    now = now if now is not None else pd.Timestamp.now("UTC").tz_localize(None)
    runs = _read_runs(file, mapping, registry, now)
    if not runs:
        raise SourceError(file, "no GRIB message in the file")
    accumulated = {p.variable for p in mapping.grib.values() if p.accumulated}
    return [
        assemble_grid_run(
            file,
            issue,
            r["lat"],
            r["lon"],
            r["vars"],
            accumulated,
            step_hours=step_hours,
            labels=r["labels"],
        )
        for issue, r in sorted(runs.items())
    ]
