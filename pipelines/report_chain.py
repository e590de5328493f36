"""The hash chain of a network's ingest reports (``<store>/<network>/reports/*.json``).

Each report written by :func:`pipelines.ingest.ingest` carries three fields besides its own:
``seq`` (1 for the network's first chained report, then 2, 3 ...), ``prev_hash`` (the ``hash``
of report ``seq - 1``; :data:`features.integrity.GENESIS` for the first) and ``hash``
(:func:`features.integrity.record_hash` of ``prev_hash`` and every other field, whatever the
report holds). The order is the order of writing, which :func:`write_report` serialises under
the store's writer lock (:meth:`pipelines.store.StationStore.lock`); ``seq`` records it (report
file names sort by start time, and two ingests may finish in the other order).

A small head file, ``reports/.chain_head`` (``seq``, ``hash`` and file of the newest report,
and how many reports the folder held), spares reading every report at each ingest and is a
witness of the newest report: when that report is removed, the next one still follows it (the
gap shows) and :func:`verify_reports` names it.

Reports written before the chain existed carry no hash; they are counted, not verified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from features.integrity import GENESIS, ChainRecord, ChainStatus, record_hash, verify_chain
from pipelines.files import atomic_write

__all__ = ["HEAD_FILE", "seal_report", "verify_reports", "write_report"]

#: The head file of a report folder (not ``*.json``: it is no report).
HEAD_FILE = ".chain_head"
_LINKS = ("seq", "prev_hash", "hash")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _chained(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("seq"), int)
        and isinstance(data.get("hash"), str)
    )


def _head(report_dir: Path) -> dict[str, Any] | None:
    """Return the head file's content, or None when it is missing or unreadable."""
    try:
        head = _read_json(report_dir / HEAD_FILE)
    except (OSError, ValueError):
        return None
    ok = isinstance(head, dict) and isinstance(head.get("seq"), int)
    return head if ok and isinstance(head.get("hash"), str) else None


def _newest(report_dir: Path, names: list[str]) -> tuple[int, str] | None:
    """Return ``(seq, hash)`` of the chained report with the highest ``seq`` (reads them all)."""
    best: tuple[int, str] | None = None
    for name in names:
        try:
            data = _read_json(report_dir / name)
        except (OSError, ValueError):
            continue
        if _chained(data) and (best is None or data["seq"] >= best[0]):
            best = (data["seq"], data["hash"])
    return best


def _previous(report_dir: Path, names: list[str]) -> tuple[int, str]:
    """Return ``(seq, hash)`` the next report follows (``(0, GENESIS)`` for the first)."""
    head = _head(report_dir)
    if head is not None and head.get("reports") == len(names) and head.get("file") in names:
        return head["seq"], head["hash"]
    found = _newest(report_dir, names)
    if head is not None and (found is None or head["seq"] > found[0]):
        return head["seq"], head["hash"]  # the newest reports were removed: keep the gap visible
    return found or (0, GENESIS)


def _names(report_dir: Path) -> list[str]:
    return sorted(p.name for p in report_dir.glob("*.json")) if report_dir.is_dir() else []


def seal_report(report_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Return a report with its links: ``seq``, ``prev_hash`` and ``hash``.

    The report is taken as its JSON text gives it back (``default=str`` for other types), so
    that the hash verifies against the file. Call holding the store's writer lock.

    Parameters
    ----------
    report_dir : pathlib.Path
        The network's report folder.
    report : dict
        The report (any fields; existing ``seq``, ``prev_hash`` and ``hash`` are replaced).

    Returns
    -------
    dict
        The report as plain JSON types, with ``seq``, ``prev_hash`` and ``hash`` last.
    """
    data = json.loads(json.dumps(report, ensure_ascii=False, default=str))
    for k in _LINKS:
        data.pop(k, None)
    seq, prev = _previous(Path(report_dir), _names(Path(report_dir)))
    data["seq"] = seq + 1
    return {**data, "prev_hash": prev, "hash": record_hash(prev, data)}


def write_report(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Seal a report (:func:`seal_report`), write it atomically, then move the head file.

    Call holding the store's writer lock (:meth:`pipelines.store.StationStore.lock`).

    Parameters
    ----------
    path : pathlib.Path
        ``<store>/<network>/reports/<ingest_id>.json``.
    report : dict
        The report.

    Returns
    -------
    dict
        What was written.
    """
    path = Path(path)
    sealed = seal_report(path.parent, report)
    atomic_write(path, json.dumps(sealed, indent=2, ensure_ascii=False))
    head = {
        "seq": sealed["seq"],
        "hash": sealed["hash"],
        "file": path.name,
        "reports": len(_names(path.parent)),
    }
    atomic_write(path.parent / HEAD_FILE, json.dumps(head, indent=2) + "\n")
    return sealed


def _record(name: str, data: dict[str, Any]) -> ChainRecord:
    content = {k: v for k, v in data.items() if k not in ("prev_hash", "hash")}
    return ChainRecord(name, content, data.get("prev_hash"), data.get("hash"), seq=data["seq"])


def verify_reports(report_dir: Path, *, network: str | None = None) -> ChainStatus:
    """Verify the report chain of one network.

    Parameters
    ----------
    report_dir : pathlib.Path
        ``<store>/<network>/reports``.
    network : str, optional
        Its name, for the status (default: the folder's parent's name).

    Returns
    -------
    ChainStatus
        ``ingest reports <network>``: the chained reports verified in ``seq`` order; a
        ``problem`` for a report that is not JSON, one without links written after the chain
        began, or a head file ahead of the newest report (the newest reports were removed);
        a ``note`` counting the reports written before the chain.
    """
    report_dir = Path(report_dir)
    name = f"ingest reports {network or report_dir.parent.name}"
    chained: list[tuple[int, str, dict[str, Any]]] = []
    unchained: list[str] = []
    problems: list[str] = []
    for f in _names(report_dir):
        try:
            data = _read_json(report_dir / f)
        except (OSError, ValueError) as exc:
            problems.append(f"{f} cannot be read as JSON ({exc})")
            continue
        if _chained(data):
            chained.append((data["seq"], f, data))
        else:
            unchained.append(f)
    chained.sort(key=lambda c: (c[0], c[1]))
    check = verify_chain(_record(f, data) for _, f, data in chained)
    first = chained[0][1] if chained else None
    legacy = [f for f in unchained if first is not None and f < first]
    late = [f for f in unchained if first is None or f >= first]
    head = _head(report_dir)
    if chained and late:
        problems.append(f"{late[0]} carries no hash but was written after the chain began")
    if head is not None and (not chained or head["seq"] > chained[-1][0]):
        newest = f"seq {chained[-1][0]}" if chained else "no chained report"
        problems.append(
            f"the newest reports were removed: the head file records seq {head['seq']} "
            f"({head.get('file')}), the folder holds {newest}"
        )
    elif head is not None and check.ok and head["seq"] == chained[-1][0]:
        if head["hash"] != check.head:
            problems.append(f"the head file's hash is not that of {chained[-1][1]}")
    n_old = len(legacy) if chained else len(unchained)
    note = f"{n_old} report(s) written before the chain, not verified" if n_old else None
    return ChainStatus(
        name,
        str(report_dir),
        check,
        problem="; ".join(problems) or None,
        note=note,
    )
