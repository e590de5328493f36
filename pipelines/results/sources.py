"""Source-tracing results: polar plots / CPF, PSCF / CWT, PMF runs and river upstream tracing.

What the jobs wrote:

* :func:`pipelines.tracing.air.polar_job`: ``outputs/source/<network>/polar/`` with
  ``polar_<var>.json`` and per station ``<station>_<var>_polar.png|svg``,
  ``_polar_mean.csv``, ``_polar_cpf.csv``, ``_sectors.csv``;
* :func:`pipelines.tracing.air.trajectory_job`: ``outputs/source/<network>/trajectory/`` with
  ``trajectory_<var>.json``, ``pscf_<var>.csv``, ``cwt_<var>.csv`` (``lat, lon, value,
  points``), ``trajectories_<var>.png|svg`` and ``back_trajectories.csv.gz``;
* :func:`pipelines.tracing.pmf.run_pmf`: ``outputs/pmf/<run>/`` with ``summary.json``, the
  tables of :func:`models.pmf.report.pmf_tables` and the figures;
* :func:`pipelines.tracing.water.trace_job` (``qingyuan water trace``; the main run does not
  call it): ``outputs/water/tracing/<river>_<section>_<variable>_<YYYYmmddTHH>.csv|png``.

File names handed out here are resolved by :func:`artifact_path`, which never leaves these
folders.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import base_names, iso_utc, jsonable, records
from pipelines.results.workspace import NotFound, Read, Workspace, inside, safe_name, unknown

__all__ = [
    "artifact_path",
    "pmf_run",
    "pmf_runs",
    "polar",
    "trajectory",
    "water_trace",
]

_FIGURES = (".png", ".svg")
_TABLES = (".csv", ".csv.gz")
_TRACE = re.compile(r"_(\d{8}T\d{2})$")


def _files_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _kind_of(name: str) -> str:
    if name.endswith(_FIGURES):
        return "figure"
    if name.endswith(_TABLES):
        return "table"
    return "other"


# --------------------------------------------------------------------------- polar
def _polar(net: Any, d: Path, files: list[Path]) -> dict[str, Any]:
    results = {}
    for p in files:
        if p.name.startswith("polar_") and p.suffix == ".json":
            results[p.stem.removeprefix("polar_")] = base_names(_read_json(p))
    variables = sorted(results)
    ids = sorted(net.station_ids(), key=len, reverse=True)  # longest first: "RD22" before "RD2"
    per: dict[str, dict[str, list[str]]] = {
        s: {"figures": [], "tables": []} for s in net.station_ids()
    }
    for p in files:
        sid = next((s for s in ids if p.name.startswith(f"{s}_")), None)
        kind = _kind_of(p.name)
        if sid is not None and kind != "other":
            per[sid]["figures" if kind == "figure" else "tables"].append(p.name)
    names = {s.id: s.name or s.id for s in net.stations}
    stations = []
    for sid in net.station_ids():
        res = {v: r.get("stations", {}).get(sid, {}).get(v) for v, r in results.items()}
        res = {v: x for v, x in res.items() if x is not None}
        if res or per[sid]["figures"] or per[sid]["tables"]:
            stations.append({"station": sid, "name": names[sid], "results": res, **per[sid]})
    runs = [
        {
            "variable": v,
            "file": f"polar_{v}.json",
            **{k: x for k, x in r.items() if k != "stations"},
        }
        for v, r in results.items()
    ]
    return {"network": net.name, "variables": variables, "runs": runs, "stations": stations}


def polar(ws: Workspace, network: str) -> Read:
    """Polar plot (NWR mean concentration) and CPF results of every station of a network.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: ``{network, variables, runs [{variable, file, ...}], stations [{station,
        name, results {var: {figure, figure_svg, cpf_threshold, cpf_peak_direction_deg,
        cpf_peak_speed_m_s, cpf_peak, readings}}, figures [names], tables [names]}]}`` (file
        names for :func:`artifact_path`); empty lists when no polar job ran.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)
    d = ws.outputs / "source" / net.name / "polar"
    files = _files_in(d)
    key = (str(d), tuple(p.name for p in files))
    return memo("polar", key, files=files, compute=lambda: _polar(net, d, files))


