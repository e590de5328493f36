r"""Fuzz campaign over every input parser (issue #16): many cases per parser, failures counted.

Runs the strategies and properties of :mod:`benchmarks.fuzz_parsers` (the test suite runs the
same with few examples, ``tests/fuzz/``) for ``--examples`` cases per parser, without shrinking
(a failing case is kept as it was generated, the smallest one per kind of failure). A failure is
a *crash* (an exception other than the documented ``SourceError`` / ``ConfigError``), a broken
*property* (row accounting, a silent loss, an error naming no input file ...: AssertionError)
or a *hang* (a case past ``fuzz_parsers.HARD_LIMIT_S``). Writes the section
"Fuzzing (issue #16)" of BENCHMARKS.md (``--no-write`` to skip)::

    .venv/bin/python benchmarks/bench_fuzz.py                      # 1,500 cases per parser
    .venv/bin/python benchmarks/bench_fuzz.py --examples 200 --only csv pmf --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QINGYUAN_HOME", str(ROOT))

from benchmarks import fuzz_parsers as fp  # noqa: E402

#: Parsers whose cases give data rows (stored, merged or quarantined); the others load files
#: whose "rows" are the stations, levels and areas, sections or samples they list.
_ROW_TARGETS = ("csv", "xlsx", "http_json", "cnemc", "soil_csv")
_PROJECT = tuple(str(ROOT / d) for d in ("pipelines", "models", "features"))


class _Campaign:
    """Cases of one parser: outcome counts, failures by kind and place, the slowest case."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases = 0
        self.totals: dict[str, int] = {}
        self.failures: dict[str, dict] = {}
        self.slowest = 0.0

    def run(self, case: object) -> None:
        self.cases += 1
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"qy-fuzz-{self.name}-") as d:
            try:
                counts = fp.TARGETS[self.name].check(case, Path(d))
            except Exception as exc:  # a crash, a broken property or a hang: keep going
                self._fail(exc, case)
            else:
                for k, v in counts.items():
                    self.totals[k] = self.totals.get(k, 0) + v
        self.slowest = max(self.slowest, time.perf_counter() - t)

    def _fail(self, exc: Exception, case: object) -> None:
        kind = (
            "hang"
            if isinstance(exc, fp.Hang)
            else "property"
            if isinstance(exc, AssertionError)
            else "crash"
        )
        tb = traceback.extract_tb(exc.__traceback__)
        place = next(
            (
                f"{Path(f.filename).name}:{f.lineno}"
                for f in reversed(tb)
                if f.filename.startswith(_PROJECT)
            ),
            f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?",
        )
        key = f"{kind}: {type(exc).__name__} at {place}"
        text = repr(case)
        old = self.failures.get(key)
        if old is None or len(text) < len(old["input"]):
            self.failures[key] = {
                "kind": kind,
                "count": (old or {}).get("count", 0),
                "message": str(exc)[:300],
                "input": text,
            }
        self.failures[key]["count"] += 1

    def count(self, kind: str) -> int:
        return sum(f["count"] for f in self.failures.values() if f["kind"] == kind)


def run_target(name: str, examples: int, seed: int) -> tuple[_Campaign, float]:
    """Run ``examples`` generated cases of parser ``name``; return the campaign and its time."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    camp = _Campaign(name)

    @hseed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(fp.TARGETS[name].cases())
    def target(case: object) -> None:
        camp.run(case)

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target()
    return camp, time.perf_counter() - t0


def main() -> None:
    """Parse the command line, run the campaign, print and write the result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=1500, help="cases per parser")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--only", nargs="*", choices=sorted(fp.TARGETS), help="these parsers only")
    ap.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args()
    result = {"examples": args.examples, "seed": args.seed, "targets": {}}
    for name in args.only or list(fp.TARGETS):
        camp, took = run_target(name, args.examples, args.seed)
        result["targets"][name] = {
            "what": fp.TARGETS[name].what,
            "cases": camp.cases,
            "seconds": round(took, 1),
            "slowest_case_s": round(camp.slowest, 3),
            "crashes": camp.count("crash"),
            "property_failures": camp.count("property"),
            "hangs": camp.count("hang"),
            "totals": camp.totals,
            "failures": camp.failures,
        }
        t = result["targets"][name]
        print(
            f"{name}: {camp.cases} cases in {took:.0f} s, {t['crashes']} crashes, "
            f"{t['property_failures']} property failures, {t['hangs']} hangs",
            flush=True,
        )
        for key, f in camp.failures.items():
            print(f"  {key} ({f['count']}x): {f['message'][:200]}\n    {f['input'][:300]}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if not args.no_write:
        _write(result, args)


def _write(result: dict, args: argparse.Namespace) -> None:
    from benchmarks._machine import machine, write_section

    cmd = (
        f"`.venv/bin/python benchmarks/bench_fuzz.py --examples {args.examples} --seed {args.seed}`"
    )
    if args.only:
        cmd = cmd[:-1] + f" --only {' '.join(args.only)}`"
    rows = [
        "| parser | covers | cases run | parsed | refused (documented error) | rows counted | "
        "stored / merged / quarantined | undamaged inputs read back (or loaded) | errors without a "
        "line | crashes | property failures | hangs | slowest case |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    total_s = 0.0
    for name, t in result["targets"].items():
        c = t["totals"]
        total_s += t["seconds"]
        where = (
            f"{c.get('stored', 0):,} / {c.get('merged', 0):,} / {c.get('quarantined', 0):,}"
            if name in _ROW_TARGETS
            else "n/a"
        )
        rows.append(
            f"| {name} | {t['what']} | {t['cases']:,} | {c.get('parsed', 0):,} | "
            f"{c.get('refused', 0):,} | {c.get('rows', 0):,} | {where} | "
            f"{c.get('clean_round_trips', 0):,} | {c.get('errors_without_line', 0):,} | "
            f"**{t['crashes']}** | **{t['property_failures']}** | **{t['hangs']}** | "
            f"{t['slowest_case_s'] * 1000:.0f} ms |"
        )
    body = (
        f"\nMachine: {machine()}. Command: {cmd} ({total_s / 60:.1f} min). "
        "Strategies and properties: `benchmarks/fuzz_parsers.py` (module docstring); the test "
        "suite runs the same properties with 60-80 cases per parser, derandomised "
        "(`tests/fuzz/`, where every crash found while writing them is pinned with "
        "`@example`). A case is a valid input (~30 % left undamaged, read back exactly), or "
        "one damaged structurally (odd and random cells, blank / duplicated headers, extra and "
        "missing columns, huge numbers, NaN / inf, odd timestamps, duplicated and conflicting "
        "rows; YAML keys deleted, retyped, misspelt, duplicated) and / or at the byte level "
        "(flips, insertions, truncation, GBK / UTF-16 / Latin-1 for UTF-8, a BOM, CR line ends, "
        "control characters, damaged archives and workbook XML). Target: 0 crashes, 0 property "
        "failures, 0 hangs (limit "
        f'{fp.HARD_LIMIT_S:g} s per case). "Errors without a line" are whole-file refusals '
        "(an HTTP response, a damaged archive, a missing file).\n\n" + "\n".join(rows) + "\n"
    )
    for name, t in result["targets"].items():
        for key, f in t["failures"].items():
            body += f"\n- {name}, `{key}` ({f['count']}x): {f['message'][:200]}"
    write_section(str(ROOT / "BENCHMARKS.md"), "Fuzzing (issue #16)", body + "\n")


if __name__ == "__main__":
    main()
