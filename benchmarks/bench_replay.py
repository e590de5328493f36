"""Warning replay benchmark on the Beijing test year (issue #4).

Run: ``.venv/bin/python benchmarks/bench_replay.py``. Ingests the bundled Beijing data into a
temporary store, then replays the daily warning decision (00:00 local) from 2016-03-01 to
2017-02-28 with forecasters trained on data up to 2016-02-29 only (the configured replay model and
persistence as the naive reference), and scores heavy episodes (>= 2 consecutive days of observed
daily AQI > 200) per area. Writes the table to BENCHMARKS.md.
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


def main() -> None:
    from pipelines.config.warnings import load_warning_config
    from pipelines.ingest import ingest
    from pipelines.warnings.replay import replay

    _, city = load_warning_config("beijing")
    r = city.replay
    models = [r["model"], "persistence"]
    results, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        ingest("beijing", store)
        for m in models:
            t0 = time.perf_counter()
            results[m] = replay(
                "beijing",
                store,
                str(r["start"]),
                str(r["end"]),
                str(r["train_end"]),
                m,
                int(r.get("issue_hour", 0)),
            )
            seconds[m] = time.perf_counter() - t0
    out = ROOT / "outputs" / "replay"
    out.mkdir(parents=True, exist_ok=True)
    head = (
        "| model | area | heavy episodes | warned (any lead) | warned >= 24 h ahead | median lead [h] "
        "| warnings issued | false alarms | false-alarm ratio | level accuracy |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = ""
    for m, res in results.items():
        for area, s in res.summaries.items():
            res.tables[area].to_csv(out / f"replay_beijing_{m}_{area}.csv", index=False)
            body += (
                f"| {m} | {area} | {s['episodes']} | {s['warned']:.0%} | {s['warned_24h_ahead']:.0%} "
                f"| {s['median_lead_hours']:.0f} | {s['warnings_issued']} | {s['false_alarms']} "
                f"| {s['false_alarm_ratio']:.0%} | "
                + (f"{s['level_accuracy']:.0%}" if np.isfinite(s["level_accuracy"]) else "-")
                + " |\n"
            )
    main_s = results[r["model"]].summaries["beijing"]
    text = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_replay.py`.\n"
        f"Daily decision at {int(r.get('issue_hour', 0)):02d}:00 local, {r['start']} .. {r['end']}, "
        f"forecasters trained on data up to {r['train_end']} only, 96-h forecasts of all six "
        "pollutants, national 2018 scheme (configs/warnings/beijing.yml), lifecycle in SQLite.\n"
        "Heavy episode: >= 2 consecutive local days with observed daily AQI > 200 (HJ 633, area-mean "
        "concentrations). Lead = first issue time whose warning window covered the episode's first "
        "day, to the start of that day. False alarm: a warning (issue to lift) whose window never "
        "covered an observed day with AQI > 200.\n\n"
        + head
        + body
        + f"\n- Targets (city area `beijing`, {r['model']}): >= 80 % of episodes warned >= 24 h "
        f"ahead: {main_s['warned_24h_ahead']:.0%} ("
        + ("met" if main_s["warned_24h_ahead"] >= 0.8 else "NOT met")
        + f"); false-alarm ratio <= 30 %: {main_s['false_alarm_ratio']:.0%} ("
        + ("met" if main_s["false_alarm_ratio"] <= 0.3 else "NOT met")
        + ").\n"
        + "".join(
            f"- Replay wall time ({m}; "
            + ("champions loaded from MLflow" if m == "champion" else "training included")
            + f"): {s / 60:.1f} min.\n"
            for m, s in seconds.items()
        )
    )
    write_section(str(ROOT / "BENCHMARKS.md"), "Warning replay, Beijing test year (issue #4)", text)
    print(text)


if __name__ == "__main__":
    main()
