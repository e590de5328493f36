"""Store integrity (issue #16): partition checksums, corrupted partitions, a full disk.

Every partition written is recorded in ``<store>/<network>/checksums.json`` and in the ingest
report (``partition_checksums``); a truncated or bit-flipped partition is refused with an error
naming it; a write that runs out of space (injected ENOSPC, the netCDF library's bare HDF error
on a full disk, a real 2 MB tmpfs) fails with ``disk full`` and the store path, leaving every
partition byte-identical and no temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from qy_helpers import GENERIC_NETWORK, hourly_csv, write_network

from pipelines.config import load_network, load_variables
from pipelines.errors import StoreCorrupted, StoreFull
from pipelines.ingest import ingest
from pipelines.store import MANIFEST_NAME, StationStore, file_checksum
from qingyuan.cli import main

NOW = pd.Timestamp("2016-06-01", tz="UTC")


def _setup(root, *, hours: int = 24 * 45):
    (root / "data").mkdir(parents=True, exist_ok=True)
    hourly_csv(root / "data" / "a.csv", hours=hours)
    net_path = write_network(root, GENERIC_NETWORK.format(name="t1", files="data/a.csv"))
    store = StationStore(root / "store", load_network(str(net_path)), load_variables()["variables"])
    return net_path, store


@pytest.fixture()
def small(tmp_path):
    net_path, store = _setup(tmp_path)
    ingest(str(net_path), tmp_path / "store", now=NOW)
    return tmp_path, net_path, store


def _snapshot(store: StationStore) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in store.dir.iterdir() if p.is_file()}


def _reingest_new_values(tmp_path, net_path):
    hourly_csv(tmp_path / "data" / "a.csv", hours=24 * 45, seed=7)  # changed values: rewrites
    return ingest(str(net_path), tmp_path / "store", now=NOW)


def test_written_partitions_are_recorded_in_the_manifest_and_the_report(small):
    tmp_path, net_path, store = small
    rep = _reingest_new_values(tmp_path, net_path)
    assert store.manifest_path.name == MANIFEST_NAME
    entries = json.loads(store.manifest_path.read_text())["partitions"]
    assert sorted(entries) == [p.name for p in store.partitions()]
    for p in store.partitions():
        have = file_checksum(p)
        assert entries[p.name] == have  # no "also": the write completed
    assert sorted(rep.partition_checksums) == sorted(rep.partitions_written)
    for path, c in rep.partition_checksums.items():
        assert c == {"sha256": file_checksum(path)["sha256"], "size": os.path.getsize(path)}
    saved = json.loads(open(rep.report_file, encoding="utf-8").read())
    assert saved["partition_checksums"] == rep.partition_checksums
    assert [r["status"] for r in store.verify_partitions()] == ["ok"] * len(store.partitions())


def test_truncated_partition_is_named_and_never_read(small):
    tmp_path, net_path, store = small
    part = store.partitions()[1]
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorrupted, match="corrupted partition, not read") as exc:
        store.open()
    assert exc.value.path == str(part) and str(part) in str(exc.value)
    before = _snapshot(store)
    with pytest.raises(StoreCorrupted, match=str(part)):  # an ingest over it writes nothing
        _reingest_new_values(tmp_path, net_path)
    assert _snapshot(store) == before
    res = CliRunner().invoke(
        main, ["data", "check", "--network", str(net_path), "--store", str(tmp_path / "store")]
    )
    assert res.exit_code == 2
    assert f"CORRUPTED {part}: corrupted partition: {len(data) // 2} bytes" in res.output
    assert "error: 1 of 3 partitions corrupted" in res.stderr


def test_bit_flip_is_detected_even_with_the_old_modification_time(small):
    tmp_path, net_path, store = small
    part = store.partitions()[0]
    st = part.stat()
    with open(part, "r+b") as fh:  # one bit in the middle: same size
        fh.seek(st.st_size // 2)
        byte = fh.read(1)
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte[0] ^ 0x10]))
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as recorded
    with pytest.raises(StoreCorrupted, match="sha256"):
        store.open()  # data reads hash every time
    # the metadata read of the upsert plan trusts size + mtime (documented fast path) ...
    assert store.verify_partition(part, full=False) == "ok"
    # ... and the full check finds it
    rows = {r["file"]: r for r in store.verify_partitions()}
    assert rows[str(part)]["status"] == "corrupted"


def test_partitions_written_before_checksums_open_and_are_recorded_at_the_next_write(small):
    tmp_path, net_path, store = small
    store.manifest_path.unlink()
    assert store.verify_partition(store.partitions()[0]) == "unrecorded"
    assert store.open()["pm25"].notnull().any()
    assert {r["status"] for r in store.verify_partitions()} == {"unrecorded"}
    # the next write rewrites one month (the last) and records every partition
    hourly_csv(tmp_path / "data" / "a.csv", start="2016-02-10 01:00", hours=24)
    ingest(str(net_path), tmp_path / "store", now=NOW)
    entries = store.manifest()
    assert sorted(entries) == [p.name for p in store.partitions()]
    assert all(entries[p.name] == file_checksum(p) for p in store.partitions())


def test_a_kill_between_manifest_and_renames_leaves_both_versions_acceptable(small):
    """The manifest written before the renames names the new and the old file (``also``)."""
    tmp_path, net_path, store = small
    old = {p.name: file_checksum(p) for p in store.partitions()}
    real = os.replace
    calls = []

    def die_at_second_rename(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # manifest, first partition, then the "kill"
            raise KeyboardInterrupt
        return real(src, dst)

    hourly_csv(tmp_path / "data" / "a.csv", hours=24 * 45, seed=7)
    os.replace = die_at_second_rename
    try:
        with pytest.raises(KeyboardInterrupt):
            ingest(str(net_path), tmp_path / "store", now=NOW)
    finally:
        os.replace = real
    entries = store.manifest()
    renamed = {os.path.basename(calls[1])}
    for p in store.partitions():
        assert store.verify_partition(p) == "ok"
        have = file_checksum(p)["sha256"]
        assert have != old[p.name]["sha256"] if p.name in renamed else have == old[p.name]["sha256"]
    assert any("also" in e for e in entries.values())
    ingest(str(net_path), tmp_path / "store", now=NOW)  # settles the manifest
    assert all("also" not in e for e in store.manifest().values())
    assert {r["status"] for r in store.verify_partitions()} == {"ok"}


def test_injected_enospc_fails_clearly_and_changes_nothing(small, monkeypatch):
    tmp_path, net_path, store = small
    before = _snapshot(store)
    real = xr.Dataset.to_netcdf
    calls = {"n": 0}

    def full_on_second(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **k)

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_on_second)
    with pytest.raises(StoreFull, match="disk full") as exc:
        _reingest_new_values(tmp_path, net_path)
    assert exc.value.path == str(store.dir) and "nothing stored was changed" in str(exc.value)
    assert _snapshot(store) == before  # partitions and manifest byte-identical
    assert not list(store.dir.rglob("*.tmp"))


def test_a_full_disk_at_the_report_says_the_store_was_written(small, monkeypatch):
    import pipelines.report_chain as chain

    tmp_path, net_path, _ = small

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(chain, "atomic_write", full)
    with pytest.raises(StoreFull, match="disk full while writing the ingest report") as exc:
        _reingest_new_values(tmp_path, net_path)
    assert "station store was written" in str(exc.value) and "run the same ingest again" in str(
        exc.value
    )
    folder = Path(exc.value.path)
    assert not list(folder.rglob("*.tmp"))
    monkeypatch.undo()
    again = ingest(str(net_path), tmp_path / "store", now=NOW)  # as the message says
    assert again.values_new == again.values_changed == 0 and Path(again.report_file).is_file()


def test_hdf_error_on_a_full_disk_is_disk_full(small, monkeypatch):
    """netCDF reports ENOSPC as a bare "NetCDF: HDF error": the free space tells."""
    tmp_path, net_path, store = small
    before = _snapshot(store)

    def hdf_error(self, *a, **k):
        raise RuntimeError("NetCDF: HDF error")

    class Full:
        f_bavail, f_frsize = 0, 4096

    real_statvfs = os.statvfs
    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(os, "statvfs", lambda _: Full)
    with pytest.raises(StoreFull, match="disk full"):
        _reingest_new_values(tmp_path, net_path)
    monkeypatch.setattr(os, "statvfs", real_statvfs)
    with pytest.raises(RuntimeError, match="HDF error") as exc:  # with space left: not "full"
        _reingest_new_values(tmp_path, net_path)
    assert not isinstance(exc.value, StoreFull)
    assert _snapshot(store) == before


@pytest.fixture()
def tmpfs(tmp_path):
    """A real 2 MB tmpfs (root only); skipped when mounting is refused."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip() or res.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_disk_through_the_cli(tmpfs, prefect_harness):
    net_path, store = _setup(tmpfs, hours=24 * 45)
    ingest(str(net_path), tmpfs / "store", now=None)
    before = _snapshot(store)
    hourly_csv(tmpfs / "data" / "a.csv", hours=24 * 45, seed=7)
    free = shutil.disk_usage(tmpfs).free
    filler = tmpfs / "filler"
    filler.write_bytes(b"\0" * max(0, free - 40_000))  # ~40 kB left: less than one partition
    res = CliRunner().invoke(
        main, ["ingest", "--network", str(net_path), "--store", str(tmpfs / "store")]
    )
    assert res.exit_code == 2, res.output
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {store.dir}: disk full while writing the station store"), line
    filler.unlink()
    assert _snapshot(store) == before
    assert not list(store.dir.rglob("*.tmp"))
    assert {r["status"] for r in store.verify_partitions()} == {"ok"}