# --------------------------------------------------------------------------- trajectories
def _grid(path: Path) -> list[dict[str, Any]]:
    df = pd.read_csv(path)
    df = df.rename(columns={"points": "n"})
    keep = [c for c in ("lat", "lon", "value", "n") if c in df]
    return records(df[keep])


def _trajectory(net: Any, files: list[Path]) -> dict[str, Any]:
    by_name = {p.name: p for p in files}
    variables = sorted(
        {
            m.group(2)
            for p in files
            if (m := re.match(r"^(trajectory|pscf|cwt)_(.+)\.(json|csv)$", p.name))
        }
    )
    results = {}
    for v in variables:
        summary = by_name.get(f"trajectory_{v}.json")
        results[v] = {
            "summary": base_names(_read_json(summary)) if summary else None,
            "pscf": _grid(by_name[f"pscf_{v}.csv"]) if f"pscf_{v}.csv" in by_name else [],
            "cwt": _grid(by_name[f"cwt_{v}.csv"]) if f"cwt_{v}.csv" in by_name else [],
            "figures": [
                p.name
                for p in files
                if p.name.startswith(f"trajectories_{v}.") and _kind_of(p.name) == "figure"
            ],
        }
    tables = [p.name for p in files if _kind_of(p.name) == "table"]
    return {"network": net.name, "variables": variables, "results": results, "tables": tables}


def trajectory(ws: Workspace, network: str) -> Read:
    """Back-trajectory source maps of a network: PSCF and CWT grids and the run summary.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: ``{network, variables, results {var: {summary (trajectory_<var>.json: number
        of trajectories, wind field, peaks ...), pscf [{lat, lon, value, n}], cwt [{lat, lon,
        value, n}], figures [names]}}, tables [names]}``; ``n`` is the number of trajectory
        points in the cell, ``value`` None where no trajectory passed. Empty when no
        trajectory job ran.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)
    d = ws.outputs / "source" / net.name / "trajectory"
    files = _files_in(d)
    key = (str(d), tuple(p.name for p in files))
    return memo("trajectory", key, files=files, compute=lambda: _trajectory(net, files))


# --------------------------------------------------------------------------- PMF
def _pmf_dirs(ws: Workspace) -> list[Path]:
    root = ws.outputs / "pmf"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "summary.json").is_file())


def _run_entry(d: Path) -> dict[str, Any]:
    summary = base_names(_read_json(d / "summary.json"))
    files = summary.pop("files", {}) or {}
    return {
        "name": d.name,
        "factors": (summary.get("settings") or {}).get("factors"),
        **summary,
        "files": sorted(set(files.values()) | {p.name for p in _files_in(d)}),
    }


def pmf_runs(ws: Workspace) -> Read:
    """Return the PMF runs under ``outputs/pmf/``: folder name and ``summary.json`` fields.

    Parameters
    ----------
    ws : Workspace
        The workspace.

    Returns
    -------
    Read
        ``data``: list of ``{name, factors, inputs, settings, q_true, q_robust, q_exp,
        q_true_over_q_exp, best_run, runs_converged, bootstrap, dropped_species, categories,
        seconds, mlflow_run_id, files [names], ...}`` by name (paths given as file names).
    """
    dirs = _pmf_dirs(ws)
    files = [d / "summary.json" for d in dirs]
    key = (str(ws.outputs), tuple(d.name for d in dirs))
    return memo("pmf_runs", key, files=files, compute=lambda: [_run_entry(d) for d in dirs])


def _table(path: Path, first: str) -> list[dict[str, Any]]:
    df = pd.read_csv(path)
    if df.columns[0].startswith("Unnamed"):
        df = df.rename(columns={df.columns[0]: first})
    return records(df)


def _sample_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sample labels as ISO-8601 text (no zone: the input data's own clock) where they parse."""
    try:
        times = pd.to_datetime([r["time"] for r in rows], format="mixed")
    except (ValueError, TypeError):
        return rows
    return [
        {**r, "time": t.strftime("%Y-%m-%dT%H:%M:%S")} for r, t in zip(rows, times, strict=True)
    ]


