"""MLflow glue: the embedded SQLite store under mlruns/, run logging, registry and champion alias."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from models.forecast.pyfunc import StationForecastModel

__all__ = ["champion_uri", "configure", "git_commit", "log_model_run", "promote_if_better"]


def configure(root: Path, cfg: dict[str, Any]) -> str:
    """Point MLflow at the tracking store and create the experiment.

    ``MLFLOW_TRACKING_URI`` wins when set (a server, or another SQLite file, e.g. in tests);
    otherwise the configured SQLite store relative to ``root`` is used
    (``sqlite:///<root>/mlruns/mlflow.db``, artifacts in ``<root>/mlruns/artifacts``).

    Returns
    -------
    str
        The experiment id.
    """
    env_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if env_uri:
        mlflow.set_tracking_uri(env_uri)
        local = env_uri.removeprefix("sqlite:///") if env_uri.startswith("sqlite:///") else None
        if local:
            Path(local).resolve().parent.mkdir(parents=True, exist_ok=True)
        artifacts = Path(local).resolve().parent / "artifacts" if local else None
    else:
        db = (root / cfg["tracking_uri"].removeprefix("sqlite:///")).resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{db}")
        artifacts = (root / cfg["artifact_root"]).resolve()
    name = cfg["experiment"]
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        return mlflow.create_experiment(
            name, artifact_location=artifacts.as_uri() if artifacts else None
        )
    return exp.experiment_id


def git_commit(root: Path) -> str:
    """Return the git commit of the code (``unknown`` outside a checkout)."""
    try:
        return subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flat(v, key + ".")
        else:
            out[key] = json.dumps(v) if isinstance(v, list) else str(v)
    return out


def log_model_run(
    *,
    experiment_id: str,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str],
    table: pd.DataFrame,
    summary_metrics: dict[str, float],
    model: Any | None = None,
    meta: dict[str, Any] | None = None,
    input_example: pd.DataFrame | None = None,
    input_weather: Any = None,
    registered_name: str | None = None,
    figures: list[Path] | None = None,
) -> tuple[str, str | None]:
    """Log one training/backtest run: params, per-lead metrics (step = lead), artifacts, model.

    ``input_example`` (recent history) and, for a model trained with a weather-forecast feed,
    ``input_weather`` (the feed's run visible at the example's last time,
    :class:`features.nwp_features.NWPRuns`) give the logged model's signature.

    Returns
    -------
    run_id : str
    model_version : str or None
        Registry version when the model was registered.
    """
    version = None
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(_flat(params))
        if "sample" in table:  # scored on the common sample of the backtest or on its own cells
            mlflow.set_tag("sample", str(table["sample"].iloc[0]))
        for col in table.select_dtypes("number").columns:
            if col == "lead":
                continue
            for lead, val in zip(table["lead"], table[col], strict=True):
                if np.isfinite(val):
                    mlflow.log_metric(col, float(val), step=int(lead))
        for k, v in summary_metrics.items():
            if np.isfinite(v):
                mlflow.log_metric(k, float(v))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "per_lead_metrics.csv"
            table.to_csv(path, index=False)
            mlflow.log_artifact(str(path))
            for fig in figures or []:
                mlflow.log_artifact(str(fig), artifact_path="figures")
            if model is not None:
                fpath, mpath = Path(tmp) / "forecaster.joblib", Path(tmp) / "meta.json"
                joblib.dump(model, fpath)
                mpath.write_text(json.dumps(meta or {}, indent=2))
                output = StationForecastModel()
                output.forecaster, output.meta = model, meta
                example_out = (
                    output.forecast(input_example, nwp=input_weather)
                    if input_example is not None
                    else None
                )
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=StationForecastModel(),
                    artifacts={"forecaster": str(fpath), "meta": str(mpath)},
                    signature=infer_signature(input_example, example_out)
                    if input_example is not None
                    else None,
                    registered_model_name=registered_name,
                    code_paths=None,
                )
                version = str(info.registered_model_version) if registered_name else None
        return run.info.run_id, version


def champion_uri(name: str) -> str:
    """``models:/<name>@champion``."""
    return f"models:/{name}@champion"


def promote_if_better(
    name: str,
    version: str,
    score: float,
    comparison: Any = None,
    *,
    backtest_key: str = "",
) -> tuple[bool, str]:
    """Move the ``champion`` alias to ``version`` when the champion rule says so.

    Parameters
    ----------
    name, version : str
        Registered model and the challenger's version.
    score : float
        The challenger's champion score on its backtest (kept in the tag ``champion_score``).
    comparison : models.forecast.champion.Comparison or None
        Challenger vs the current champion on their paired sample; None when there is a
        champion that could not forecast the challenger's backtest (it cannot stay champion).
    backtest_key : str
        Identity of the backtest (window, stride, leads), kept in the tag ``backtest_key``.

    Returns
    -------
    promoted : bool
    reason : str
    """
    client = MlflowClient()
    client.set_model_version_tag(name, version, "champion_score", f"{float(score):.6f}")
    client.set_model_version_tag(name, version, "backtest_key", backtest_key)
    try:
        current = client.get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        client.set_registered_model_alias(name, "champion", version)
        return True, "no champion yet"
    if comparison is None:
        client.set_registered_model_alias(name, "champion", version)
        return True, f"champion v{current.version} cannot forecast this backtest"
    tags = {
        "compared_with": f"v{current.version}",
        "paired_improvement": f"{comparison.improvement:.6f}",
        "paired_p_value": f"{comparison.p_value:.6g}",
        "paired_cells": str(comparison.n_cells),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if comparison.promote:
        client.set_model_version_tag(
            name, version, "challenger_result", f"won: {comparison.reason}"
        )
        client.set_registered_model_alias(name, "champion", version)
        return True, f"beats champion v{current.version}: {comparison.reason}"
    client.set_model_version_tag(
        name, version, "challenger_result", f"lost: {comparison.reason}"[:500]
    )
    return False, f"champion v{current.version} kept: {comparison.reason}"
