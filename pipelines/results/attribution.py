"""Enterprise attribution results: which enterprises explain an ambient anomaly.

What the job wrote: :func:`pipelines.tracing.enterprises.enterprise_job` (``qingyuan attribute
enterprises``, the main run's supervision step, the API's attribution job) writes, per
analysed anomaly, ``outputs/tracing/<network>/enterprises/<station>_<variable>_<YYYYmmddTHH>``
``.json`` (the result with its provenance), ``.csv`` (the ranking) and ``_series.csv``.

Server paths in the JSON (store folders, file paths) are handed out as names only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pipelines.results import configs
from pipelines.results.cache import memo
from pipelines.results.jsonable import base_names
from pipelines.results.workspace import NotFound, Read, Workspace, unknown

__all__ = ["attribution", "attributions"]

#: ``<station>_<variable>_<YYYYmmddTHH>.json``: one analysed anomaly.
_RESULT = re.compile(r"^(?P<stem>[\w.\-]+_\d{8}T\d{2})\.json$")
#: Ranked enterprises shown per anomaly in the listing.
TOP = 3


def _dir(ws: Workspace, network: str) -> Path:
    net = configs.network(network)
    if net.kind not in ("air", "water"):
        raise NotFound(
            f"network {network!r} is a {net.kind} network: enterprises are ranked for an "
            "anomaly at an air station or water section"
        )
    return ws.outputs / "tracing" / net.name / "enterprises"


def _results(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*.json") if _RESULT.match(p.name)) if d.is_dir() else []


def _public(path: Path) -> dict[str, Any]:
    res = json.loads(path.read_text(encoding="utf-8"))
    prov = dict(res.get("provenance") or {})
    for key in ("ambient_store",):
        if key in prov:
            prov[key] = Path(str(prov[key])).name
    if isinstance(prov.get("source_stores"), dict):
        prov["source_stores"] = {k: Path(str(v)).name for k, v in prov["source_stores"].items()}
    res["provenance"] = prov
    res["files"] = {k: Path(str(v)).name for k, v in (res.get("files") or {}).items()}
    res["id"] = _RESULT.match(path.name)["stem"]
    return base_names(res)


def _summary(res: dict[str, Any]) -> dict[str, Any]:
    ranked = [r for r in res.get("ranking", []) if r.get("rank") is not None]
    return {
        "id": res["id"],
        "station": res.get("station"),
        "medium": res.get("medium"),
        "variable": res.get("variable"),
        "at": res.get("at"),
        "observed": res.get("observed"),
        "excess": res.get("excess"),
        "anomaly_z": res.get("anomaly_z"),
        "units": res.get("units"),
        "source_networks": res.get("source_networks", []),
        "synthetic": bool(res.get("provenance", {}).get("synthetic")),
        "top": [
            {k: r.get(k) for k in ("rank", "enterprise", "name", "score", "share", "status")}
            for r in ranked[:TOP]
        ],
    }


def attributions(ws: Workspace, network: str) -> Read:
    """Every enterprise attribution analysed for the anomalies of an ambient network.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        An air or water network.

    Returns
    -------
    Read
        ``data``: list of ``{id, station, medium, variable, at, observed, excess, anomaly_z,
        units, source_networks, synthetic, top [{rank, enterprise, name, score, share,
        status}]}``, newest anomaly first; empty when none was analysed.

    Raises
    ------
    NotFound
        For an unknown network or one that is not air or water.
    """
    files = _results(_dir(ws, network))
    key = tuple((str(p)) for p in files)

    def compute() -> list[dict[str, Any]]:
        rows = [_summary(_public(p)) for p in files]
        return sorted(rows, key=lambda r: (str(r["at"]), r["id"]), reverse=True)

    return memo("attributions", key, files=files, compute=compute)


def attribution(ws: Workspace, network: str, result_id: str) -> Read:
    """One enterprise attribution: the full ranking with its evidence, notes and provenance.

    Parameters
    ----------
    ws : Workspace
        The workspace.
    network : str
        An air or water network.
    result_id : str
        ``<station>_<variable>_<YYYYmmddTHH>`` as listed by :func:`attributions`.

    Returns
    -------
    Read
        ``data``: the job's result (:func:`pipelines.tracing.enterprises.enterprise_job`) with
        ``id``; paths reduced to names.

    Raises
    ------
    NotFound
        For an unknown network or result (the message lists the known ones).
    """
    files = {p.name.removesuffix(".json"): p for p in _results(_dir(ws, network))}
    if result_id not in files:
        raise unknown("attribution", result_id, known=sorted(files), where=f"of {network!r}")
    path = files[result_id]
    return memo("attribution", str(path), files=[path], compute=lambda: _public(path))
