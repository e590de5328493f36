"""Bounded load test of the web application on 127.0.0.1, and the map's first paint in Chromium.

Serves ``qingyuan web`` (a real uvicorn process) on the store and outputs of ``make run`` and
sends a fixed number of requests per scenario (with a time cap) from 1 and from 50 concurrent
clients (httpx, asyncio), then reports p50 / p95 / p99 latency and throughput for:

- the map page (HTML with the server-rendered SVG map) and its data (``/networks/<net>/status``),
- one station's month of hourly observations (analyst token, JSON, 1000 rows a page),
- the warnings feed (``/cities/<city>/feed.json``) and the warnings list.

Then opens the map page in Chromium (Playwright, the OS package) and reads the first
contentful paint from the Performance API. Writes the section "Web application load
(issue #13)" of BENCHMARKS.md.

Run: ``.venv/bin/python benchmarks/bench_web.py [--store store --outputs outputs]
[--requests 1000] [--workers 2] [--httpx]``. The load comes from ApacheBench (``ab``, Debian
package apache2-utils) when installed, else from httpx; the client and the server share the
machine's cores (httpx alone takes most of one core at 250 req/s, which is why ab is preferred).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._machine import machine, write_section  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


async def _load(url: str, *, clients: int, requests: int, cap_s: float, headers: dict) -> dict:
    """Send ``requests`` GETs from ``clients`` concurrent clients (stop at ``cap_s``)."""
    lat: list[float] = []
    errors = 0
    todo = iter(range(requests))
    t_end = time.perf_counter() + cap_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as c:

        async def worker() -> None:
            nonlocal errors
            for _ in todo:
                if time.perf_counter() > t_end:
                    return
                t0 = time.perf_counter()
                r = await c.get(url)
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "n": len(lat),
        "errors": errors,
        "p50": 1000 * _pct(lat, 50),
        "p95": 1000 * _pct(lat, 95),
        "p99": 1000 * _pct(lat, 99),
        "mean": 1000 * statistics.fmean(lat),
        "rps": len(lat) / wall,
    }


def _load_ab(url: str, *, clients: int, requests: int, cap_s: float, headers: dict) -> dict:
    """The same load with ApacheBench (``ab -k``, C): the client takes far less of the 2 cores."""
    import re

    cmd = ["ab", "-q", "-k", "-c", str(clients), "-t", str(int(cap_s)), "-r"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd += ["-n", str(requests)]  # after -t (which would set -n 50000)
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def num(pattern: str) -> float:
        m = re.search(pattern, out, re.M)
        return float(m.group(1)) if m else 0.0

    return {
        "n": int(num(r"^Complete requests:\s+(\d+)")),
        "errors": int(num(r"^Failed requests:\s+(\d+)") + num(r"^Non-2xx responses:\s+(\d+)")),
        "p50": num(r"^\s+50%\s+(\d+)"),
        "p95": num(r"^\s+95%\s+(\d+)"),
        "p99": num(r"^\s+99%\s+(\d+)"),
        "mean": num(r"^Time per request:\s+([\d.]+) \[ms\] \(mean\)$"),
        "rps": num(r"^Requests per second:\s+([\d.]+)"),
    }


def _first_paint(url: str) -> tuple[float, float]:
    """First contentful paint and load event of ``url`` in Chromium [ms] (median of 5 cold loads)."""
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    fcp, load = [], []
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe, args=["--no-sandbox", "--disable-gpu", "--headless=new"]
        )
        for _ in range(5):
            ctx = b.new_context(viewport={"width": 1280, "height": 900})
            page = ctx.new_page()
            page.goto(url, wait_until="load")
            page.wait_for_timeout(500)  # paint entries are queued after the load event
            paints = page.evaluate(
                "Object.fromEntries(performance.getEntriesByType('paint')"
                ".map(e => [e.name, e.startTime]))"
            )
            fcp.append(
                paints.get("first-contentful-paint", paints.get("first-paint", float("nan")))
            )
            load.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            ctx.close()
        b.close()
    return statistics.median(fcp), statistics.median(load)


def main() -> None:  # noqa: D103
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=str(ROOT / "store"))
    ap.add_argument("--outputs", default=str(ROOT / "outputs"))
    ap.add_argument("--requests", type=int, default=1000, help="requests per scenario")
    ap.add_argument("--cap", type=float, default=60.0, help="time cap per scenario [s]")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--network", default="beijing")
    ap.add_argument("--station", default="Dongsi")
    ap.add_argument("--city", default="beijing")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    ap.add_argument(
        "--httpx", action="store_true", help="load with httpx (Python) even when ab is installed"
    )
    a = ap.parse_args()
    use_ab = shutil.which("ab") is not None and not a.httpx
    tmp = Path(tempfile.mkdtemp(prefix="qy-bench-web-"))
    db = f"sqlite:///{tmp / 'app.db'}"
    env = {
        **os.environ,
        "QINGYUAN_WEB_SECRET": "bench-only-secret",
        "QINGYUAN_PASSWORD": "bench password 1",
    }
    qy = [sys.executable, "-m", "qingyuan"]
    subprocess.run(
        [*qy, "users", "add", "bench", "--role", "analyst", "--database", db],
        env=env,
        check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [*qy, "users", "token", "bench", "--database", db],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed with the server
    srv = subprocess.Popen(
        [
            *qy,
            "web",
            "--store",
            a.store,
            "--outputs",
            a.outputs,
            "--database",
            db,
            "--port",
            str(port),
            "--workers",
            str(a.workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/v1/networks", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"server did not start: {(tmp / 'server.log').read_text()[-2000:]}")
        auth = {"Authorization": f"Bearer {token}"}
        last = httpx.get(f"{base}/api/v1/networks", timeout=30).json()["items"]
        net = next(n for n in last if n["name"] == a.network)
        end = net["last_time"]
        import pandas as pd

        start = (pd.Timestamp(end) - pd.Timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        scenarios = [
            ("map page (HTML + SVG)", f"{base}/?network={a.network}", {}),
            ("map data (status JSON)", f"{base}/api/v1/networks/{a.network}/status", {}),
            (
                "station month (observations JSON)",
                f"{base}/api/v1/networks/{a.network}/stations/{a.station}/observations?start={start}&end={end}&page_size=1000",
                auth,
            ),
            ("warnings feed (feed.json)", f"{base}/api/v1/cities/{a.city}/feed.json", {}),
            ("warnings list", f"{base}/api/v1/warnings?status=active", {}),
        ]
        rows = []
        for name, url, h in scenarios:
            asyncio.run(_load(url, clients=4, requests=20, cap_s=30, headers=h))  # warm the caches
            for clients in (1, 50):
                if use_ab:
                    r = _load_ab(url, clients=clients, requests=a.requests, cap_s=a.cap, headers=h)
                else:
                    r = asyncio.run(
                        _load(url, clients=clients, requests=a.requests, cap_s=a.cap, headers=h)
                    )
                rows.append((name, clients, r))
                print(
                    f"{name:38s} c={clients:<3d} n={r['n']:<5d} err={r['errors']:<3d} p50={r['p50']:7.1f} p95={r['p95']:7.1f} p99={r['p99']:7.1f} ms  {r['rps']:7.1f} req/s",
                    flush=True,
                )
        fcp, load = _first_paint(f"{base}/?network={a.network}")
        print(f"map first contentful paint {fcp:.0f} ms, load event {load:.0f} ms")
    except Exception:
        print((tmp / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        srv.terminate()
        srv.wait(20)
        log.close()
    table = [
        "| scenario | clients | requests | errors | p50 [ms] | p95 [ms] | p99 [ms] | throughput [req/s] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, clients, r in rows:
        table.append(
            f"| {name} | {clients} | {r['n']} | {r['errors']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} |"
        )
    target = [
        f"- {name} at 50 clients: p95 {r['p95']:.0f} ms -> {'met' if r['p95'] < 200 else 'NOT met'} (target < 200 ms)"
        for name, clients, r in rows
        if clients == 50 and (name.startswith("map") or name.startswith("warnings"))
    ]
    body = (
        f"\nMachine: {machine()}. Command: `.venv/bin/python benchmarks/bench_web.py --requests {a.requests} "
        f"--workers {a.workers}` on the store and outputs of `make run`; load from "
        + ("ApacheBench (`ab -k`, Debian package apache2-utils)" if use_ab else "httpx (asyncio)")
        + f" and server (uvicorn with httptools, {a.workers} worker processes) on the same 2 cores, "
        f"127.0.0.1, keep-alive; caches warmed with 20 requests first; each scenario capped at "
        f"{a.requests} requests or {a.cap:.0f} s.\n\n"
        + "\n".join(table)
        + "\n\n"
        + "\n".join(target)
        + f"\n\nMap page in Chromium (OS package, Playwright, cold context, median of 5): first contentful paint "
        f"{fcp:.0f} ms, load event {load:.0f} ms.\n"
    )
    print(body)
    if not a.no_write:
        write_section(str(ROOT / "BENCHMARKS.md"), "Web application load (issue #13)", body)


if __name__ == "__main__":
    main()
