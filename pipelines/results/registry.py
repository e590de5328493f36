"""The MLflow model registry: registered forecasters, their versions, aliases and scores.

The tracking store is the one :func:`models.tracking.configure` uses: ``MLFLOW_TRACKING_URI``
when set, else ``mlflow.tracking_uri`` of ``configs/forecast.yml`` relative to the project root
(``sqlite:///<root>/mlruns/mlflow.db``). A SQLite store that does not exist is not created: the
registry is then empty.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from pipelines.config import forecast_config
from pipelines.config.locations import project_root
from pipelines.results.cache import memo
from pipelines.results.jsonable import iso_utc, jsonable
from pipelines.results.workspace import Read

__all__ = ["default_tracking_uri", "registered_models"]

_SQLITE = "sqlite:///"
# parameters of a training run that say what it is (the model's own hyper-parameters are left out)
_PARAM_SKIP = ("model.params.",)


def default_tracking_uri() -> str:
    """Return the tracking URI :func:`models.tracking.configure` would use (creating nothing).

    Returns
    -------
    str
        ``MLFLOW_TRACKING_URI``, else ``sqlite:///<project root>/<configured path>``.
    """
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    uri = forecast_config()["mlflow"]["tracking_uri"]
    if uri.startswith(_SQLITE):
        path = Path(uri.removeprefix(_SQLITE))
        return f"{_SQLITE}{(path if path.is_absolute() else project_root() / path).resolve()}"
    return uri


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri.removeprefix(_SQLITE)) if uri.startswith(_SQLITE) else None


def _ms(ms: Any) -> str | None:
    return iso_utc(dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)) if ms else None


def _models(uri: str) -> list[dict[str, Any]]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    models, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        models += list(page)
        token = page.token
        if not token:
            break
    out = []
    for rm in sorted(models, key=lambda m: m.name):
        aliases = {a: int(n) for a, n in (rm.aliases or {}).items()}
        versions = []
        found = client.search_model_versions(f"name = '{rm.name}'")
        for v in sorted(found, key=lambda v: int(v.version)):
            metrics: dict[str, Any] = {}
            params: dict[str, Any] = {}
            run_tags: dict[str, Any] = {}
            run_name = None
            if v.run_id:
                try:
                    run = client.get_run(v.run_id)
                except MlflowException:
                    run = None
                if run is not None:
                    metrics = dict(run.data.metrics)
                    params = {
                        k: p
                        for k, p in run.data.params.items()
                        if not k.startswith(_PARAM_SKIP) and len(str(p)) <= 500
                    }
                    run_tags = {
                        k: t for k, t in run.data.tags.items() if not k.startswith("mlflow.")
                    }
                    run_name = run.info.run_name
            versions.append(
                {
                    "version": int(v.version),
                    "run_id": v.run_id,
                    "run_name": run_name,
                    "created": _ms(v.creation_timestamp),
                    "source": v.source,
                    "status": v.status,
                    "aliases": sorted(
                        set(v.aliases or [])
                        | {a for a, n in aliases.items() if n == int(v.version)}
                    ),
                    "metrics": metrics,
                    "params": params,
                    "tags": dict(v.tags or {}),
                    "run_tags": run_tags,
                }
            )
        out.append(
            {
                "name": rm.name,
                "description": rm.description or None,
                "created": _ms(rm.creation_timestamp),
                "updated": _ms(rm.last_updated_timestamp),
                "aliases": aliases,
                "tags": dict(rm.tags or {}),
                "versions": versions,
            }
        )
    return jsonable(out)


def registered_models(*, tracking_uri: str | None = None) -> Read:
    """Every registered model with its versions, aliases (champion, challenger) and run scores.

    Parameters
    ----------
    tracking_uri : str, optional
        Tracking / registry URI (default: :func:`default_tracking_uri`, as the forecasters use).

    Returns
    -------
    Read
        ``data``: list of ``{name, description, created, updated, aliases {alias: version},
        tags, versions [{version, run_id, run_name, created, source, status, aliases,
        metrics (the run's metrics), params (the run's parameters without the model's
        hyper-parameters), tags (the version's), run_tags}]}`` by name; empty when the SQLite
        store does not exist (nothing is created).
    """
    uri = tracking_uri or default_tracking_uri()
    db = _sqlite_file(uri)
    if db is None:  # a tracking server (or another store): asked every time, not cached
        if uri.startswith("file:") or "://" not in uri:
            local = Path(uri.removeprefix("file://").removeprefix("file:"))
            if not local.exists():
                return Read([], None, ())
        return Read(_models(uri), None, ())
    if not db.is_file() or db.stat().st_size == 0:
        return Read([], None, ())
    return memo("registered_models", uri, files=[db], compute=lambda: _models(uri))
