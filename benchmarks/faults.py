"""Fault campaign (issue #16): SIGKILL ingest, the store upsert and the warning job, then recover.

Used by ``benchmarks/bench_faults.py`` (>= 50 kill points, the BENCHMARKS.md section) and
``tests/pipelines/test_fault_campaign.py`` (a dozen). Everything lives under one folder.

Scenario (:func:`build`):

- network ``faultnet`` (8 stations, hourly, :data:`GENERIC` columns): batch A (2016-01-01 to
  02-20) makes the *base* store; the operation under test ingests batch B (02-10 to 03-20), whose
  upsert reads January and rewrites February and March (two partitions, one of them new);
- warning job: the Beijing city file with a webhook subscriber (cap + json, never delivered:
  ``deliver=False``); the base outputs hold the issue of 2016-12-14 (yellow, every area), the
  operation decides 2016-12-15 (upgrade to red: a transaction, a message and two outbox rows
  per area, then the CAP files, the feed and the bulletin);
- references: the base plus each operation, run once without a kill.

Operations, each in a **real process** forked from a *zygote* (one Python process that imported
everything once and computed the upsert's input block; a fork costs milliseconds where a fresh
interpreter costs ~8 s of imports): ``ingest`` (:func:`pipelines.ingest.ingest` of batch B),
``upsert`` (:meth:`pipelines.store.StationStore.upsert` of the block) and ``warn``
(:func:`pipelines.warnings.job.run_warnings`). Kill points:

- ``delay``: SIGKILL from the harness after a uniform random delay within 1.2 x the clean run's
  duration (from the fork);
- ``call``: the process SIGKILLs itself just before or just after the n-th call (n random within
  the clean run's count) of a real function on the write path: ``os.replace`` (every rename of
  an atomic write), ``os.fsync``, ``xarray.Dataset.to_netcdf``, ``pipelines.store.file_checksum``
  and SQLAlchemy ``Connection.execute`` (inside the lifecycle transactions). The functions are
  wrapped in the child only; the code under test is unchanged.

``bench_faults.py`` adds kills of ``qingyuan ingest`` (a fresh CLI process running the Prefect
flow against its temporary API server) at random delays after the server is started.

After every kill (:func:`check_after_kill`): every partition opens through the store's checksum
check, every ingest report parses, the lifecycle database has no half transition
(:func:`lifecycle_problems`). Then the operation is re-run (a fresh fork, not killed) and
:func:`check_recovered` compares with the reference: the same partitions with identical datasets
(``xarray.Dataset.identical``), every partition matching ``checksums.json``, the lifecycle tables
equal (timestamps of writing left out), no temporary file (``<name>.<pid>.tmp``) anywhere, no
Prefect API server of this campaign left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "tests") not in sys.path:  # the tests' data helpers (hourly CSV, forecast file)
    sys.path.insert(0, str(ROOT / "tests"))

__all__ = [
    "CALLS",
    "KillResult",
    "Scenario",
    "Zygote",
    "build",
    "check_after_kill",
    "check_recovered",
    "kill_once",
    "lifecycle_problems",
    "prefect_servers",
    "random_points",
]

NETWORK = "faultnet"
NOW = "2016-06-01"
ISSUE_1, ISSUE_2 = "2016-12-14 00:00", "2016-12-15 00:00"
PM25_1, PM25_2 = [60, 200, 200, 60], [200, 280, 280, 200]
GENERIC = """
name: faultnet
title: fault campaign network (SYNTHETIC)
kind: air
time_zone: Asia/Shanghai
time_label: interval_end
frequency: 1h
sources:
  - adapter: column_table
    files: ["{files}"]
    time_column: time
    station_column: site
    columns:
      pm25: {{variable: pm25, units: ug m-3}}
      pm10: {{variable: pm10, units: ug m-3}}
      co: {{variable: co, units: mg m-3}}