def _pmf_run(d: Path) -> dict[str, Any]:
    entry = _run_entry(d)
    out: dict[str, Any] = {"name": d.name, "summary": entry}
    conc, pct = d / "profiles_concentration.csv", d / "profiles_percent_of_species.csv"
    out["profiles"] = {
        "concentration": _table(conc, "species") if conc.is_file() else [],
        "percent_of_species": _table(pct, "species") if pct.is_file() else [],
    }
    share = d / "factor_share_of_total.csv"
    out["factor_share"] = []
    if share.is_file():
        df = pd.read_csv(share, index_col=0)
        col = df.columns[0] if len(df.columns) else None
        total = col.removeprefix("percent_of_") if col else None
        out["factor_share"] = (
            [{"factor": str(f), "percent": jsonable(v), "total": total} for f, v in df[col].items()]
            if col
            else []
        )
    contrib = d / "contributions_normalised.csv"
    out["contributions"] = _sample_times(_table(contrib, "time")) if contrib.is_file() else []
    mapping = d / "bootstrap_mapping.csv"
    out["bootstrap_mapping"] = _table(mapping, "factor") if mapping.is_file() else []
    guide = d / "files.csv"  # what each output is and its units
    out["guide"] = _table(guide, "output") if guide.is_file() else []
    names = [p.name for p in _files_in(d)]
    out["figures"] = [n for n in names if _kind_of(n) == "figure"]
    out["tables"] = [n for n in names if _kind_of(n) == "table"]
    return out


def pmf_run(ws: Workspace, name: str) -> Read:
    """One PMF run: factor profiles, factor shares, contributions and the files.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    name : str
        The run's folder name under ``outputs/pmf/``.

    Returns
    -------
    Read
        ``data``: ``{name, summary (as in :func:`pmf_runs`), profiles {concentration
        [{species, factor_1, ...}], percent_of_species [...]}, factor_share [{factor, percent,
        total}], contributions [{time, factor_1, ...}] (normalised; ``time`` as in the input,
        ISO-8601 without a zone), bootstrap_mapping [...], guide [{output, file, what, units}]
        (``files.csv``; empty for runs written before it), figures [names], tables [names]}``.

    Raises
    ------
    NotFound
        For a run that does not exist.
    """
    safe_name("PMF run", name)
    dirs = _pmf_dirs(ws)
    d = ws.outputs / "pmf" / name
    if d not in dirs:
        raise unknown("PMF run", name, known=[p.name for p in dirs])
    files = _files_in(d)
    return memo(
        "pmf_run", (str(d), tuple(p.name for p in files)), files=files, compute=lambda: _pmf_run(d)
    )


# --------------------------------------------------------------------------- water tracing
def _rivers_of(network: str) -> dict[str, Any]:
    from pipelines.config.rivers import list_rivers, load_river_network
    from pipelines.tracing.water import rnet_network

    out = {}
    for river in list_rivers():
        try:
            if rnet_network(river) == network:
                out[river] = load_river_network(river)
        except ValueError:  # a river file not linked to a station network
            continue
    return out


