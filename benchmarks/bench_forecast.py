"""Forecast benchmark on the Beijing test year (issue #3).

Run: ``.venv/bin/python benchmarks/bench_forecast.py`` (or ``make bench``). Ingests the bundled
Beijing data into a temporary store, backtests every configured model (train <= 2016-02-29, test
2016-03-01 .. 2017-02-28, rolling origin every 12 h, leads 1..96 h) with runs logged to MLflow,
times one operational forecast from the champion, and writes the tables to BENCHMARKS.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

LEADS = [1, 6, 12, 24, 48, 72]


def _table(t: pd.DataFrame, cols: list[str]) -> str:
    t = t[t["lead"].isin(LEADS)]
    head = "| model | " + " | ".join(f"{c} @ {h} h" for c in cols for h in LEADS) + " |\n"
    head += "|---|" + "---|" * (len(cols) * len(LEADS)) + "\n"
    body = ""
    for name, g in t.groupby("model", sort=False):
        g = g.set_index("lead")
        body += (
            f"| {name} | "
            + " | ".join(
                f"{g.loc[h, c]:.3f}"
                if c in ("csi", "skill_vs_persistence")
                else f"{g.loc[h, c]:.1f}"
                for c in cols
                for h in LEADS
            )
            + " |\n"
        )
    return head + body


def _daily_table(daily: pd.DataFrame) -> str:
    cols = [
        ("rmse_pm25_24h", "RMSE daily PM2.5 [ug m-3]", "{:.1f}"),
        ("rmse_aqi", "RMSE daily AQI", "{:.1f}"),
        ("aqi_category_accuracy", "AQI category accuracy", "{:.3f}"),
        ("heavy_pod", "heavy-day POD", "{:.3f}"),
        ("heavy_far", "heavy-day FAR", "{:.3f}"),
        ("heavy_csi", "heavy-day CSI", "{:.3f}"),
        ("heavy_brier", "Brier P(AQI>200)", "{:.3f}"),
    ]
    days = sorted(daily["day"].unique())
    head = "| model | " + " | ".join(f"{lab} D+{d}" for _, lab, _ in cols for d in days) + " |\n"
    head += "|---|" + "---|" * (len(cols) * len(days)) + "\n"
    body = ""
    for name, g in daily.groupby("model", sort=False):
        g = g.set_index("day")
        body += (
            f"| {name} | "
            + " | ".join(fmt.format(g.loc[d, c]) for c, _, fmt in cols for d in days)
            + " |\n"
        )
    return head + body


def _value(t: pd.DataFrame, model: str, lead: int, col: str) -> float:
    return float(t[(t.model == model) & (t.lead == lead)][col].iloc[0])


def main() -> None:
    from pipelines.config import load_network
    from pipelines.forecast.jobs import backtest_network, issue_forecast
    from pipelines.ingest import ingest
    from pipelines.nwp.store import ingest_nwp

    learned = ["lightgbm", "stgnn"]
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("beijing", store)
        ingest_nwp(load_network("beijing"), store)  # the forecast weather the models are fed
        t0 = time.perf_counter()
        res = backtest_network(
            "beijing",
            store,
            targets=["pm25", "pm10", "o3", "no2", "so2", "co"],
            models=["persistence", "climatology", *learned],
            out_dir=ROOT / "outputs" / "backtest",
        )
        generic = backtest_network(
            "beijing",
            store,
            targets=["pm25"],
            models=["persistence", "mlforecast_default"],
            log_to_mlflow=True,
        )
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        issue_forecast("beijing", store, "2017-02-20 08:00", Path(tmp) / "out")
        fc_seconds = time.perf_counter() - t0
    pm = res["pm25"]
    g = generic["pm25"].table
    t = pd.concat([pm.table, g[g.model == "mlforecast_default"]], ignore_index=True)
    r = t.pivot(index="lead", columns="model", values="rmse")
    r = r[r.index <= 72]
    best_base = np.minimum(r["persistence"], r["climatology"])
    checks = []
    for m in learned:
        gain = 1 - r[m] / best_base
        checks += [
            f"- {m} better than both baselines at every lead 1..72: "
            f"{'yes' if (r[m] < best_base).all() else 'no'} "
            f"(worst lead: {int(gain.idxmin())} h, {100 * gain.min():+.1f} % vs the better baseline).",
            f"- {m}: PM2.5 RMSE reduction vs the better baseline at 24 / 48 / 72 h: "
            f"{100 * gain[24]:.1f} % / {100 * gain[48]:.1f} % / {100 * gain[72]:.1f} % "
            f"(target >= 20 %: {'met' if (gain[[24, 48, 72]] >= 0.2).all() else 'NOT met'}).",
            f"- {m} ahead of the generic mlforecast recipe at every lead 24-72 h: "
            f"{'yes' if (r.loc[24:72, m] < r.loc[24:72, 'mlforecast_default']).all() else 'no'}.",
        ]
    fit = {m: ", ".join(f"{k} {v.fit_seconds[m]:.0f} s" for k, v in res.items()) for m in learned}
    checks += [
        f"- Training for all horizons, per target ({m}): {fit[m]} (target: < 15 min)."
        for m in learned
    ]
    checks += [
        f"- One operational forecast, all 12 stations x {int(pm.leads[-1])} h x "
        f"{len(res)} targets from the MLflow champions (model loading included): "
        f"{fc_seconds:.1f} s (target < 10 s).",
        f"- Whole benchmark wall time (all backtests, MLflow logging, figures): {total / 60:.1f} min.",
    ]
    prob = "".join(
        f"- {m}: P10-P90 coverage at 1 / 24 / 72 h = "
        + " / ".join(f"{_value(t, m, h, 'coverage_0.1_0.9'):.2f}" for h in (1, 24, 72))
        + " (nominal 0.80); Brier score of P(PM2.5 > 75) at 24 h = "
        + f"{_value(t, m, 24, 'brier'):.3f}\n"
        for m in ["climatology", *learned]
    )
    daily = pm.daily
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_forecast.py`.\n"
        "Beijing, 12 stations; train <= 2016-02-29 (validation: every 5th week of the training "
        "period, for early stopping and calibration),\n"
        "test 2016-03-01 .. 2017-02-28, rolling origin every 12 h (00:00 and 12:00 local), "
        f"leads 1..{int(pm.leads[-1])} h, valid (QC) values only.\n"
        "No future weather is used anywhere (no perfect-prognosis numbers here).\n\n"
        "PM2.5 [ug m-3]: RMSE, MAE, CSI at 75 ug m-3, RMSE skill vs persistence\n\n"
        + _table(t, ["rmse", "mae"])
        + "\n"
        + _table(t, ["csi", "skill_vs_persistence"])
        + "\nOther pollutants, RMSE [ug m-3; CO mg m-3]\n\n"
        + "\n".join(f"{k}\n\n" + _table(v.table, ["rmse"]) for k, v in res.items() if k != "pm25")
        + "\nProbabilistic (PM2.5):\n\n"
        + prob
        + "\nDaily values D+1..D+3 (local days after the issue date; daily AQI by HJ 633 from the "
        "six forecast pollutants, GB 3095 validity; heavy day = daily AQI > 200; "
        "P(AQI > 200) from comonotone quantiles):\n\n"
        + _daily_table(daily)
        + "\n"
        + "\n".join(checks)
        + "\n"
    )
    write_section(
        str(ROOT / "BENCHMARKS.md"), "Station forecasts, Beijing test year (issue #3)", body
    )
    print(body)


if __name__ == "__main__":
    main()
