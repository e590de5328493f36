"""Audit commands: ``audit verify`` (the hash chains of the warning audit log and ingest reports)."""

from __future__ import annotations

from pathlib import Path

import click

from features.integrity import ChainStatus
from qingyuan.cli.errors import RecordsAltered, failing_on
from qingyuan.cli.options import outputs_option, store_option

__all__ = ["audit"]


@click.group()
def audit() -> None:
    """Check that stored records were not altered behind the system's back."""


def _line(s: ChainStatus) -> str:
    """One line of a chain: records checked and OK, or the first record that does not verify."""
    head = f"{s.name} ({s.where}):"
    c = s.check
    if c is not None and c.broken is not None:
        b = c.broken
        what = f"FAILED at {b.key} (record {b.index + 1} of {c.count}): {b.kind}: {b.reason}"
        return f"{head} {what}" + (f"; {s.problem}" if s.problem else "")
    if s.problem is not None:
        return f"{head} FAILED: {s.problem}"
    n = c.count if c is not None else 0
    out = f"{head} {n} record(s) OK" + (f", head {c.head}" if c is not None and c.head else "")
    return out + (f" ({s.note})" if s.note else "")


@audit.command()
@click.option(
    "--network",
    "networks",
    multiple=True,
    help="Only this network's ingest reports (repeatable; default: every network of the store).",
)
@click.option(
    "--warnings-db",
    default=None,
    help="Warning database: a SQLAlchemy URL or a SQLite file, used as given (default: "
    "$QINGYUAN_WARNINGS_DB, else <outputs>/warnings/warnings.db).",
)
@store_option()
@outputs_option()
def verify(
    networks: tuple[str, ...],
    warnings_db: str | None,
    store: Path | None,
    outputs: Path | None,
) -> None:
    """Verify the warning audit log (one chain per city) and every network's ingest reports.

    Prints one line per chain: the records checked and OK (with the head hash, worth noting
    elsewhere), or the first record that does not verify and what differs. Exits with status
    3 when any chain does not verify.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from pipelines.integrity import verify_records
    from qingyuan.paths import outputs_dir, store_dir

    if warnings_db is None:  # the default file, or $QINGYUAN_WARNINGS_DB when it names a server
        db: str | Path = (outputs or outputs_dir()) / "warnings" / "warnings.db"
    else:  # as given: a URL, or this very file
        db = warnings_db if "://" in warnings_db else f"sqlite:///{Path(warnings_db).resolve()}"
    with failing_on(ValueError, OSError, SQLAlchemyError):
        statuses = verify_records(store or store_dir(), db, networks=networks)
    for s in statuses:
        click.echo(_line(s))
    if not statuses:
        click.echo("nothing to verify: no warning database and no ingest reports")
    failed = [s for s in statuses if not s.ok]
    if failed:
        raise RecordsAltered(
            f"{len(failed)} of {len(statuses)} chain(s): " + ", ".join(s.name for s in failed)
        )
