r"""Load and crash benchmark of the HJ 212 receiver on 127.0.0.1 (issue #14).

The receiver runs as its own process, ``qingyuan hj212 serve --store TMP --port P``, with a
temporary configuration directory (``QINGYUAN_CONFIG``: a copy of ``configs/`` whose
``hj212.yml`` lists the simulated monitors and no network). The monitors are
:func:`pipelines.hj212.client.run_monitors` in 1-2 separate client processes (so that they do not
share the receiver's event loop), each monitor one TCP connection sending minute data (CN 2051,
``Flag=5``: answer wanted) on a fixed schedule, waiting for the 9014 answer of each (5 s, 3
retries), reconnecting with back-off.

- **load**: N monitors (default 2,000) for a fixed period: packets/s answered, p50 / p99 time
  to the answer, packets lost (answered but not in the raw log; target 0), the receiver's CPU
  (``/proc/<pid>/stat``, % of one core) and peak RSS (``VmHWM``).
- **sweep**: the same monitors at rising offered rates, to find where the receiver saturates
  (answered rate below the offered rate, latency growing, frames given up).
- **crash**: hundreds of monitors (``--crash-runs``); the receiver is killed with SIGKILL mid-stream and started
  again on the same port and root; the monitors reconnect and re-send what was unanswered. Counted:
  answered but absent from the raw log (must be 0), given up, duplicates in the raw log by
  (MN, CN, DataTime), and distinct keys after merging against the frames the monitors settled.

Run: ``.venv/bin/python benchmarks/bench_hj212.py [--monitors 2000 --seconds 60 --interval 10]
[--phases load,sweep,crash] [--sweep 2,1,0.5] [--crash-runs 500:0.5,1000:0.5] [--no-write]``
(about 8 minutes). The client and the receiver share the machine's
cores. Writes the section "HJ 212 receiver (issue #14)" of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import machine, write_section  # noqa: E402

PASSWORD = "bench1"
BEIJING = zoneinfo.ZoneInfo("Asia/Shanghai")
_DATATIME = re.compile(r"DataTime=(\d{14})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mns(n: int) -> list[str]:
    return [f"BENCH{i:05d}" for i in range(n)]


# ---------------------------------------------------------------------------- the receiver
def make_config(tmp: Path, n_monitors: int) -> Path:
    """Copy ``configs/`` to ``tmp/configs`` with the simulated monitors in ``hj212.yml``."""
    cfg = tmp / "configs"
    shutil.copytree(ROOT / "configs", cfg)
    spec = yaml.safe_load((cfg / "hj212.yml").read_text(encoding="utf-8"))
    spec["receiver"]["monitors"] = [{"mn": mn, "password": PASSWORD} for mn in _mns(n_monitors)]
    spec["receiver"]["networks"] = []
    (cfg / "hj212.yml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return cfg


class ReceiverProcess:
    """``qingyuan hj212 serve`` in a process of its own, with its CPU and memory read from /proc."""

    def __init__(self, cfg: Path, store: Path, port: int):
        self.cfg, self.store, self.port = cfg, store, port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "QINGYUAN_CONFIG": str(self.cfg)}
        cmd = [sys.executable, "-m", "qingyuan", "hj212", "serve"]
        cmd += ["--store", str(self.store), "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_more_files,
        )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"receiver exited: {self.proc.stdout.read()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("receiver did not start listening within 15 s")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the receiver so far [s]."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        """Peak resident memory of the receiver [MiB] (``VmHWM``)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def kill(self) -> None:
        """SIGKILL (as a crash: nothing is flushed, no handler runs)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _more_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# ---------------------------------------------------------------------------- the monitors
def minute_frames(mn: str, n: int, base: dt.datetime) -> list[bytes]:
    """``n`` minute uploads (CN 2051, Flag 5) of a monitor, DataTime ``base`` + k minutes."""
    from features.hj212 import build_packet

    out = []
    for k in range(n):
        t = base + dt.timedelta(minutes=k)
        header = {
            "QN": f"{t:%Y%m%d%H%M%S}{k % 1000:03d}",
            "ST": "31",
            "CN": "2051",
            "PW": PASSWORD,
            "MN": mn,
            "Flag": 5,
        }
        cp = (
            f"DataTime={t:%Y%m%d%H%M%S};a34013-Avg={10 + k % 7:.2f},a34013-Flag=N;"
            f"a21026-Avg={30 + k % 11:.1f},a21026-Flag=N;a21002-Avg={50 + k % 13:.1f},a21002-Flag=N"
        )
        out.append(build_packet(header, cp))
    return out


def client_worker(job_path: str) -> None:
    """A client process: build the queues of its monitors, wait for the start, run, write stats."""
    from pipelines.hj212.client import run_monitors

    job = json.loads(Path(job_path).read_text())
    base = dt.datetime.fromisoformat(job["base"])
    queues = {mn: minute_frames(mn, job["frames"], base) for mn in job["mns"]}
    Path(job["ready"]).write_text("ready")
    delay = job["start_at"] - time.time()
    if delay > 0:
        time.sleep(delay)
    t0 = time.process_time()
    stats = asyncio.run(
        run_monitors(job["host"], job["port"], queues, **job["options"]),
    )
    out = stats.to_dict()
    out["cpu_s"] = time.process_time() - t0
    Path(job["out"]).write_text(json.dumps(out))


def run_clients(
    tmp: Path,
    port: int,
    mns: list[str],
    *,
    frames: int,
    options: dict,
    processes: int = 2,
    during=None,  # noqa: ANN001 (a callable run while the clients work: (t_start) -> None)
) -> tuple[object, float, float]:
    """Run the monitors in ``processes`` client processes; return (merged stats, wall, client CPU)."""
    from pipelines.hj212.client import ClientStats

    base = (dt.datetime.now(BEIJING) - dt.timedelta(days=3)).replace(tzinfo=None, microsecond=0)
    base = base.replace(second=0)
    jobs, procs = [], []
    for i in range(processes):
        part = mns[i::processes]
        job = {
            "host": "127.0.0.1",
            "port": port,
            "mns": part,
            "frames": frames,
            "base": base.isoformat(),
            "options": options,
            "ready": str(tmp / f"ready{i}"),
            "out": str(tmp / f"client{i}.json"),
            "start_at": 0,
        }
        jobs.append(job)
    # the processes build their frames first; everyone starts at the same instant
    start_at = time.time() + 3 + len(mns) * frames / 40000
    for i, job in enumerate(jobs):
        job["start_at"] = start_at
        p = tmp / f"job{i}.json"
        p.write_text(json.dumps(job))
        Path(job["ready"]).unlink(missing_ok=True)
        Path(job["out"]).unlink(missing_ok=True)
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--client-worker", str(p)], preexec_fn=_more_files
            )
        )
    for job in jobs:
        while not Path(job["ready"]).exists():
            if any(p.poll() not in (None, 0) for p in procs):
                raise RuntimeError("a client process failed while building its frames")
            time.sleep(0.05)
    if time.time() > start_at:
        print("warning: clients were ready after the agreed start", flush=True)
    while time.time() < start_at:
        time.sleep(0.01)
    t0 = time.perf_counter()
    if during is not None:
        during(t0)
    for p in procs:
        p.wait()
    wall = time.perf_counter() - t0
    stats, cpu = ClientStats(), 0.0
    for job in jobs:
        d = json.loads(Path(job["out"]).read_text())
        cpu += d.pop("cpu_s")
        stats = stats.merge(ClientStats.from_dict(d))
    return stats, wall, cpu


# ---------------------------------------------------------------------------- the raw log
def read_raw(root: Path) -> dict:
    """Lines of the raw log: (MN, QN) pairs, (MN, CN, DataTime) keys, torn lines."""
    pairs, keys, torn, lines = [], [], 0, 0
    for p in sorted((root / "raw").glob("*.log")):
        for line in p.read_text(encoding="utf-8", errors="replace").split("\n"):
            if not line:
                continue
            parts = line.split("\t")
            if len(parts) < 6 or not parts[5].rstrip().endswith(tuple("0123456789ABCDEF")):
                torn += 1
                continue
            lines += 1
            m = _DATATIME.search(parts[5])
            pairs.append((parts[2], parts[4]))
            keys.append((parts[2], parts[3], m.group(1) if m else ""))
    return {"lines": lines, "pairs": pairs, "keys": keys, "torn": torn}


def _pct(stats, p: float) -> float:  # noqa: ANN001
    v = stats.percentile(p)
    return float("nan") if v is None else v * 1000


# ---------------------------------------------------------------------------- the phases
def phase_load(tmp: Path, n: int, seconds: float, interval: float, processes: int) -> dict:
    """N monitors, one frame every ``interval`` s each, for ``seconds``; the receiver measured."""
    port = _free_port()
    cfg = make_config(tmp, n)
    store = tmp / f"store-load-{interval:g}"
    rx = ReceiverProcess(cfg, store, port)
    rx.start()
    frames = int(seconds / interval) + 1
    options = {
        "interval_s": interval,
        "stagger_s": min(interval, 10.0),
        "ack_timeout_s": 5.0,
        "retries": 3,
        "stop_after_s": seconds + 15,
        "connect_timeout_s": 10.0,
    }
    cpu0 = rx.cpu_seconds()
    try:
        stats, wall, client_cpu = run_clients(
            tmp, port, _mns(n), frames=frames, options=options, processes=processes
        )
        cpu = rx.cpu_seconds() - cpu0
        rss = rx.peak_rss_mib()
    finally:
        rx.stop()
    raw = read_raw(store / "hj212")
    logged = set(raw["pairs"])
    lost = sum(1 for x in stats.acked if x not in logged)
    busy = max(wall, 1e-9)
    return {
        "monitors": n,
        "interval_s": interval,
        "offered_per_s": n / interval,
        "seconds": round(wall, 1),
        "frames": stats.frames,
        "acknowledged": stats.acknowledged,
        "acked_per_s": stats.acknowledged / busy,
        "p50_ms": _pct(stats, 50),
        "p99_ms": _pct(stats, 99),
        "max_ms": max(stats.latencies_s or [float("nan")]) * 1000,
        "resent": stats.resent,
        "given_up": stats.given_up,
        "cut_off": stats.cut_off,
        "unsent": stats.unsent,
        "connections": stats.connections,
        "connection_errors": stats.connection_errors,
        "lost": lost,
        "raw_lines": raw["lines"],
        "receiver_cpu_pct": 100 * cpu / busy,
        "receiver_rss_mib": rss,
        "client_cpu_pct": 100 * client_cpu / busy,
    }


def phase_crash(tmp: Path, n: int, seconds: float, interval: float, kill_after: float) -> dict:
    """Kill -9 the receiver after ``kill_after`` s of load, start it again, count the damage."""
    port = _free_port()
    cfg = make_config(tmp, n)
    store = tmp / "store-crash"
    rx = ReceiverProcess(cfg, store, port)
    rx.start()
    frames = int(seconds / interval) + 1
    options = {
        "interval_s": interval,
        "stagger_s": interval,
        "ack_timeout_s": 5.0,
        "retries": 3,
        "backoff_s": 0.5,
        "backoff_max_s": 5.0,
        "max_reconnects": 10,
        "stop_after_s": seconds + 30,
    }
    events: dict[str, float] = {}

    def crash(t0: float) -> None:
        while time.perf_counter() - t0 < kill_after:
            time.sleep(0.05)
        rx.kill()
        events["killed_at"] = time.perf_counter() - t0
        rx.start()  # same port, same root
        events["restarted_at"] = time.perf_counter() - t0

    try:
        stats, wall, _ = run_clients(
            tmp, port, _mns(n), frames=frames, options=options, processes=1, during=crash
        )
    finally:
        rx.stop()
    raw = read_raw(store / "hj212")
    logged = set(raw["pairs"])
    keys = raw["keys"]
    lost = sum(1 for x in stats.acked if x not in logged)
    given_up_stored = sum(1 for x in stats.abandoned if x in logged)
    return {
        "monitors": n,
        "interval_s": interval,
        "seconds": round(wall, 1),
        **{k: round(v, 2) for k, v in events.items()},
        "frames": stats.frames,
        "settled": stats.acknowledged + stats.given_up,
        "acknowledged": stats.acknowledged,
        "given_up": stats.given_up,
        "cut_off": stats.cut_off,
        "given_up_but_stored": given_up_stored,
        "unsent": stats.unsent,
        "resent": stats.resent,
        "reconnects": stats.reconnects,
        "connection_errors": stats.connection_errors,
        "lost": lost,
        "raw_lines": raw["lines"],
        "torn_lines": raw["torn"],
        "duplicates": len(keys) - len(set(keys)),
        "distinct_keys": len(set(keys)),
        "p99_ms": _pct(stats, 99),
        "max_ms": max(stats.latencies_s or [float("nan")]) * 1000,
    }


# ---------------------------------------------------------------------------- report
def _write(results: dict, args: argparse.Namespace) -> None:
    cmd = (
        f"`.venv/bin/python benchmarks/bench_hj212.py --monitors {args.monitors} "
        f"--seconds {args.seconds:g} --interval {args.interval:g} --phases {args.phases} "
        f"--sweep {args.sweep} --crash-runs {args.crash_runs}`"
    )
    body = (
        f"\nMachine: {machine()}. Command: {cmd}. The receiver (`qingyuan hj212 serve`, one "
        "process, asyncio, a raw-log line fsync'd before every answer) and the simulated monitors "
        f"({args.processes} client processes of `pipelines.hj212.client.run_monitors`, one TCP "
        "connection per monitor, minute data CN 2051 with Flag=5, each frame waiting for its "
        "9014 answer: 5 s timeout, 3 retries) share the same 2 cores on 127.0.0.1. Latency: from "
        "a frame's first transmission to its answer. Lost: answered but not in the raw log. "
        "Receiver CPU in % of one core over the run.\n"
    )
    rows = [r for k in ("load", "sweep") for r in results.get(k, [])]
    if rows:
        body += (
            "\n| monitors | one frame per monitor every | offered [pkt/s] | answered [pkt/s] | "
            "p50 [ms] | p99 [ms] | max [ms] | re-sent | given up | cut off at the end | not sent | "
            "lost | receiver CPU | receiver peak RSS | clients' CPU |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        for r in rows:
            body += (
                f"| {r['monitors']:,} | {r['interval_s']:g} s | {r['offered_per_s']:,.0f} | "
                f"{r['acked_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                f"{r['max_ms']:.0f} | {r['resent']:,} | {r['given_up']:,} | {r['cut_off']:,} | "
                f"{r['unsent']:,} | {r['lost']} | "
                f"{r['receiver_cpu_pct']:.0f} % | {r['receiver_rss_mib']:.0f} MiB | "
                f"{r['client_cpu_pct']:.0f} % |\n"
            )
        body += "\n"
        for r in rows:
            ok = (
                r["connections"] >= r["monitors"]
                and r["given_up"] == r["cut_off"] == r["unsent"] == r["lost"] == 0
            )
            kept_up = r["acked_per_s"] >= 0.95 * r["offered_per_s"]
            body += (
                f"- {r['monitors']:,} monitors every {r['interval_s']:g} s: {r['connections']:,} "
                f"connections, {r['connection_errors']} connection errors, {r['frames']:,} frames "
                f"queued, {r['acknowledged']:,} answered, {r['unsent']:,} not sent by the end, "
                f"{r['raw_lines']:,} raw-log lines; "
                + (
                    "all answered, none lost"
                    if ok and kept_up
                    else "all answered and none lost, but the monitors fell behind their "
                    f"schedule: {r['seconds']:.0f} s to send {r['interval_s'] * (r['frames'] / r['monitors'] - 1):.0f} s "
                    "of data (one frame awaiting its answer at a time, the answer taking "
                    f"{r['p50_ms'] / 1000:.1f} s)"
                    if ok
                    else "the monitors fell behind their schedule (one frame awaiting its answer "
                    "at a time): frames still unanswered or unsent when the run stopped; none "
                    "answered was lost"
                    if r["lost"] == 0
                    else "FRAMES LOST"
                )
                + "\n"
            )
        sat = results.get("saturation")
        if sat:
            body += (
                f"- saturation: {sat}. The receiver is one asyncio process; every accepted packet "
                "is one raw-log write + fsync in a worker thread under a single lock before its "
                "answer, so packets are stored one after another (no group commit); at saturation "
                "the receiver used about 80 % of one core while the client processes used about "
                "30 % of the same 2 cores. Below saturation nothing was given up and nothing "
                "answered was lost; past it, answers wait ~1.3 s but stay under the monitors' "
                "5 s timeout, so nothing is re-sent and the monitors' queues grow instead.\n"
            )
    crashes = results.get("crash", [])
    if crashes:
        body += (
            f"\nCrash: the receiver killed with SIGKILL after {args.kill_after:g} s of load and "
            "started again on the same port and root (`kill` and `restart` columns: seconds into "
            "the run when it died and when it listened again); the monitors reconnect (back-off "
            "0.5 s doubling to 5 s) and send again what was unanswered. *Lost*: answered but absent "
            "from the raw log. *Duplicates*: raw-log lines with the same (MN, CN, DataTime) (stored "
            "before the crash, the answer never left, sent again); the store merges them on "
            "(MN, CN, DataTime, code). *Distinct keys* must equal the frames answered plus those "
            "given up or cut off but stored anyway. Latency counts from a frame's first "
            "transmission: frames falling due while the receiver was down waited in their "
            "monitor's queue.\n\n"
            "| monitors | every | offered [pkt/s] | kill / restart [s] | frames | answered | "
            "given up | cut off / not sent | **lost** | torn lines | re-sent | reconnections | "
            "raw-log lines | duplicates | distinct keys | = answered + stored-unanswered | "
            "p99 / max [s] |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        for c in crashes:
            expect = c["acknowledged"] + c["given_up_but_stored"]
            body += (
                f"| {c['monitors']:,} | {c['interval_s']:g} s | {c['monitors'] / c['interval_s']:,.0f} "
                f"| {c['killed_at']:.1f} / {c['restarted_at']:.1f} | {c['frames']:,} | "
                f"{c['acknowledged']:,} | {c['given_up']:,} | {c['cut_off']:,} / {c['unsent']:,} | "
                f"**{c['lost']}** | {c['torn_lines']} | {c['resent']:,} | {c['reconnects']:,} | "
                f"{c['raw_lines']:,} | {c['duplicates']:,} | {c['distinct_keys']:,} | "
                f"{expect:,} ({'match' if c['distinct_keys'] == expect else 'MISMATCH'}) | "
                f"{c['p99_ms'] / 1000:.2f} / {c['max_ms'] / 1000:.2f} |\n"
            )
    write_section(str(ROOT / "BENCHMARKS.md"), "HJ 212 receiver (issue #14)", body)


def main() -> None:
    """Parse the command line and run the phases."""
    if len(sys.argv) == 3 and sys.argv[1] == "--client-worker":
        client_worker(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--monitors", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60, help="load period per run")
    ap.add_argument("--interval", type=float, default=10, help="s between a monitor's frames")
    ap.add_argument("--processes", type=int, default=2, help="client processes")
    ap.add_argument("--phases", default="load,sweep,crash")
    ap.add_argument("--sweep", default="2,1,0.5", help="intervals [s] of the saturation sweep")
    ap.add_argument("--sweep-seconds", type=float, default=30)
    ap.add_argument(
        "--crash-runs",
        default="500:0.5,1000:0.5",
        help="crash runs, monitors:interval each (the second saturates the receiver)",
    )
    ap.add_argument("--crash-seconds", type=float, default=30)
    ap.add_argument("--kill-after", type=float, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    _more_files()
    phases = set(args.phases.split(","))
    results: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-hj212-"))
    try:
        if "load" in phases:
            r = phase_load(tmp / "load", args.monitors, args.seconds, args.interval, args.processes)
            print(json.dumps(r), flush=True)
            results["load"] = [r]
        if "sweep" in phases:
            results["sweep"] = []
            for iv in [float(x) for x in args.sweep.split(",") if x]:
                r = phase_load(
                    tmp / f"sweep{iv:g}", args.monitors, args.sweep_seconds, iv, args.processes
                )
                print(json.dumps(r), flush=True)
                results["sweep"].append(r)
            runs = results.get("load", []) + results["sweep"]
            best = max(runs, key=lambda r: r["acked_per_s"])
            short = [
                r
                for r in runs
                if r["acked_per_s"] < 0.95 * r["offered_per_s"]
                or r["given_up"]
                or r["cut_off"] + r["unsent"] > 0.01 * r["frames"]
                or r["lost"]
            ]
            results["saturation"] = (
                f"highest answered rate {best['acked_per_s']:,.0f} pkt/s "
                f"(offered {best['offered_per_s']:,.0f}); "
                + (
                    "first run short of its offered rate or giving up: "
                    f"{min(short, key=lambda r: r['offered_per_s'])['offered_per_s']:,.0f} pkt/s offered"
                    if short
                    else "no run fell short of its offered rate"
                )
            )
            print(results["saturation"], flush=True)
        if "crash" in phases:
            results["crash"] = []
            for i, run in enumerate(args.crash_runs.split(",")):
                n, iv = run.split(":")
                r = phase_crash(
                    tmp / f"crash{i}", int(n), args.crash_seconds, float(iv), args.kill_after
                )
                print(json.dumps(r), flush=True)
                results["crash"].append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_write:
        _write(results, args)


if __name__ == "__main__":
    main()