stations:
{stations}
"""
STATIONS = [f"S{i}" for i in range(8)]
#: The functions a ``call`` kill point counts, by operation.
CALLS = {
    "ingest": ["os.replace", "os.fsync", "to_netcdf", "file_checksum"],
    "upsert": ["os.replace", "os.fsync", "to_netcdf", "file_checksum"],
    "warn": ["execute", "os.replace"],
}
_TEMP = re.compile(r".+\.\d+\.tmp$")
#: Columns that hold the time of writing (or the audit chain's hashes over it), not the outcome:
#: left out of the comparison with the clean run (the chain is verified instead).
_WRITE_TIMES = {"at", "created", "next_attempt_at", "prev_hash", "hash"}


@dataclass
class Scenario:
    """The folders and files of a campaign (:func:`build`)."""

    root: Path
    net_a: Path
    net_b: Path
    city: Path
    forecast_1: Path
    forecast_2: Path
    base: Path
    references: dict[str, Path] = field(default_factory=dict)
    clean: dict[str, dict[str, Any]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment of the zygote and the CLI runs (threads pinned, run state in ``root``)."""
        keep = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        return keep | {
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "QINGYUAN_QC_THREADS": "1",
            "QINGYUAN_RUN_DIR": str(self.root / "run"),
            "PREFECT_HOME": str(self.root / "prefect"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "170",
            "MPLBACKEND": "Agg",
        }


def _network(path: Path, files: Path) -> Path:
    stations = "\n".join(
        f"  - {{id: {s}, name: Station {s}, lat: {39.8 + 0.03 * i:.2f}, lon: {116.3 + 0.04 * i:.2f}}}"
        for i, s in enumerate(STATIONS)
    )
    path.write_text(GENERIC.format(files=files, stations=stations), encoding="utf-8")
    return path


def build(root: Path) -> Scenario:
    """Write the scenario under ``root`` and its base state (see the module docstring).

    Runs the base ingest and the base warning job in this process (imports the pipelines).
    """
    from qy_helpers import beijing_forecast_file, hourly_csv

    from pipelines.ingest import ingest
    from pipelines.warnings.job import run_warnings

    root = Path(root)
    for batch, start, hours, seed in (
        ("a", "2016-01-01 01:00", 24 * 51, 1),
        ("b", "2016-02-10 01:00", 24 * 39, 2),
    ):
        (root / "data" / batch).mkdir(parents=True, exist_ok=True)
        hourly_csv(root / "data" / batch / f"{batch}.csv", start, hours, STATIONS, seed)
    net_a = _network(root / "net_a.yml", root / "data" / "a" / "*.csv")
    net_b = _network(root / "net_b.yml", root / "data" / "b" / "*.csv")
    city_text = (ROOT / "configs" / "warnings" / "beijing.yml").read_text(encoding="utf-8")
    hook = 'subscribers: [{url: "http://127.0.0.1:9/hook", formats: [cap, json]}]'
    city = root / "beijing.yml"
    city.write_text(re.sub(r"(?m)^subscribers: \[\].*$", hook, city_text), encoding="utf-8")
    forecasts = root / "forecasts"
    f1 = beijing_forecast_file(forecasts, ISSUE_1, PM25_1)
    f2 = beijing_forecast_file(forecasts, ISSUE_2, PM25_2)
    base = root / "base"
    ingest(str(net_a), base / "store", now=_ts(NOW))
    run_warnings(str(city), base / "outputs", forecast_path=f1, now=_ts(ISSUE_1), deliver=False)
    shutil.copyfile(net_b, base / "network.yml")
    (root / "scenario.json").write_text(json.dumps({"forecast_2": str(f2)}), encoding="utf-8")
    return Scenario(root, net_a, net_b, city, f1, f2, base)


def _ts(text: str) -> Any:
    import pandas as pd

    return pd.Timestamp(text)


# --------------------------------------------------------------------------------- the zygote
class Zygote:
    """A pre-imported process that forks one child per operation (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        From :func:`build`.
    timeout_s : float, optional
        Longest wait for the zygote to start or a child to end.
    """

    def __init__(self, scenario: Scenario, *, timeout_s: float = 300.0) -> None:
        self.timeout_s = timeout_s
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--zygote", str(scenario.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(scenario.root / "zygote.log").open("ab"),
            env=scenario.env(),
            cwd=scenario.root,
            text=True,
            bufsize=1,
        )
        ready = self._read()
        if ready.get("ready") is not True:
            raise RuntimeError(f"zygote did not start: {ready}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ok, _, _ = select.select([self.proc.stdout], [], [], self.timeout_s)
        line = self.proc.stdout.readline() if ok else ""
        if not line:
            raise RuntimeError(f"zygote gave no answer (exit {self.proc.poll()})")
        return json.loads(line)

    def run(
        self,
        op: str,
        work: Path,
        *,
        point: dict[str, Any] | None = None,
        kill_after: float | None = None,
    ) -> dict[str, Any]:
        """Run ``op`` on the state in ``work`` in a forked child; kill it as asked.

        Returns
        -------
        dict
            ``pid``, ``status`` (exit code, or None), ``signal`` (the killing signal, or None),
            ``seconds`` and ``counts`` (calls of :data:`CALLS` made, for a child that ended).
        """
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "work": str(work), "point": point}) + "\n")
        pid = self._read()["pid"]
        if kill_after is not None:
            time.sleep(kill_after)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        done = self._read()
        counts = Path(work) / "counts.json"
        done["counts"] = json.loads(counts.read_text()) if counts.is_file() else {}
        counts.unlink(missing_ok=True)
        return done

    def close(self) -> None:
        """End the zygote."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _zygote(root: Path) -> None:
    """The zygote's loop: one JSON request a line on stdin, answers on stdout."""
    import sqlalchemy.engine
    import xarray as xr

    import pipelines.store
    from pipelines.config import load_network, load_qc, load_variables
    from pipelines.ingest import ingest, merge_blocks, read_source
    from pipelines.normalise import normalise
    from pipelines.store import StationStore
    from pipelines.warnings.job import run_warnings

    sc_net_b = root / "net_b.yml"
    setup = json.loads((root / "scenario.json").read_text(encoding="utf-8"))
    net = load_network(str(sc_net_b))
    reg = load_variables()
    qc = load_qc(net)
    now = _ts(NOW)
    batches = [read_source(i, net) for i in range(len(net.sources))]
    block = merge_blocks(
        [normalise(b, net, reg["variables"], reg["reference_conditions"], now=now) for b in batches]
    )
    ops: dict[str, Callable[[Path], Any]] = {
        "ingest": lambda w: ingest(str(sc_net_b), w / "store", now=now),
        "upsert": lambda w: StationStore(w / "store", net, reg["variables"]).upsert(block, qc),
        "warn": lambda w: run_warnings(
            str(root / "beijing.yml"),
            w / "outputs",
            forecast_path=Path(setup["forecast_2"]),
            now=_ts(ISSUE_2),
            deliver=False,
        ),
    }
    targets: dict[str, tuple[Any, str]] = {
        "os.replace": (os, "replace"),
        "os.fsync": (os, "fsync"),
        "to_netcdf": (xr.Dataset, "to_netcdf"),
        "file_checksum": (pipelines.store, "file_checksum"),
        "execute": (sqlalchemy.engine.Connection, "execute"),
    }
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        work = Path(req["work"])
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(ops[req["op"]], work, point=req.get("point"), targets=targets)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(
            json.dumps(
                {
                    "pid": pid,
                    "status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                    "seconds": time.monotonic() - t0,
                }
            ),
            flush=True,
        )


