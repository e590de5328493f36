"""Fault campaign (issue #16): SIGKILL of ingest, the store upsert and the warning job.

Ten kill points of :mod:`benchmarks.faults` (``benchmarks/bench_faults.py`` runs more than 50):
real processes forked from one pre-imported zygote, killed with SIGKILL either at a counted call
on the write path (the windows that matter: between the checksum manifest and the renames,
between two renames, inside a lifecycle transaction, inside a CAP file write) or at a random
delay. After each kill every partition opens through its checksum and the lifecycle database
has no half transition; after the re-run the store and the database equal a clean run's, and no
temporary file or Prefect server is left.
"""

from __future__ import annotations

import random

import pytest

from benchmarks import faults

POINTS = [
    ("ingest", {"call": "os.replace", "n": 2, "when": "before"}),  # manifest pending, no rename
    ("ingest", {"call": "os.replace", "n": 2, "when": "after"}),  # one of two partitions renamed
    ("ingest", {"call": "os.replace", "n": 4, "when": "before"}),  # renamed, manifest not final
    ("ingest", {"call": "to_netcdf", "n": 2, "when": "before"}),  # one temporary written
    ("upsert", {"call": "os.fsync", "n": 1, "when": "after"}),
    ("upsert", {"call": "file_checksum", "n": 3, "when": "before"}),
    ("warn", {"call": "execute", "n": 20, "when": "before"}),  # inside an area's transaction
    ("warn", {"call": "os.replace", "n": 1, "when": "before"}),  # CAP file half-published
]
RANDOM_DELAYS = {"ingest": 1, "warn": 1}  # and one random delay each (seeded)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    sc = faults.build(tmp_path_factory.mktemp("faults"))
    zygote = faults.Zygote(sc)
    try:
        faults.references(sc, zygote)
        yield sc, zygote
    finally:
        zygote.close()


def _points(sc):
    rng = random.Random(16)
    out = list(POINTS)
    for op, n in RANDOM_DELAYS.items():
        out += [
            (op, {"delay": round(rng.uniform(0.2, 0.9) * sc.clean[op]["seconds"], 3)})
            for _ in range(n)
        ]
    return out


def test_the_clean_runs_write_what_the_kill_points_count_on(campaign):
    sc, _ = campaign
    counts = {op: sc.clean[op]["counts"] for op in faults.CALLS}
    # manifest, 2 partitions, final manifest, report, report chain head
    assert counts["ingest"]["os.replace"] >= 4 and counts["ingest"]["to_netcdf"] == 2
    assert counts["upsert"]["os.fsync"] >= 2
    assert counts["warn"]["execute"] > 20 and counts["warn"]["os.replace"] >= 1
    assert faults.lifecycle_problems(faults._db(sc.references["warn"])) == []


def test_every_kill_point_recovers_to_the_clean_run(campaign):
    sc, zygote = campaign
    failures, killed = [], 0
    for i, (op, point) in enumerate(_points(sc)):
        res = faults.kill_once(sc, zygote, op=op, point=point, name=f"k{i}")
        killed += res.killed
        if not res.ok:
            failures.append(res.to_dict())
    assert failures == []
    assert killed >= len(POINTS)  # every counted point was reached and killed the process
