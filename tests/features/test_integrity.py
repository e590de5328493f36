"""Hash chains: canonical serialisation, the link hash, and the first break of a chain."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from features.integrity import (
    GENESIS,
    ChainRecord,
    canonical_json,
    record_hash,
    verify_chain,
)


def test_canonical_json_is_sorted_compact_utf8_with_stable_values():
    rec = {"b": 1, "a": "北京", "f": 2.0, "n": None, "t": True, "l": (1, 2.5)}
    assert canonical_json(rec) == (
        '{"a":"北京","b":1,"f":2.0,"l":[1,2.5],"n":null,"t":true}'.encode()
    )
    assert canonical_json({"x": 0.1}) == b'{"x":0.1}'  # shortest round trip
    assert canonical_json({"x": np.int64(3), "y": np.float32(0.5), "z": np.bool_(True)}) == (
        b'{"x":3,"y":0.5,"z":true}'
    )
    assert canonical_json({"x": float("nan"), "y": -float("inf")}) == b'{"x":NaN,"y":-Infinity}'
    t = pd.Timestamp("2016-12-14 08:00", tz="Asia/Shanghai")
    assert canonical_json({"t": t}) == canonical_json({"t": "2016-12-14T08:00:00+08:00"})
    assert canonical_json({"t": np.datetime64("2016-12-14T00:00")}) == (
        b'{"t":"2016-12-14T00:00:00"}'
    )
    assert canonical_json({"d": dt.date(2016, 12, 14)}) == b'{"d":"2016-12-14"}'
    with pytest.raises(TypeError, match="cannot hash"):
        canonical_json({"x": object()})
    with pytest.raises(TypeError, match="keys must be text"):
        canonical_json({"x": {1: 2}})


def test_record_hash_is_sha256_of_the_previous_hash_and_the_record():
    rec = {"a": 1}
    expect = hashlib.sha256(GENESIS.encode() + b"\n" + b'{"a":1}').hexdigest()
    assert record_hash(GENESIS, rec) == expect
    assert record_hash(GENESIS, {"a": 1.0}) != expect  # a float is not an integer
    assert record_hash(expect, rec) != expect  # the link is part of the hash
    with pytest.raises(ValueError, match="64 lower-case hex"):
        record_hash("abc", rec)


def _chain(contents, *, seq=False):
    out, prev = [], GENESIS
    for i, c in enumerate(contents):
        h = record_hash(prev, c)
        out.append(ChainRecord(f"r{i + 1}", c, prev, h, seq=i + 1 if seq else None))
        prev = h
    return out


def test_a_clean_chain_verifies_and_gives_its_head():
    chain = _chain([{"v": i} for i in range(5)], seq=True)
    check = verify_chain(chain)
    assert check.ok and check.count == 5 and check.head == chain[-1].hash
    empty = verify_chain([])
    assert empty.ok and empty.count == 0 and empty.head is None


def test_altered_content_is_the_first_break():
    chain = _chain([{"v": i} for i in range(5)])
    chain[2] = ChainRecord("r3", {"v": 99}, chain[2].prev_hash, chain[2].hash)
    chain[4] = ChainRecord("r5", {"v": 98}, chain[4].prev_hash, chain[4].hash)
    check = verify_chain(chain)
    assert (check.broken.index, check.broken.key, check.broken.kind) == (2, "r3", "altered")
    assert check.count == 5 and check.head is None


def test_a_removed_record_is_named_by_the_next_one():
    chain = _chain([{"v": i} for i in range(5)])
    b = verify_chain(chain[:2] + chain[3:]).broken
    assert (b.index, b.key, b.kind) == (2, "r4", "missing") and "r2" in b.reason
    first_gone = verify_chain(chain[1:]).broken
    assert (first_gone.key, first_gone.kind) == ("r2", "missing") and "genesis" in first_gone.reason


def test_a_gap_or_repeat_in_seq_is_named():
    chain = _chain([{"v": i} for i in range(4)], seq=True)
    gap = verify_chain(chain[:1] + chain[2:]).broken
    assert (gap.key, gap.kind) == ("r3", "missing") and "seq 2 missing" in gap.reason
    first = verify_chain(chain[2:]).broken
    assert (first.key, first.kind) == ("r3", "missing") and "seq 1-2 missing" in first.reason
    twice = verify_chain([*chain[:2], ChainRecord("x", {"v": 7}, GENESIS, "0" * 64, seq=2)])
    assert (twice.broken.key, twice.broken.kind) == ("x", "inserted")


def test_an_inserted_record_is_named_when_the_next_one_links_past_it():
    chain = _chain([{"v": i} for i in range(4)])
    forged_content = {"v": "forged"}
    forged = ChainRecord(
        "forged", forged_content, chain[1].hash, record_hash(chain[1].hash, forged_content)
    )
    b = verify_chain([*chain[:2], forged, *chain[2:]]).broken
    assert (b.index, b.key, b.kind) == (2, "forged", "inserted") and "r3 links past" in b.reason


def test_unchained_and_unreadable_records_break_the_chain():
    chain = _chain([{"v": i} for i in range(3)])
    no_hash = ChainRecord("r2", {"v": 1}, None, None)
    assert verify_chain([chain[0], no_hash, chain[2]]).broken.kind == "unchained"
    bad = ChainRecord("r2", None, None, None, reason="not JSON")
    b = verify_chain([chain[0], bad]).broken
    assert (b.kind, b.reason) == ("unreadable", "not JSON")
