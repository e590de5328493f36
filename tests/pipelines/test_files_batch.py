"""Two-phase atomic writes: every file written first, all replaced at the end, or none."""

from __future__ import annotations

import os

import pytest

from pipelines.files import atomic_batch, atomic_path


def test_batch_replaces_every_file_at_the_end(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "sub" / "b.nc"
    a.write_text("old a")
    with atomic_batch(fsync=True) as batch:
        ta = batch.path(a)
        assert ta.name == f"a.nc.{os.getpid()}.tmp" and ta.parent == tmp_path
        ta.write_text("new a")
        assert a.read_text() == "old a"  # nothing replaced while the batch is open
        batch.path(b).write_text("new b")
        assert not b.exists()
    assert a.read_text() == "new a" and b.read_text() == "new b"
    assert batch.finals == [a, b]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.nc", "b.nc"]


def test_failed_batch_replaces_nothing_and_leaves_no_temporary_file(tmp_path):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    a.write_text("old a")
    with pytest.raises(OSError, match="disk full"):
        with atomic_batch() as batch:
            batch.path(a).write_text("new a")
            batch.path(b).write_text("half")
            raise OSError("disk full")
    assert a.read_text() == "old a" and not b.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.nc"]


def test_atomic_path_still_works_alone(tmp_path):
    p = tmp_path / "x" / "y.txt"
    with atomic_path(p) as tmp:
        tmp.write_text("ok")
    assert p.read_text() == "ok" and [q.name for q in p.parent.iterdir()] == ["y.txt"]
