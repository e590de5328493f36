"""National-scale hourly cycle (issue #15): a SYNTHETIC national network through the real code.

Run: ``.venv/bin/python benchmarks/bench_national.py`` (quick mode, < 10 min) or
``.venv/bin/python benchmarks/bench_national.py --full`` (2,000 air + 3,600 water stations,
scaling 250 ... 4,000, LocalCluster). ``--no-write`` prints the section without touching
BENCHMARKS.md.

Each measured case runs in a fresh subprocess (``--case``), with every path in a temporary folder:
``QINGYUAN_CONFIG`` (the checkout's configs plus the synthetic networks of
:mod:`benchmarks.national`), ``QINGYUAN_STORE``, ``QINGYUAN_OUTPUTS`` and
``MLFLOW_TRACKING_URI``. A case:

1. writes the synthetic network (YAML + CSV) and **backfills** ``--days`` of hourly data with
   :func:`pipelines.ingest.ingest` (rows/s; a year is extrapolated from it, linearly);
2. trains and registers LightGBM champions for every forecast target (``--trees`` trees per
   model, ``issue_stride`` 24 h, 2 leads per row: a cheap set-up, not part of the cycle; the
   forecast cost grows with the trees, see the section);
3. runs one **hourly cycle** on the feed of the new hour with its 72-h look-back: ingest
   (read + normalise + QC + store write: the real upsert, which rewrites the current month),
   the 96-h forecast of every target for every station
   (:func:`pipelines.forecast.jobs.issue_forecast`, what ``qingyuan forecast`` and the hourly
   flow call) and the warning decision of every city area
   (:func:`pipelines.warnings.job.run_warnings`); single process, or ``--engine local``: the
   ingest and forecast of :mod:`pipelines.engine` on a ``LocalCluster`` of 2 workers.

Peak memory per stage: the largest resident set of the process and its children, sampled every
50 ms during the stage (``/proc``). The Prefect flow wrappers are not in the timings.

``--split`` times the parts of one hourly ingest (read, normalise, plan, check, write) for the
32-node estimate. Every finished case is appended to ``$TMPDIR/bench_national_cases.jsonl``;
``--from-cases FILE [--split-json F]`` writes the section from such lines (a run stopped early).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks._machine import machine, write_section  # noqa: E402

TITLE = "National scale: hourly cycle (issue #15)"
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------------- memory
def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


class Stage:
    """Context manager timing a stage and sampling the peak RSS of the process tree.

    Parameters
    ----------
    name : str
        Stage name (the key in ``results``).
    results : dict
        Receives ``{name: {"wall_s": ..., "peak_rss_mb": ...}}``.
    """

    def __init__(self, name: str, results: dict[str, dict[str, float]]) -> None:
        self.name, self.results = name, results
        self._stop = threading.Event()
        self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            self._stop.wait(0.05)

    def __enter__(self) -> Stage:
        self.peak = _tree_rss(os.getpid())
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.results[self.name] = {"wall_s": wall, "peak_rss_mb": self.peak / 2**20}
        print(f"  {self.name}: {wall:.1f} s, peak {self.peak / 2**20:.0f} MB", flush=True)


# ---------------------------------------------------------------------------------- one case
def train_champions(network: str, store: Path, trees: int) -> dict[str, float]:
    """Register cheap LightGBM champions for every forecast target; seconds per target."""
    import mlflow
    import pandas as pd

    from models import tracking
    from models.forecast.base import create_forecaster
    from models.forecast.pyfunc import history_frame
    from pipelines.config import forecast_config, model_configs
    from pipelines.config.locations import project_root
    from pipelines.forecast.jobs import HISTORY_HOURS, _meta, load_panel

    cfg = forecast_config(network)
    exp = tracking.configure(project_root(), cfg["mlflow"])
    panel = load_panel(network, store, weather=False)
    train_end = panel.times[-24 * 3]
    params = dict(model_configs(["lightgbm"])["lightgbm"]["params"])
    params.update(issue_stride=24, leads_per_row=2, max_lead=int(cfg["leads"]))
    params["lgbm"] = {**params["lgbm"], "n_estimators": trees}
    last = int(panel.times.searchsorted(train_end, side="right") - 1)
    out = {}
    for target in cfg["targets"]:
        t0 = time.perf_counter()
        model = create_forecaster(
            "lightgbm", target, quantiles=tuple(cfg["quantiles"]), **params
        ).fit(panel, train_end)
        name = f"{network}-{target}"
        _, version = tracking.log_model_run(
            experiment_id=exp,
            run_name=f"{name}-bench-national",
            params={"target": target, "n_estimators": trees},
            tags={"network": network, "target": target, "synthetic": "true"},
            table=pd.DataFrame({"lead": [1], "rmse": [1.0]}),
            summary_metrics={},
            model=model,
            meta=_meta(panel, network, target, int(cfg["leads"]), model),
            input_example=history_frame(panel, last, HISTORY_HOURS),
            registered_name=name,
        )
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
        out[target] = time.perf_counter() - t0
    return out


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    """One measured case in this (fresh) process; returns its figures."""
    from benchmarks.national import stage, write_national

    tmp = Path(tempfile.mkdtemp(prefix="qy-national-"))
    t0 = time.perf_counter()
    ds = write_national(tmp, args.air, args.water, days=args.days, cities=args.cities)
    res: dict[str, Any] = {"air": args.air, "water": args.water, "days": args.days,
                           "cities": args.cities, "engine": args.engine, "trees": args.trees,
                           "faults": ds.faults, "rows": ds.rows,
                           "generate_s": time.perf_counter() - t0, "tmp": str(tmp)}  # fmt: skip
    os.environ.update(
        QINGYUAN_HOME=str(tmp),
        QINGYUAN_CONFIG=str(ds.config),
        QINGYUAN_STORE=str(tmp / "store"),
        QINGYUAN_OUTPUTS=str(tmp / "outputs"),
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}",
    )
    os.environ.pop("QINGYUAN_DASK_SCHEDULER", None)
    import pandas as pd

    from pipelines.ingest import ingest

    store, outputs = tmp / "store", tmp / "outputs"
    now = pd.Timestamp(ds.new_hour, tz="UTC") + pd.Timedelta(minutes=10)
    backfill: dict[str, dict[str, float]] = {}
    train: dict[str, dict[str, float]] = {}
    for net in ds.networks:
        stage(ds, net, "archive")
        with Stage(f"backfill {net}", backfill):
            rep = ingest(net, store, now=now)
        backfill[f"backfill {net}"]["rows"] = rep.rows_in
        backfill[f"backfill {net}"]["quarantined"] = rep.rows_quarantined
        t1 = time.perf_counter()
        train[net] = train_champions(net, store, args.trees)
        print(f"  train {net}: {time.perf_counter() - t1:.0f} s", flush=True)
    res["backfill"], res["train_s"] = backfill, train
    import shutil

    shutil.copytree(store, tmp / "store_after_backfill")
    res["cycle"], res["cycle_s"], res["warn"] = hourly(ds, store, outputs, now, None)
    if args.engine == "local":
        from pipelines import engine

        shutil.rmtree(store)
        shutil.copytree(
            tmp / "store_after_backfill", store
        )  # the same hour again, from the same state
        start: dict[str, dict[str, float]] = {}
        with Stage("start LocalCluster (2 workers)", start):
            cm = engine.client("local", n_workers=2)
            client = cm.__enter__()
        try:
            cyc, wall, _ = hourly(ds, store, tmp / "outputs_local", now, client)
        finally:
            cm.__exit__(None, None, None)
        res["cycle_local"], res["cycle_local_s"] = {**start, **cyc}, wall
    import resource

    res["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return res


def hourly(
    ds: Any, store: Path, outputs: Path, now: Any, client: Any
) -> tuple[dict[str, dict[str, float]], float, dict[str, Any]]:
    """One hourly cycle of every network of ``ds``: ingest, forecast, (air) warnings.

    ``client``: a Dask client (the :mod:`pipelines.engine` ingest and forecast) or None (one
    process). Returns the stages, the cycle's wall time and the warning actions.
    """
    import pandas as pd

    from benchmarks.national import stage
    from features.times import to_local
    from pipelines.forecast.jobs import issue_forecast
    from pipelines.ingest import ingest
    from pipelines.warnings.job import run_warnings

    cycle: dict[str, dict[str, float]] = {}
    warn: dict[str, Any] = {}
    t0 = time.perf_counter()
    for net in ds.networks:
        stage(ds, net, "feed")
        issue = str(to_local(pd.Timestamp(ds.new_hour), "Asia/Shanghai"))
        with Stage(f"ingest {net}", cycle):
            if client is None:
                rep = ingest(net, store, now=now)
            else:
                from pipelines import engine

                rep = engine.ingest(net, store, client=client, now=now)
        cycle[f"ingest {net}"].update(rows=rep.rows_in, new=rep.values_new,
                                      unchanged=rep.values_unchanged)  # fmt: skip
        with Stage(f"forecast {net}", cycle):
            if client is None:
                path = issue_forecast(net, store, issue, outputs)
            else:
                path = engine.forecast(net, store, issue, outputs, client=client)
        if net == "national_air":
            with Stage("warnings national (air areas)", cycle):
                wrep = run_warnings("national", outputs, path, now=now, deliver=False)
            actions: dict[str, int] = {}
            for d in wrep.applied:
                actions[d.action] = actions.get(d.action, 0) + 1
            warn = {"areas": len(wrep.applied), "actions": actions}
    return cycle, time.perf_counter() - t0, warn


def ingest_split(n_air: int, days: int) -> dict[str, float]:
    """Serial and parallel parts of one hourly ingest (air network of ``n_air`` stations).

    Backfills, then times on the feed: read (adapter), normalise, ``StationStore.plan``,
    ``StationStore.check`` (merge + QC: what :mod:`pipelines.engine` spreads over station
    groups) and ``StationStore.write`` (one writer). Seconds per part.
    """
    from benchmarks.national import stage, write_national

    tmp = Path(tempfile.mkdtemp(prefix="qy-national-split-"))
    ds = write_national(tmp, n_air, 0, days=days, cities=max(1, min(340, n_air // 6)))
    os.environ.update(QINGYUAN_HOME=str(tmp), QINGYUAN_CONFIG=str(ds.config))
    import pandas as pd

    from pipelines.config import load_network, load_qc, load_variables
    from pipelines.ingest import ingest, read_source
    from pipelines.normalise import normalise
    from pipelines.store import StationStore

    now = pd.Timestamp(ds.new_hour, tz="UTC") + pd.Timedelta(minutes=10)
    stage(ds, "national_air", "archive")
    ingest("national_air", tmp / "store", now=now)
    stage(ds, "national_air", "feed")
    net, reg = load_network("national_air"), load_variables()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    batch = read_source(0, net, tmp / "store")
    out["read"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    block = normalise(batch, net, reg["variables"], reg["reference_conditions"], now=now)
    out["normalise"] = time.perf_counter() - t0
    store = StationStore(tmp / "store", net, reg["variables"])
    with store.lock():
        t0 = time.perf_counter()
        plan = store.plan(block)
        out["plan"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        checked = store.check(block, plan, load_qc(net))
        out["check (merge + QC)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.write(plan, checked)
        out["write"] = time.perf_counter() - t0
    out["months_read"], out["months_written"] = len(plan.window), len(plan.rewrite)
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return out


def spawn(air: int, water: int, days: int, cities: int, trees: int, engine: str) -> dict:
    """Run one case in a fresh subprocess and return its JSON."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", "--air", str(air),
           "--water", str(water), "--days", str(days), "--cities", str(cities),
           "--trees", str(trees), "--engine", engine]  # fmt: skip
    print(f"case: {air} air + {water} water stations, {days} d, engine {engine}", flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    sys.stdout.write("\n".join(line for line in out.stdout.splitlines() if line.startswith("  ")))
    print(f"\n  case wall {time.perf_counter() - t0:.0f} s", flush=True)
    if out.returncode != 0:
        res = {"air": air, "water": water, "engine": engine, "error": out.stderr[-3000:]}
    else:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    with open(Path(tempfile.gettempdir(), "bench_national_cases.jsonl"), "a") as fh:
        fh.write(json.dumps(res, default=str) + "\n")
    return res


# ---------------------------------------------------------------------------------- report
def _f(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def report(
    main: dict,
    scaling: list[dict],
    local: dict | None,
    argv: str,
    split: dict | None = None,
    note: str = "",
) -> str:
    """The BENCHMARKS.md section (``split``: :func:`ingest_split` figures; ``note``: what else
    ran on the machine, said after the set-up)."""
    lines = [
        "",
        f"Machine: {machine()}. Command: `{('.venv/bin/python benchmarks/bench_national.py ' + argv).strip()}`.",
        "**SYNTHETIC** national network (`benchmarks/national.py`): positions inside a coarse outline of China, "
        f"{main.get('cities', 340)} synthetic cities (one warning area each), regional AR(1) episodes, diurnal cycles; "
        "faults: outages of 6-72 h, 2 % random gaps, sentinels, spikes, stuck sensors. Written as network YAML + "
        "CSV read by the `column_table` adapter, from a temporary `QINGYUAN_CONFIG`; store, outputs and MLflow in a "
        "temporary folder. Champions: LightGBM, "
        f"{main.get('trees')} trees per model (mean + 3 quantiles), trained on the backfill (set-up, not in the cycle). "
        "Cycle = ingest of the new hour's feed with its 72-h look-back (the real upsert: merge, QC over the window, "
        "rewrite of the current month's CF file) -> 96-h forecast of every target for every station -> warning "
        "decision per city area. Peak memory: largest RSS of the process tree, sampled every 50 ms per stage. "
        + (note or "Nothing else was declared running on the machine (`--note`)."),
        "",
    ]
    if "error" in main:
        lines.append(f"National case FAILED: ```{main['error'][-800:]}```")
        return "\n".join(lines) + "\n"
    lines += [
        f"Hourly cycle, {main['air']:,} air + {main['water']:,} water stations, single process:",
        "",
        "| stage | wall [s] | peak RSS [MB] | note |",
        "|---|---|---|---|",
    ]
    for k, v in main["cycle"].items():
        note = ""
        if k.startswith("ingest"):
            note = f"{int(v['rows']):,} rows in, {int(v['new']):,} new values, {int(v['unchanged']):,} unchanged"
        lines.append(f"| {k} | {v['wall_s']:.1f} | {v['peak_rss_mb']:.0f} | {note} |")
    total = sum(v["wall_s"] for v in main["cycle"].values())
    lines.append(
        f"| **whole cycle** | **{total:.1f}** | {max(v['peak_rss_mb'] for v in main['cycle'].values()):.0f} | target < 60 s on 2 cores |"
    )
    worst = max(main["cycle"].items(), key=lambda kv: kv[1]["wall_s"])
    lines += [
        "",
        f"- Target < 60 s: {'met' if total < 60 else 'NOT met'} ({total:.0f} s); the largest stage is `{worst[0]}` ({worst[1]['wall_s']:.0f} s, {100 * worst[1]['wall_s'] / total:.0f} %).",
    ]
    lines.append("")
    lines += ["Backfill (the same `ingest` on the archive file, one process):", "",
              "| network | rows (station-hours) | wall [s] | rows/s | peak RSS [MB] | one year, extrapolated [min] |",
              "|---|---|---|---|---|---|"]  # fmt: skip
    for k, v in main["backfill"].items():
        rps = v["rows"] / v["wall_s"]
        stations = main["air"] if "air" in k else main["water"]
        year = stations * 8760 / rps / 60
        lines.append(
            f"| {k.removeprefix('backfill ')} | {int(v['rows']):,} | {v['wall_s']:.1f} | {rps:,.0f} | {v['peak_rss_mb']:.0f} | {year:.0f} |"
        )
    lines.append(
        f"\nThe year is extrapolated linearly from the {main['days']}-day backfill (not measured): one "
        "upsert per month in sequence; memory stays that of one month's upsert."
    )
    tr = {n: sum(t.values()) for n, t in main["train_s"].items()}
    lines.append(
        "Champion set-up (not in the cycle): "
        + ", ".join(f"{n} {s:.0f} s" for n, s in tr.items())
        + f". The champions have {main.get('trees')} trees per model: LightGBM prediction time "
        "grows with the trees, and a champion trained with the project's settings (up to 1,000 "
        "trees, early stopping) may have many more, so the forecast stage here is a LOWER bound "
        "for such a champion (not measured)."
    )
    for net, f in (main.get("faults") or {}).items():
        lines.append(
            f"Faults injected, {net} (backfill + new hour): "
            + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in f.items())
            + "."
        )
    warn = main.get("warn") or {}
    if warn:
        acts = ", ".join(f"{k} {v}" for k, v in sorted(warn.get("actions", {}).items()))
        lines.append(
            f"Warning job: {warn.get('areas', 0)} areas decided ({acts}); the Prefect flow "
            "wrappers (`hourly`, `warn`) are not in the timings."
        )
    if scaling:
        lines += ["", "Scaling, air network only (stations; ~1 area per 6 stations), single process:", "",
                  "| air stations | ingest [s] | forecast [s] | warnings [s] | cycle [s] | s per 1,000 stations | peak RSS [MB] |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for c in scaling:
            if "error" in c:
                lines.append(f"| {c['air']:,} | failed | | | | | |")
                continue
            cy = c["cycle"]
            i, f_, w = (cy["ingest national_air"]["wall_s"], cy["forecast national_air"]["wall_s"],
                        cy["warnings national (air areas)"]["wall_s"])  # fmt: skip
            tot = i + f_ + w
            peak = max(v["peak_rss_mb"] for k, v in cy.items() if "water" not in k)
            lines.append(
                f"| {c['air']:,} | {i:.1f} | {f_:.1f} | {w:.1f} | {tot:.1f} | {1000 * tot / c['air']:.1f} | {peak:.0f} |"
            )
    if len(scaling) >= 2 and all("cycle" in c for c in scaling):
        lines.append(
            "\nIngest and forecast grow about linearly with the stations above ~1,000 (a fixed "
            "cost of model loading and set-up dominates the small networks); the warning job grows "
            "with the number of areas (capped at 340 here), about "
            f"{1000 * scaling[-1]['cycle']['warnings national (air areas)']['wall_s'] / 340:.0f} ms per area."
        )
    lines.append("")
    if local is None:
        lines.append("LocalCluster (2 workers): **not measured** in this run; command: "
                     "`.venv/bin/python benchmarks/bench_national.py --full`.")  # fmt: skip
    elif "error" in local:
        lines.append(f"LocalCluster (2 workers): FAILED: ```{local['error'][-600:]}```")
    else:
        lines += ["LocalCluster (2 worker processes, `pipelines.engine.ingest` / `engine.forecast`), same network:", "",
                  "| stage | single [s] | LocalCluster [s] | LocalCluster peak RSS, all processes [MB] |",
                  "|---|---|---|---|"]  # fmt: skip
        for k, v in local["cycle"].items():
            s = main["cycle"].get(k, {}).get("wall_s")
            lines.append(f"| {k} | {_f(s)} | {v['wall_s']:.1f} | {v['peak_rss_mb']:.0f} |")
        tot_l = sum(v["wall_s"] for v in local["cycle"].values())
        tot_s = sum(v["wall_s"] for v in main["cycle"].values())
        lines.append(f"| **whole cycle** | **{tot_s:.1f}** | **{tot_l:.1f}** | |")
    if split:
        lines += ["", f"Parts of one hourly ingest, {split.get('stations', 2000):,} air stations "
                  "(`--split`: the steps of `pipelines.ingest.ingest` timed one by one; "
                  f"{int(split['months_read'])} months read, {int(split['months_written'])} rewritten):", "",
                  "| read (adapter) | normalise | plan | check (merge + QC) | write (one writer) |",
                  "|---|---|---|---|---|",
                  "| " + " | ".join(f"{split[k]:.1f} s" for k in ("read", "normalise", "plan", "check (merge + QC)", "write")) + " |"]  # fmt: skip
    lines += ["", cluster_paragraph(main, split)]
    return "\n".join(lines) + "\n"


def cluster_paragraph(main: dict, split: dict | None) -> str:
    """ "On a 32-node cluster": the cycle re-composed from measured per-stage costs."""
    if "cycle" not in main:
        return ""
    cy = main["cycle"]
    parts = ("read", "normalise", "plan", "check (merge + QC)", "write")
    serial = 0.5  # not measured: assumed half
    if split:
        serial = sum(split[k] for k in parts if k != "check (merge + QC)") / sum(
            split[k] for k in parts
        )
    n_t = {"national_air": 6, "national_water": 5}
    per_net = {}
    for net, k in n_t.items():
        if f"ingest {net}" not in cy:
            continue
        ing = cy[f"ingest {net}"]["wall_s"]
        ing32 = ing * serial + ing * (1 - serial) / 32
        tgt = cy[f"forecast {net}"]["wall_s"] / k
        warn = (
            cy.get("warnings national (air areas)", {}).get("wall_s", 0.0)
            if net == "national_air"
            else 0.0
        )
        per_net[net] = (ing, ing32, tgt, warn, ing32 + tgt + warn)
    est = max(v[4] for v in per_net.values())
    detail = "; ".join(
        f"{net}: ingest {v[0]:.0f} -> {v[1]:.0f} s, slowest target ~{v[2]:.0f} s"
        + (f", warnings {v[3]:.0f} s" if v[3] else "")
        + f" = {v[4]:.0f} s"
        for net, v in per_net.items()
    )
    return (
        "**On a 32-node cluster** (an estimate from the per-stage costs above, not measured): "
        f"the ingest's serial part (read, normalise, plan, the one writer: {100 * serial:.0f} % of "
        "its time in `--split`) stays; its merge + QC spreads over station groups (`engine.ingest`). "
        "The forecast runs one Dask task per target (6 air, 5 water), never per station group, so it "
        "cannot go below its slowest target (taken as the measured total / targets). The warning job "
        "(area outlooks, lifecycle in SQLite, a chart per area, CAP files, bulletin) is one process "
        f"and stays serial. With the air and water cycles running side by side: {detail}; a cycle "
        f"of about {est:.0f} s, bound by the serial parts. Beyond ~6 nodes per network the cluster "
        "adds nothing unless the forecast is split by station group and the warning job by area "
        "(neither exists in the code). The store must be on a shared file system, and the one "
        "writer rewrites the whole month's file every hour."
    )


def main() -> None:
    """Parse the flags; run one case (``--case``) or the whole benchmark."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", action="store_true", help="run one case here, print JSON")
    p.add_argument("--full", action="store_true", help="the national sizes (default: quick)")
    p.add_argument("--air", type=int, default=None)
    p.add_argument("--water", type=int, default=None)
    p.add_argument("--days", type=int, default=36)
    p.add_argument("--cities", type=int, default=None)
    p.add_argument("--trees", type=int, default=30)
    p.add_argument("--engine", choices=["single", "local"], default="single")
    p.add_argument("--scaling", default=None, help="comma-separated air station counts")
    p.add_argument("--no-local", action="store_true", help="skip the LocalCluster case")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--no-write", action="store_true", help="print, do not write BENCHMARKS.md")
    p.add_argument("--split", action="store_true", help="time the parts of one hourly ingest")
    p.add_argument("--from-cases", type=Path, help="write the section from saved case lines")
    p.add_argument("--note", default="", help="what else ran on the machine (for the report)")
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)
    p.add_argument("--split-json", type=Path, default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.from_cases:
        cases = [json.loads(x) for x in a.from_cases.read_text().splitlines() if x.strip()]
        main_case = next(c for c in cases if c.get("water"))
        sizes = sorted({int(x) for x in (a.scaling or "250,500,1000,2000,4000").split(",")})
        by_air = {c["air"]: c for c in cases if not c.get("water")}
        by_air.setdefault(main_case["air"], main_case)
        sc = [by_air[n] for n in sizes if n in by_air]
        missing = [n for n in sizes if n not in by_air]
        local = {"cycle": main_case["cycle_local"]} if "cycle_local" in main_case else None
        split = json.loads(a.split_json.read_text()) if a.split_json else None
        body = report(main_case, sc, local, a.command or "--full", split, a.note)
        if missing:
            body += f"\nScaling points not measured in this run (time limit): {missing}.\n"
        if not a.no_write:
            write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)
        print(body)
        return
    if a.split:
        print(json.dumps(ingest_split(a.air or 2000, a.days)))
        return
    if a.case:
        a.air = 500 if a.air is None else a.air
        a.water = 0 if a.water is None else a.water
        a.cities = a.cities or max(1, min(340, a.air // 6))
        print(json.dumps(run_case(a), default=str))
        return
    air = a.air or (2000 if a.full else 500)
    water = a.water if a.water is not None else (3600 if a.full else 900)
    cities = a.cities or (340 if a.full else 85)
    scaling = [
        int(x)
        for x in (a.scaling or ("250,500,1000,2000,4000" if a.full else "250,500")).split(",")
        if x
    ]
    t0 = time.perf_counter()
    main_case = spawn(air, water, a.days, cities, a.trees, "single" if a.no_local else "local")
    sc = []
    for n in scaling:
        if n == air and "cycle" in main_case:
            sc.append(main_case)  # the air network of the national case is this point
        else:
            sc.append(spawn(n, 0, a.days, max(1, min(340, n // 6)), a.trees, "single"))
    local = (
        None
        if a.no_local or "cycle_local" not in main_case
        else {"cycle": main_case["cycle_local"]}
    )
    if "error" in main_case:
        local = main_case
    cmd = [sys.executable, str(Path(__file__).resolve()), "--split", "--air", str(air)]
    out = subprocess.run(cmd + ["--days", str(a.days)], capture_output=True, text=True, cwd=ROOT)
    split = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    argv = " ".join(sys.argv[1:])
    body = report(main_case, sc, local, argv, split, a.note)
    body += f"\nWhole benchmark: {(time.perf_counter() - t0) / 60:.1f} min.\n"
    Path(tempfile.gettempdir(), "bench_national.json").write_text(
        json.dumps({"main": main_case, "scaling": sc, "local": local}, default=str, indent=1)
    )
    if not a.no_write:
        write_section(str(ROOT / "BENCHMARKS.md"), TITLE, body)
    print(body)


if __name__ == "__main__":
    main()