def _child(
    op: Callable[[Path], Any],
    work: Path,
    *,
    point: dict[str, Any] | None,
    targets: dict[str, tuple[Any, str]],
) -> None:
    """Body of a forked child: count (and maybe die at) the target calls, run ``op``, exit."""
    code = 0
    try:
        log = os.open(work / "child.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(log, 1)
        os.dup2(log, 2)
        counts: Counter[str] = Counter()

        def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            def counted(*args: Any, **kwargs: Any) -> Any:
                counts[name] += 1
                hit = point is not None and point["call"] == name and counts[name] == point["n"]
                if hit and point["when"] == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                out = fn(*args, **kwargs)
                if hit:
                    os.kill(os.getpid(), signal.SIGKILL)
                return out

            return counted

        for name, (owner, attr) in targets.items():
            setattr(owner, attr, wrap(name, getattr(owner, attr)))
        op(work)
        (work / "counts.json").write_text(json.dumps(counts))
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# --------------------------------------------------------------------------------- the checks
def _partitions(store_root: Path) -> list[Path]:
    return sorted((store_root / NETWORK).glob(f"{NETWORK}_????-??.nc"))


def _store(work: Path) -> Any:
    """The station store of a state folder (its ``network.yml`` is a copy of the network's)."""
    from pipelines.config import load_network, load_variables
    from pipelines.store import StationStore

    net = load_network(str(work / "network.yml"))
    return StationStore(work / "store", net, load_variables()["variables"])


def temporaries(folder: Path) -> list[str]:
    """Temporary files (``<name>.<pid>.tmp``) anywhere under ``folder``."""
    return sorted(str(p) for p in Path(folder).rglob("*.tmp") if _TEMP.fullmatch(p.name))


def _rows(db: Path, table: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table}")]  # noqa: S608 (our names)
    finally:
        con.close()


def lifecycle_problems(db: Path, *, subscriptions: int = 2) -> list[str]:
    """Half transitions in a lifecycle database: a decision, its audit row, its message, the
    outbox rows of the message and the warning row must all be there together, or none of them.

    Parameters
    ----------
    db : pathlib.Path
        The SQLite file.
    subscriptions : int, optional
        Outbox rows per message (subscribers x formats).

    Returns
    -------
    list of str
        One line per inconsistency (empty: none).
    """
    from pipelines.warnings.store import MESSAGE_ACTIONS

    if not Path(db).is_file():
        return []
    dec, aud, msg, out, war = (
        _rows(db, t) for t in ("decisions", "audit", "messages", "outbox", "warnings")
    )
    problems = []
    key = lambda r: (r["city"], r["area"], r["issue_time"])  # noqa: E731
    audits = Counter((key(a), a["action"]) for a in aud)
    decided = {key(d) for d in dec}
    messages = {m["identifier"]: m for m in msg}
    outbox = Counter(o["identifier"] for o in out)
    for d in dec:
        if audits[(key(d), d["action"])] != 1:
            problems.append(
                f"decision {key(d)} {d['action']}: {audits[(key(d), d['action'])]} audit rows"
            )
        if d["action"] in MESSAGE_ACTIONS:
            if d["identifier"] not in messages:
                problems.append(f"decision {key(d)} {d['action']}: no message {d['identifier']}")
            if outbox[d["identifier"]] != subscriptions:
                problems.append(f"message {d['identifier']}: {outbox[d['identifier']]} outbox rows")
    for (k, action), _ in audits.items():
        if k not in decided:
            problems.append(f"audit {k} {action}: no decision")
    referenced = {d["identifier"] for d in dec if d["identifier"]}
    for ident in messages:
        if ident not in referenced:
            problems.append(f"message {ident}: no decision")
    for ident in outbox:
        if ident not in messages:
            problems.append(f"outbox rows of {ident}: no message")
    for w in war:
        mine = sorted(
            (m for m in msg if m["warning_id"] == w["id"]),
            key=lambda m: int(m["identifier"].rsplit(".", 1)[1]),
        )
        if w["version"] != len(mine):
            problems.append(f"warning {w['id']}: version {w['version']}, {len(mine)} messages")
        elif mine and w["last_identifier"] != mine[-1]["identifier"]:
            problems.append(f"warning {w['id']}: last_identifier is not its newest message")
        elif mine and (w["status"] == "lifted") != (mine[-1]["action"] == "lift"):
            problems.append(f"warning {w['id']}: status {w['status']} after {mine[-1]['action']}")
    try:  # the audit table's hash chain, where the project has one
        from pipelines.warnings.audit_chain import verify_audit
    except ImportError:
        return problems
    for status in verify_audit(str(db)):
        if not status.ok:
            problems.append(f"{status.name}: {status.problem or status.check}")
    return problems


def _db(work: Path) -> Path:
    return work / "outputs" / "warnings" / "warnings.db"


def check_after_kill(work: Path) -> dict[str, Any]:
    """What a kill left: partitions that do not open, unreadable reports, half transitions.

    Returns
    -------
    dict
        ``files_checked``, ``unreadable`` (list), ``half_transitions`` (list), ``debris``
        (temporary files left by the kill: expected, removed by the next run).
    """
    from pipelines.errors import StoreError

    st = _store(work)
    unreadable, checked = [], 0
    for p in _partitions(work / "store"):
        checked += 1
        try:
            with st.open_partition(p) as ds:
                ds.load()
        except StoreError as exc:
            unreadable.append(str(exc))
    for r in sorted((work / "store" / NETWORK / "reports").glob("*.json")):
        checked += 1
        try:
            json.loads(r.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            unreadable.append(f"{r}: {exc}")
    checked += _db(work).is_file()
    return {
        "files_checked": checked,
        "unreadable": unreadable,
        "half_transitions": lifecycle_problems(_db(work)),
        "debris": temporaries(work),
    }


def _table_state(db: Path) -> dict[str, list[tuple]]:
    out = {}
    for t in ("warnings", "decisions", "messages", "outbox", "audit"):
        rows = [{k: v for k, v in r.items() if k not in _WRITE_TIMES} for r in _rows(db, t)]
        out[t] = sorted(tuple(sorted(r.items())) for r in rows)
    return out


def check_recovered(work: Path, reference: Path) -> dict[str, Any]:
    """Compare a recovered state with the clean reference.

    Returns
    -------
    dict
        ``mismatches`` (list of str; empty: equal), ``files_checked``, ``byte_identical``
        (partitions whose bytes equal the reference's), ``temporaries`` (left after the re-run).
    """
    import xarray as xr

    mismatches, checked, same_bytes = [], 0, 0
    mine, ref = _partitions(work / "store"), _partitions(reference / "store")
    if [p.name for p in mine] != [p.name for p in ref]:
        mismatches.append(f"partitions {[p.name for p in mine]} != {[p.name for p in ref]}")
    st = _store(work)
    for row in st.verify_partitions():
        checked += 1
        if row["status"] != "ok":
            mismatches.append(f"{row['file']}: {row['status']} {row.get('reason', '')}")
    for a, b in zip(mine, ref, strict=False):
        with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
            if not da.load().identical(db.load()):
                mismatches.append(f"{a.name}: dataset differs from the clean run")
        same_bytes += a.read_bytes() == b.read_bytes()
    reports = list((work / "store" / NETWORK / "reports").glob("*.json"))
    checked += len(reports)
    if _db(reference).is_file() or _db(work).is_file():
        checked += 1
        problems = lifecycle_problems(_db(work))
        mismatches += [f"lifecycle: {p}" for p in problems]
        a, b = _table_state(_db(work)), _table_state(_db(reference))
        mismatches += [f"lifecycle table {t} differs from the clean run" for t in a if a[t] != b[t]]
        caps = lambda w: sorted(p.name for p in (w / "outputs").rglob("cap/*.xml"))  # noqa: E731
        if caps(work) != caps(reference):
            mismatches.append("CAP files differ from the clean run")
    return {
        "mismatches": mismatches,
        "files_checked": checked,
        "byte_identical": same_bytes,
        "partitions": len(mine),
        "temporaries": temporaries(work),
    }


def prefect_servers(prefect_home: Path) -> list[int]:
    """Live Prefect API server processes started with ``PREFECT_HOME=prefect_home``."""
    from pipelines.server_guard import is_prefect_server, process_start

    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = [a.decode() for a in (d / "cmdline").read_bytes().split(b"\0") if a]
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if is_prefect_server(cmd) and f"PREFECT_HOME={prefect_home}".encode() in env:
            if process_start(int(d.name)) is not None:
                found.append(int(d.name))
    return found


# --------------------------------------------------------------------------------- a campaign
@dataclass
class KillResult:
    """One kill point and what the checks found."""

    op: str
    point: str
    killed: bool
    after_kill: dict[str, Any]
    recovered: dict[str, Any]
    servers_left: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return not (
            self.after_kill["unreadable"]
            or self.after_kill["half_transitions"]
            or self.recovered["mismatches"]
            or self.recovered["temporaries"]
            or self.servers_left
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"ok": self.ok}


@contextlib.contextmanager
def fresh_copy(scenario: Scenario, name: str) -> Iterator[Path]:
    """A copy of the base state under ``<root>/work/<name>`` (removed afterwards)."""
    work = scenario.root / "work" / name
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(scenario.base, work)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def references(scenario: Scenario, zygote: Zygote) -> None:
    """Run each operation once without a kill: the references, durations and call counts."""
    for op in CALLS:
        ref = scenario.root / "references" / op
        shutil.rmtree(ref, ignore_errors=True)
        shutil.copytree(scenario.base, ref)
        done = zygote.run(op, ref)
        if done["status"] != 0:
            log = (ref / "child.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"clean {op} failed: {log}")
        scenario.references[op] = ref
        scenario.clean[op] = done


def random_points(
    scenario: Scenario, op: str, *, n: int, rng: random.Random, calls: float = 0.5
) -> list[dict[str, Any]]:
    """``n`` kill points of ``op``: about ``calls`` of them at counted calls, the rest at delays."""
    clean = scenario.clean[op]
    out = []
    for _ in range(n):
        names = [c for c in CALLS[op] if clean["counts"].get(c)]
        if names and rng.random() < calls:
            name = rng.choice(names)
            out.append(
                {
                    "call": name,
                    "n": rng.randint(1, clean["counts"][name]),
                    "when": rng.choice(["before", "after"]),
                }
            )
        else:
            out.append({"delay": round(rng.uniform(0.0, 1.2 * clean["seconds"]), 3)})
    return out


def kill_once(
    scenario: Scenario, zygote: Zygote, *, op: str, point: dict[str, Any], name: str
) -> KillResult:
    """Kill ``op`` at ``point`` on a fresh copy of the base, check, re-run, compare."""
    with fresh_copy(scenario, name) as work:
        if "delay" in point:
            done = zygote.run(op, work, kill_after=point["delay"])
            label = f"delay {point['delay']:.3f} s"
        else:
            done = zygote.run(op, work, point=point)
            label = f"{point['when']} {point['call']} #{point['n']}"
        killed = done["signal"] == signal.SIGKILL
        after = check_after_kill(work)
        again = zygote.run(op, work)
        if again["status"] != 0:
            log = (work / "child.log").read_text(errors="replace")[-2000:]
            after["unreadable"].append(f"re-run failed: {log}")
        recovered = check_recovered(work, scenario.references[op])
        return KillResult(
            op, label, killed, after, recovered, prefect_servers(scenario.root / "prefect")
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        _zygote(Path(sys.argv[2]))
    else:
        sys.exit("usage: faults.py --zygote ROOT (started by Zygote)")