def _trace_entries(rivers: dict[str, Any], files: list[Path]) -> list[dict[str, Any]]:
    out = []
    by_name = {p.name for p in files}
    for p in files:
        if p.suffix != ".csv":
            continue
        river = next(
            (r for r in sorted(rivers, key=len, reverse=True) if p.stem.startswith(f"{r}_")), None
        )
        stamp = _TRACE.search(p.stem)
        if river is None or stamp is None:
            continue
        middle = p.stem[len(river) + 1 : stamp.start()]
        sections = sorted(rivers[river].sections, key=len, reverse=True)
        section = next((s for s in sections if middle.startswith(f"{s}_")), None)
        if section is None:
            continue
        figure = f"{p.stem}.png"
        out.append(
            {
                "river": river,
                "section": section,
                "variable": middle[len(section) + 1 :],
                "detected": iso_utc(pd.Timestamp(stamp.group(1) + "00")),
                "table": p.name,
                "figure": figure if figure in by_name else None,
                "ranking": records(pd.read_csv(p)),
            }
        )
    return sorted(out, key=lambda e: (e["detected"] or "", e["table"]), reverse=True)


def _trace_dir(ws: Workspace) -> Path:
    return ws.outputs / "water" / "tracing"


def water_trace(ws: Workspace, network: str) -> Read:
    """Upstream tracing results of a water network's river(s), newest first.

    ``qingyuan water trace`` (:func:`pipelines.tracing.water.trace_job`) writes them; the main
    run does not, so the list is usually empty.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        The network.

    Returns
    -------
    Read
        ``data``: list of ``{river, section, variable, detected (ISO-8601 UTC hour), table,
        figure (names), ranking [{reach, entry_time, position, delta, ...}]}``; empty when
        nothing was traced.

    Raises
    ------
    NotFound
        For an unknown network.
    """
    net = configs.network(network)
    files = _files_in(_trace_dir(ws))
    key = (str(ws.outputs), net.name, tuple(p.name for p in files))

    def compute() -> list[dict[str, Any]]:
        rivers = _rivers_of(net.name)
        return _trace_entries(rivers, files) if rivers else []

    return memo("water_trace", key, files=files, compute=compute)


# --------------------------------------------------------------------------- files
def _walk(root: Path) -> list[Path]:
    """Every folder under ``root`` (symbolic links to folders are not followed)."""
    if not root.is_dir():
        return []
    return [Path(d) for d, _, _ in os.walk(root)]


def artifact_path(ws: Workspace, network_or_run: str, name: str) -> Path:
    """Resolve a figure or table name of a network's source tracing or of a PMF run, safely.

    Looks in ``outputs/source/<network>/`` (and its sub-folders), ``outputs/pmf/<run>/`` and,
    for a water network, in ``outputs/water/tracing/`` (files of its rivers). A name with a
    path separator, ``..``, an absolute path or a symbolic link that leads outside these
    folders is refused.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network_or_run : str
        A network name or a PMF run name.
    name : str
        A file name as listed by :func:`polar`, :func:`trajectory`, :func:`pmf_run` or
        :func:`water_trace`.

    Returns
    -------
    pathlib.Path
        The resolved file (inside the outputs).

    Raises
    ------
    NotFound
        For an unsafe or unknown name (the message lists what exists there).
    """
    safe_name("source or PMF run", network_or_run)
    safe_name("file", name)
    roots: list[tuple[Path, list[Path]]] = []
    source = ws.outputs / "source" / network_or_run
    roots.append((source, _walk(source)))
    run = ws.outputs / "pmf" / network_or_run
    roots.append((run, [run] if run.is_dir() else []))
    trace = _trace_dir(ws)
    if network_or_run in configs.network_names() and trace.is_dir():
        rivers = _rivers_of(network_or_run)
        if any(name.startswith(f"{r}_") for r in rivers):
            roots.append((trace, [trace]))
    known: list[str] = []
    for root, folders in roots:
        for folder in folders:
            hit = inside(root, folder / name)
            if hit is not None:
                return hit
            known += [p.name for p in _files_in(folder)]
    where = f"for {network_or_run!r}"
    if not any(folders for _, folders in roots):
        raise NotFound(
            f"unknown file {name!r} {where}: no source-tracing or PMF outputs named {network_or_run!r}"
        )
    raise unknown("file", name, known=sorted(set(known)), where=where)
