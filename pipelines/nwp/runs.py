"""The in-memory forms of an NWP run: on its grid, and at the network's stations.

Every reader (:mod:`~pipelines.nwp.grib`, :mod:`~pipelines.nwp.cf_netcdf`,
:mod:`~pipelines.nwp.points`) ends in :class:`StationRun`: one run (issue time, UTC), station x
lead values of registry variables in registry units, and its provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.nwp import bilinear, deaccumulate, grid_coverage
from pipelines.config.networks import NetworkSpec
from pipelines.errors import SourceError

__all__ = ["GridRun", "StationRun", "assemble_grid_run", "check_issue_time", "grid_to_stations"]


@dataclass
class GridRun:
    """One NWP run on its regular latitude/longitude grid.

    Attributes
    ----------
    issue_time : pandas.Timestamp
        NWP issue (reference) time, naive UTC.
    steps : numpy.ndarray
        Forecast periods [h], ascending.
    lat, lon : numpy.ndarray
        Grid axes [degrees_north], [degrees_east], ascending.
    fields : dict
        Registry variable -> values, shape ``(step, lat, lon)``, registry units.
    file : str
        Source file.
    """

    issue_time: pd.Timestamp
    steps: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    fields: dict[str, np.ndarray]
    file: str


@dataclass
class StationRun:
    """One NWP run at the network's stations.

    Attributes
    ----------
    feed : str
        Feed name (network YAML ``weather_forecasts``).
    issue_time : pandas.Timestamp
        NWP issue time, naive UTC.
    stations : list of str
        Station ids (network order).
    leads : numpy.ndarray
        Forecast periods [h], ascending.
    values : dict
        Registry variable -> values, shape ``(station, lead)``, registry units.
    files : list of str
        Source files (provenance).
    method : str
        How the values reached the stations (``bilinear``, ``nearest``, ``station``).
    """

    feed: str
    issue_time: pd.Timestamp
    stations: list[str]
    leads: np.ndarray
    values: dict[str, np.ndarray]
    files: list[str] = field(default_factory=list)
    method: str = "bilinear"

    def merge(self, other: StationRun) -> StationRun:
        """Combine two parts of one run (other variables of the same issue time, same leads)."""
        if not np.array_equal(self.leads, other.leads):
            raise SourceError(
                other.files[0],
                f"run {self.issue_time:%Y-%m-%dT%H:%MZ} of feed {self.feed!r} has steps "
                f"{other.leads.tolist()} here but {self.leads.tolist()} in {self.files[0]}",
                field="step",
            )
        both = sorted(set(self.values) & set(other.values))
        if both:
            raise SourceError(
                other.files[0],
                f"run {self.issue_time:%Y-%m-%dT%H:%MZ} of feed {self.feed!r}: variable(s) "
                f"{both} also given by {self.files[0]}",
                field=both[0],
            )
        return StationRun(
            self.feed,
            self.issue_time,
            self.stations,
            self.leads,
            {**self.values, **other.values},
            [*self.files, *other.files],
            self.method,
        )


def check_issue_time(file: str, issue: pd.Timestamp, now: pd.Timestamp, field: str = "") -> None:
    """Refuse a run whose issue time lies in the future (``now``, naive UTC)."""
    if issue > now:
        raise SourceError(
            file,
            f"issue time {issue:%Y-%m-%dT%H:%MZ} is in the future (now {now:%Y-%m-%dT%H:%MZ})",
            field=field,
        )


def assemble_grid_run(
    file: str,
    issue: pd.Timestamp,
    lat: np.ndarray,
    lon: np.ndarray,
    per_var: dict[str, dict[float, np.ndarray]],
    accumulated: set[str],
    *,
    step_hours: float | None,
    labels: dict[str, str],
) -> GridRun:
    """Stack per-step fields into a :class:`GridRun`, checking that no step is missing.

    Parameters
    ----------
    file : str
        Source file (for errors).
    issue : pandas.Timestamp
        Issue time, naive UTC.
    lat, lon : numpy.ndarray
        Grid axes as in the file (any order); fields are reordered to ascending axes.
    per_var : dict
        Registry variable -> {step [h]: field (lat, lon) in registry units}.
    accumulated : set of str
        Variables accumulated from the run start (de-accumulated here).
    step_hours : float, optional
        Required spacing of the steps [h]; gaps are an error.
    labels : dict
        Registry variable -> name in the file (shortName / variable), for errors.
    """
    when = f"run {issue:%Y-%m-%dT%H:%MZ}"
    all_steps = sorted({s for steps in per_var.values() for s in steps})
    for var, steps in per_var.items():
        missing = sorted(set(all_steps) - set(steps))
        if missing:
            raise SourceError(
                file, f"{when}: missing step(s) {missing} h of {labels[var]!r}", field=labels[var]
            )
    if step_hours is not None and all_steps:
        want = np.arange(all_steps[0], all_steps[-1] + step_hours / 2, step_hours)
        gaps = sorted(set(np.round(want, 6)) - set(np.round(all_steps, 6)))
        if gaps:
            raise SourceError(
                file, f"{when}: missing step(s) {gaps} h (steps every {step_hours} h)", field="step"
            )
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    oy, ox = np.argsort(lat), np.argsort(lon)
    fields = {}
    for var, steps in per_var.items():
        stack = np.stack([steps[s] for s in all_steps])[:, oy][:, :, ox]
        fields[var] = deaccumulate(stack, axis=0) if var in accumulated else stack
    return GridRun(issue, np.asarray(all_steps, dtype="float64"), lat[oy], lon[ox], fields, file)


def grid_to_stations(run: GridRun, network: NetworkSpec, feed: str) -> StationRun:
    """Interpolate a grid run bilinearly to the network's stations.

    Raises
    ------
    SourceError
        If the grid does not cover every station (naming the stations and the grid extent).
    """
    lat = np.array([s.lat for s in network.stations])
    lon = np.array([s.lon for s in network.stations])
    inside = grid_coverage(run.lat, run.lon, lat, lon)
    if not inside.all():
        out = [s.id for s, ok in zip(network.stations, inside, strict=True) if not ok]
        raise SourceError(
            run.file,
            f"grid {run.lat[0]:g}..{run.lat[-1]:g} N, {run.lon[0]:g}..{run.lon[-1]:g} E does "
            f"not cover station(s) {out} of network {network.name!r}",
            field="grid",
        )
    values = {
        var: bilinear(run.lat, run.lon, f, lat, lon).T for var, f in sorted(run.fields.items())
    }
    return StationRun(
        feed, run.issue_time, network.station_ids(), run.steps, values, [run.file], "bilinear"
    )
