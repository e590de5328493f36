r"""Hash chains of records: canonical serialisation, the link hash, and chain verification.

A *chain* is a sequence of records where each carries the hash of the one before it, so that
editing, removing or inserting a record behind the system's back shows at the first record
concerned. The warning audit log (:mod:`pipelines.warnings.audit_chain`) and the ingest reports
(:mod:`pipelines.report_chain`) are chained with these functions; this module does no I/O.

Hash of a record
----------------
``record_hash(prev_hash, record) = SHA-256(prev_hash + "\n" + canonical_json(record))`` as 64
lower-case hex digits, where ``prev_hash`` is the hash of the previous record of the chain and,
for the first record, :data:`GENESIS` (64 zeros). The record is a mapping of field names to
values; the stored ``prev_hash`` and ``hash`` fields are not part of it.

Canonical serialisation (:func:`canonical_json`)
------------------------------------------------
JSON in UTF-8 (no ``\u`` escapes of non-ASCII text), keys sorted, no whitespace
(``","`` and ``":"`` separators). Values:

- ``None`` is ``null``; ``bool`` is ``true`` / ``false``; integers (NumPy ones included) are
  decimal; a float is its shortest round-trip decimal (``repr``: ``2.0`` stays ``2.0``, distinct
  from the integer ``2``), non-finite floats are ``NaN``, ``Infinity``, ``-Infinity`` (the tokens
  Python's :mod:`json` reads back);
- text as is; dates and times (``datetime``, ``pandas.Timestamp``, ``numpy.datetime64``) are
  their ISO 8601 text (``isoformat()``: a naive time stays naive, an aware one keeps its offset),
  so that a time and its ISO text hash alike;
- lists and tuples are arrays; mappings need text keys;
- anything else is refused (:class:`TypeError`) rather than hashed through ``str()``.

A hash chain detects changes made by someone who does not rewrite every later hash; it is not a
signature. Removing the *last* records leaves a shorter valid chain: compare the head hash
(:attr:`ChainCheck.head`) with one noted elsewhere (e.g. in the backup log) to detect that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "GENESIS",
    "ChainBreak",
    "ChainCheck",
    "ChainRecord",
    "ChainStatus",
    "canonical_json",
    "record_hash",
    "verify_chain",
]

#: The ``prev_hash`` of the first record of every chain (64 zeros).
GENESIS = "0" * 64

_HEX = frozenset("0123456789abcdef")


def _plain(value: Any) -> Any:
    """Return ``value`` as plain JSON types (see the module notes), refusing anything else."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.datetime64):
        import pandas as pd

        return pd.Timestamp(value).isoformat()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"record keys must be text, not {type(k).__name__} ({k!r})")
            out[k] = _plain(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise TypeError(f"cannot hash a value of type {type(value).__name__}: {value!r}")


def canonical_json(record: Mapping[str, Any]) -> bytes:
    """Return the canonical UTF-8 JSON of a record (sorted keys, no whitespace).

    Parameters
    ----------
    record : Mapping
        Field names (text) to values (see the module notes for the encoding of each type).

    Returns
    -------
    bytes
        The serialisation the hash is taken over.

    Raises
    ------
    TypeError
        A key is not text, or a value has no canonical encoding.
    """
    text = json.dumps(
        _plain(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=True
    )
    return text.encode("utf-8")


def _check_hash(value: str, what: str) -> None:
    if not (isinstance(value, str) and len(value) == 64 and set(value) <= _HEX):
        raise ValueError(f"{what} must be 64 lower-case hex digits, not {value!r}")


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    r"""Return the hash of a record linked to the previous one.

    Parameters
    ----------
    prev_hash : str
        Hash of the previous record of the chain (:data:`GENESIS` for the first one).
    record : Mapping
        The record's content, without its ``prev_hash`` and ``hash`` fields.

    Returns
    -------
    str
        ``SHA-256(prev_hash + "\n" + canonical_json(record))``, 64 lower-case hex digits.

    Raises
    ------
    ValueError
        ``prev_hash`` is not 64 lower-case hex digits.
    TypeError
        As :func:`canonical_json`.
    """
    _check_hash(prev_hash, "prev_hash")
    digest = hashlib.sha256(prev_hash.encode("ascii") + b"\n")
    digest.update(canonical_json(record))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainRecord:
    """One record of a chain, as stored.

    Attributes
    ----------
    key : str
        How to name the record to a person (``audit seq 17``, a report file name).
    content : Mapping or None
        The hashed fields (without ``prev_hash`` and ``hash``); None when the record could not
        be read at all (``reason`` then says why).
    prev_hash, hash : str or None
        The stored links (None: the record carries none).
    seq : int, optional
        A position that must grow by one from 1 (a gap is a missing record, a repeat an inserted
        one); None when positions may have gaps (database sequences).
    reason : str, optional
        Why an unreadable record could not be read.
    """

    key: str
    content: Mapping[str, Any] | None
    prev_hash: str | None
    hash: str | None
    seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ChainBreak:
    """The first record where a chain does not verify.

    Attributes
    ----------
    index : int
        Position of the record in the chain (0 for the first).
    key : str
        The record's :attr:`ChainRecord.key`.
    kind : str
        ``altered`` (its content does not match its hash), ``missing`` (a record before it was
        removed), ``inserted`` (it is not part of the chain), ``unchained`` (it carries no hash)
        or ``unreadable``.
    reason : str
        What differs, in words.
    """

    index: int
    key: str
    kind: str
    reason: str


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    count : int
        Records read (all of them, also past a break).
    head : str or None
        Hash of the last record when the whole chain verifies (None otherwise or when empty):
        note it elsewhere to detect a later truncation.
    broken : ChainBreak or None
        The first break, None when the chain verifies.
    """

    count: int
    head: str | None
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        """True when every record verifies."""
        return self.broken is None


@dataclass(frozen=True)
class ChainStatus:
    """What verifying one stored chain found, for a person.

    Attributes
    ----------
    name : str
        The chain (``warnings audit beijing``, ``ingest reports beijing``).
    where : str
        Where it is stored (a database, a folder).
    check : ChainCheck or None
        The verification of its records (None when nothing could be read as a chain).
    problem : str, optional
        What is wrong beside the records' links (not chained yet, unreadable files, records
        missing at the end), None when nothing is.
    note : str, optional
        Something to know that is not a failure (records written before the chain existed).
    """

    name: str
    where: str
    check: ChainCheck | None
    problem: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the chain verifies and nothing else is wrong."""
        return self.problem is None and self.check is not None and self.check.ok


def _short(h: str | None) -> str:
    return "none" if h is None else h[:12]


def _first_break(
    i: int,
    r: ChainRecord,
    expected: str,
    prev: ChainRecord | None,
    seen: dict[str, tuple[int, str]],
) -> tuple[int, str, str] | None:
    """Return ``(index, kind, reason)`` of a break at record ``i``, or None."""
    if r.content is None:
        return i, "unreadable", r.reason or "cannot be read"
    if r.hash is None or r.prev_hash is None:
        return i, "unchained", "carries no hash (written without the chain, or its hash removed)"
    if r.seq is not None and prev is not None and prev.seq is not None:
        if r.seq == prev.seq:
            return i, "inserted", f"a second record with seq {r.seq} (after {prev.key})"
        if r.seq > prev.seq + 1:
            gap = f"seq {prev.seq + 1}" + (f"-{r.seq - 1}" if r.seq > prev.seq + 2 else "")
            return i, "missing", f"{gap} missing before it (after {prev.key})"
    elif r.seq is not None and prev is None and r.seq > 1:
        gap = "seq 1" + (f"-{r.seq - 1}" if r.seq > 2 else "")
        return i, "missing", f"{gap} missing before it (the first records were removed)"
    try:
        computed = record_hash(r.prev_hash, r.content)
    except (TypeError, ValueError) as exc:
        return i, "altered", f"cannot be hashed: {exc}"
    if computed != r.hash:
        why = (
            f"its content does not match its hash (stored {_short(r.hash)}, content gives "
            f"{_short(computed)}): the record or its hash was edited"
        )
        return i, "altered", why
    if r.prev_hash == expected:
        return None
    back = seen.get(r.prev_hash)
    if back is not None:  # it links further back: the records between are not part of it
        return back[0] + 1, "inserted", f"not part of the chain: {r.key} links past it to {back[1]}"
    if prev is None:
        why = f"links to {_short(r.prev_hash)}, not the genesis: the first records were removed"
        return i, "missing", why
    why = (
        f"its prev_hash {_short(r.prev_hash)} is not the hash of {prev.key} "
        f"({_short(prev.hash)}): a record between them was removed, or {prev.key} was "
        "rewritten with a recomputed hash"
    )
    return i, "missing", why


def verify_chain(records: Iterable[ChainRecord], *, genesis: str = GENESIS) -> ChainCheck:
    """Verify a chain, oldest record first, and name its first broken record.

    Each record must carry ``hash == record_hash(prev_hash, content)`` and link to the record
    before it (``prev_hash`` equal to its hash; the first one to ``genesis``); records with a
    :attr:`ChainRecord.seq` must also number 1, 2, 3 ... without gap or repeat.

    Parameters
    ----------
    records : iterable of ChainRecord
        The chain in its stored order (streamed: read once).
    genesis : str
        ``prev_hash`` of the first record (:data:`GENESIS`).

    Returns
    -------
    ChainCheck
        Records read, the head hash, and the first break (index, key, kind, reason) or None.
    """
    seen: dict[str, tuple[int, str]] = {}
    keys: list[str] = []  # keys seen, to name an inserted record found from a later one
    expected, prev = genesis, None
    broken: ChainBreak | None = None
    n = 0
    for i, r in enumerate(records):
        n = i + 1
        if broken is not None:
            continue
        keys.append(r.key)
        found = _first_break(i, r, expected, prev, seen)
        if found is not None:
            index, kind, reason = found
            broken = ChainBreak(index, keys[index], kind, reason)
            continue
        seen[r.hash] = (i, r.key)
        expected, prev = r.hash, r
    head = expected if broken is None and n else None
    return ChainCheck(count=n, head=head, broken=broken)
