"""Water-parameter forecasts on the NDFA network against persistence and climatology (issue #6).

Run: ``.venv/bin/python benchmarks/bench_water_forecast.py``. Ingests the bundled NDFA sonde data
into a temporary store and backtests every configured target of ``configs/forecast.yml:
networks.ndfa`` (hourly means of the 15-min readings; train <= 2019-10-15, test 2019-10-16 ..
2019-12-03, issues every 6 h, leads 1-72 h) with the same models, interface and backtest as air.
No MLflow logging (the benchmark must not move champions). Writes BENCHMARKS.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402


def main() -> None:
    from pipelines.forecast.jobs import backtest_network, forecast_config
    from pipelines.ingest import ingest

    cfg = forecast_config("ndfa")
    leads = cfg["report_leads"]
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("ndfa", store)
        res = backtest_network(
            "ndfa", store, log_to_mlflow=False, out_dir=ROOT / "outputs" / "water_backtest"
        )
    seconds = time.perf_counter() - t0
    for target, r in res.items():
        t = r.table[r.table["lead"].isin(leads)]
        for _, x in t.iterrows():
            rows.append(
                {"target": target, "model": x["model"], "lead": int(x["lead"]), "rmse": x["rmse"]}
            )
    df = pd.DataFrame(rows)
    piv = df.pivot_table(index=["target", "model"], columns="lead", values="rmse")
    units = {
        "dissolved_oxygen": "mg/L",
        "ph": "-",
        "turbidity": "FNU",
        "conductivity": "uS/cm",
        "water_temperature": "degC",
    }
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_water_forecast.py` "
        f"({seconds / 60:.1f} min including ingest). NDFA, hourly means of the 15-min sondes; train "
        "<= 2019-10-15, test 2019-10-16 .. 2019-12-03, issues every 6 h; RMSE by lead (h); "
        "skill = 1 - RMSE / RMSE(persistence).\n\n"
        "| target | model | "
        + " | ".join(f"{h} h" for h in leads)
        + " |\n|---|---|"
        + "---|" * len(leads)
        + "\n"
    )
    for (target, model), r in piv.iterrows():
        pers = piv.loc[(target, "persistence")]
        cells = []
        for h in leads:
            v = r[h]
            skill = 1 - v / pers[h] if model != "persistence" else None
            cells.append(f"{v:.3g}" + (f" ({skill:+.0%})" if skill is not None else ""))
        body += f"| {target} [{units.get(target, '')}] | {model} | " + " | ".join(cells) + " |\n"
    df.to_csv(ROOT / "outputs" / "water_backtest" / "water_rmse.csv", index=False)
    write_section(str(ROOT / "BENCHMARKS.md"), "Water-parameter forecasts, NDFA (issue #6)", body)


if __name__ == "__main__":
    main()
