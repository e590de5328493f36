"""Forecast benchmark on the Beijing test year (issue #3).

Run: ``.venv/bin/python benchmarks/bench_forecast.py`` (or ``make bench``). Ingests the bundled
Beijing data into a temporary store, backtests every configured model (train <= 2016-02-29, test
2016-03-01 .. 2017-02-28, rolling origin every 12 h, leads 1..72 h) with runs logged to MLflow,
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


def main() -> None:
    from pipelines.forecasting import backtest_network, issue_forecast
    from pipelines.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("beijing", store)
        t0 = time.perf_counter()
        res = backtest_network(
            "beijing",
            store,
            targets=["pm25"],
            models=["persistence", "climatology", "lightgbm", "mlforecast_default"],
            out_dir=ROOT / "outputs" / "backtest",
        )
        others = backtest_network(
            "beijing",
            store,
            targets=["pm10", "o3", "no2"],
            models=["persistence", "climatology", "lightgbm"],
            out_dir=ROOT / "outputs" / "backtest",
        )
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        issue_forecast("beijing", store, "2017-02-20 08:00", Path(tmp) / "out")
        fc_seconds = time.perf_counter() - t0
    pm = res["pm25"]
    t = pm.table
    lgb_fit = {k: r.fit_seconds["lightgbm"] for k, r in {**res, **others}.items()}
    r = t.pivot(index="lead", columns="model", values="rmse")
    best_base = np.minimum(r["persistence"], r["climatology"])
    gain = 1 - r["lightgbm"] / best_base
    checks = [
        f"- LightGBM better than both baselines at every lead 1..72: "
        f"{'yes' if (r['lightgbm'] < best_base).all() else 'no'} "
        f"(worst lead: {int(gain.idxmin())} h, {100 * gain.min():+.1f} % vs the better baseline).",
        f"- PM2.5 RMSE reduction vs the better baseline at 24 / 48 / 72 h: "
        f"{100 * gain[24]:.1f} % / {100 * gain[48]:.1f} % / {100 * gain[72]:.1f} % (target >= 20 %: "
        f"{'met' if (gain[[24, 48, 72]] >= 0.2).all() else 'NOT met'}).",
        f"- Ahead of the generic mlforecast recipe at 24-72 h: "
        f"{'yes' if (r.loc[24:72, 'lightgbm'] < r.loc[24:72, 'mlforecast_default']).all() else 'no'}.",
        "- LightGBM training for all horizons (one model, lead as a feature; mean + 3 quantile models): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in lgb_fit.items())
        + " (target: all horizons < 15 min).",
        f"- One operational forecast, all 12 stations x 72 h x 4 targets from the MLflow champions "
        f"(model loading included): {fc_seconds:.1f} s (target < 10 s).",
        f"- Whole benchmark wall time: {total / 60:.1f} min.",
    ]
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_forecast.py`.\n"
        "Beijing, 12 stations; train <= 2016-02-29 (validation: every 5th week of the training period),\n"
        "test 2016-03-01 .. 2017-02-28, rolling origin every 12 h, leads 1..72 h, valid (QC) values only.\n"
        "No future weather is used anywhere (no perfect-prognosis numbers here).\n\n"
        "PM2.5 [ug m-3]: RMSE, MAE, CSI at 75 ug m-3, RMSE skill vs persistence\n\n"
        + _table(t, ["rmse", "mae"])
        + "\n"
        + _table(t, ["csi", "skill_vs_persistence"])
        + "\n"
        + "PM10, O3, NO2 RMSE [ug m-3]\n\n"
        + "\n".join(f"{k}\n\n" + _table(v.table, ["rmse"]) for k, v in others.items())
        + "\nProbabilistic (PM2.5, LightGBM): P10-P90 coverage at 1/24/72 h = "
        + " / ".join(
            f"{pm.table[(pm.table.model == 'lightgbm') & (pm.table.lead == h)]['coverage_0.1_0.9'].iloc[0]:.2f}"
            for h in (1, 24, 72)
        )
        + " (nominal 0.80); Brier score of P(PM2.5 > 75) at 24 h = "
        + f"{pm.table[(pm.table.model == 'lightgbm') & (pm.table.lead == 24)]['brier'].iloc[0]:.3f}"
        + f" (climatology {pm.table[(pm.table.model == 'climatology') & (pm.table.lead == 24)]['brier'].iloc[0]:.3f}).\n\n"
        + "\n".join(checks)
        + "\n"
    )
    write_section(
        str(ROOT / "BENCHMARKS.md"), "Station forecasts, Beijing test year (issue #3)", body
    )
    print(body)


if __name__ == "__main__":
    main()
