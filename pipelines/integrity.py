"""Verify every tamper-evident record of a deployment: the warning audit log and ingest reports.

What is chained and how: :mod:`features.integrity` (hashing, verification),
:mod:`pipelines.warnings.audit_chain` (one chain per city in the warning database),
:mod:`pipelines.report_chain` (one chain per network in ``<store>/<network>/reports/``).
``qingyuan audit verify`` prints :func:`verify_records`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from features.integrity import ChainStatus
from pipelines.report_chain import verify_reports
from pipelines.warnings.audit_chain import verify_audit

__all__ = ["report_networks", "verify_records"]


def report_networks(store_root: Path) -> list[str]:
    """Return the networks of a store that have ingest reports (folder names, sorted)."""
    root = Path(store_root)
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/reports") if p.is_dir())


def verify_records(
    store_root: Path,
    warnings_db: str | Path | None,
    *,
    networks: Sequence[str] | None = None,
) -> list[ChainStatus]:
    """Verify the warning audit chains and the ingest-report chains, read-only.

    Parameters
    ----------
    store_root : pathlib.Path
        Station store root (``<store>/<network>/reports/``).
    warnings_db : str or pathlib.Path or None
        The warning database: a URL, or a SQLite file (``QINGYUAN_WARNINGS_DB`` names a server
        instead, :func:`pipelines.warnings.db.resolve_url`); None: no warning audit.
    networks : sequence of str, optional
        Only these networks' reports (default: every network of the store with reports; with
        ``networks`` given, the warning audit is still verified when ``warnings_db`` is).

    Returns
    -------
    list of ChainStatus
        The audit chains (one per city) first, then one per network.
    """
    out = verify_audit(str(warnings_db)) if warnings_db is not None else []
    names = list(networks) if networks else report_networks(store_root)
    for name in names:
        out.append(verify_reports(Path(store_root) / name / "reports", network=name))
    return out
