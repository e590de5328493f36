"""Like-for-like backtest scores on the Beijing test year (issue #16).

Run: ``.venv/bin/python benchmarks/bench_like_for_like.py``. Ingests the bundled Beijing data into
a temporary store and backtests PM2.5 with persistence, climatology, LightGBM and the generic
mlforecast recipe in ONE backtest (the learned models with the network's forecast-weather
feed, the synthetic one of the bundled data; train <= 2016-02-29, test 2016-03-01 .. 2017-02-28, every
12 h, leads 1..96 h; nothing logged to MLflow). For each model and lead it reports the score on
the common sample (what the tables now show: the cells every model forecast and that were
observed, with their count ``n``) beside the score each model got on its own cells (what the
tables showed before), the model's forecast share, and the champion rule's paired test of
LightGBM against each other model over 24/48/72 h. Writes the section of BENCHMARKS.md.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

LEADS = [1, 6, 12, 24, 48, 72]
MODELS = ["persistence", "climatology", "lightgbm", "mlforecast_default"]
TITLE = "Like-for-like backtest scores, Beijing PM2.5 (issue #16)"


def main() -> None:
    """Run the backtest and write the tables."""
    from models.forecast import metrics
    from models.forecast.champion import compare
    from pipelines.config import load_network
    from pipelines.forecast.jobs import backtest_network
    from pipelines.ingest import ingest
    from pipelines.nwp.store import ingest_nwp

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("beijing", store)
        ingest_nwp(load_network("beijing"), store)  # the network's forecast-weather feed
        t0 = time.perf_counter()
        res = backtest_network(
            "beijing",
            store,
            targets=["pm25"],
            models=MODELS,
            log_to_mlflow=False,
            no_weather=False,
        )["pm25"]
        seconds = time.perf_counter() - t0
    t = res.table.set_index(["model", "lead"])
    idx = [h - 1 for h in LEADS]
    lines = [
        "| lead [h] | n (common cells) | "
        + " | ".join(f"{m} common / own RMSE (own n)" for m in res.forecasts)
        + " |",
        "|---|---|" + "---|" * len(res.forecasts),
    ]
    for h, j in zip(LEADS, idx, strict=True):
        cells = []
        for m, fc in res.forecasts.items():
            own = metrics.rmse(fc.mean, res.observed)[j]
            own_n = int(np.sum(np.isfinite(fc.mean[..., j]) & np.isfinite(res.observed[..., j])))
            cells.append(f"{t.loc[(m, h), 'rmse']:.1f} / {own:.1f} ({own_n})")
        lines.append(f"| {h} | {int(t.loc[(MODELS[0], h), 'n'])} | " + " | ".join(cells) + " |")
    share = " / ".join(f"{m} {float(t.loc[m, 'forecast_share'].mean()):.3f}" for m in res.forecasts)
    skill = " / ".join(
        f"{m} {t.loc[(m, 24), 'skill_vs_persistence']:+.3f}"
        for m in res.forecasts
        if m != "persistence"
    )
    rule = np.isin(res.leads, [24, 48, 72])
    tests = []
    for other in [m for m in res.forecasts if m != "lightgbm"]:
        c = compare(
            res.forecasts["lightgbm"].mean,
            res.forecasts[other].mean,
            res.observed,
            lead_mask=rule,
            min_improvement=0.01,
            significance=0.05,
            lag=5,  # issue times 12 h apart, leads up to 72 h: 5 overlapping neighbours
        )
        tests.append(
            f"- lightgbm vs {other} (24/48/72 h): {c.reason}; would promote: "
            f"{'yes' if c.promote else 'no'}"
        )
    failed = ", ".join(f"{k}: {v}" for k, v in res.failed.items()) or "none"
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_like_for_like.py` "
        f"({seconds / 60:.1f} min for the backtest).\n"
        f"Beijing, 12 stations, PM2.5 [ug m-3]; train <= 2016-02-29, test 2016-03-01 .. "
        f"2017-02-28, {len(res.issue_idx)} issue times every 12 h, leads 1..96 h; the models "
        f"of one backtest: {', '.join(res.forecasts)}; failed: {failed}.\n\n"
        "RMSE on the common sample (every model forecast the cell and it was observed; what the "
        "per-lead tables and the champion rule now use) and on each model's own cells (how "
        "they were scored before):\n\n" + "\n".join(lines) + "\n\n"
        f"Mean forecast share of the observed cells: {share}.\n"
        f"RMSE skill vs persistence at 24 h on the common sample: {skill}.\n\n"
        "Champion rule (1 % margin and one-sided Diebold-Mariano p <= 0.05 on the paired "
        "per-issue-time errors, Newey-West lag 5, HLN correction):\n\n" + "\n".join(tests) + "\n"
    )
    write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)
    print(body)


if __name__ == "__main__":
    main()
