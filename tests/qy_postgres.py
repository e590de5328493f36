"""A real PostgreSQL server for the tests: the OS package's binaries, a throw-away cluster.

``make test`` installs the ``postgresql`` package when its binaries are missing (Makefile target
``postgres``). :func:`start_postgres` runs ``initdb`` into a temporary folder and starts the
server on a free port of 127.0.0.1 (and a Unix socket in that folder); as root, the server runs
as the package's ``postgres`` user (PostgreSQL refuses to run as root). Nothing is shared with a
PostgreSQL server the machine may already run.

Used by the session fixture ``postgres`` (``tests/conftest.py``); each test that writes asks for
its own database with :meth:`PgServer.new_database`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PgServer", "pg_bindir", "start_postgres"]


def pg_bindir() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` with ``initdb``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    """A running throw-away PostgreSQL cluster."""

    bindir: Path
    base: Path
    port: int
    user: str = "qingyuan"
    runas: tuple[str, ...] = ()

    def url(self, database: str = "postgres", *, driver: str = "psycopg") -> str:
        """Return the SQLAlchemy URL of ``database`` (``postgresql+<driver>://``)."""
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with ``psql`` and return its output (raises on error)."""
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-At",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database with a unique name and return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl stop -m immediate``)."""
        subprocess.run(
            [*self.runas, str(self.bindir / "pg_ctl"), "-D", str(self.base / "data")]
            + ["-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )


def start_postgres(base: Path) -> PgServer:
    """Initialise and start a PostgreSQL cluster under ``base`` (trust auth, fsync off).

    Raises
    ------
    RuntimeError
        When the PostgreSQL binaries are missing (run ``make postgres``) or the server does
        not start (its log is quoted).
    """
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): run `make postgres`"
        )
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    runas: tuple[str, ...] = ()
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as the package's user
        import pwd

        pw = pwd.getpwnam("postgres")
        for p in [base, *base.parents]:
            if p == Path("/"):
                break
            os.chmod(p, os.stat(p).st_mode | 0o111)  # the server must traverse to its folder
        os.chown(base, pw.pw_uid, pw.pw_gid)
        runas = ("runuser", "-u", "postgres", "--")
    srv = PgServer(bindir=bindir, base=base, port=_free_port(), runas=runas)
    data, log = base / "data", base / "server.log"
    subprocess.run(
        [*runas, str(bindir / "initdb"), "-D", str(data), "-U", srv.user]
        + ["--auth=trust", "-E", "UTF8", "--no-locale"],
        check=True,
        capture_output=True,
    )
    opts = (
        f"-p {srv.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    started = subprocess.run(
        [*runas, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w"]
        + ["-t", "60", "start"],
        check=False,
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else started.stderr
        raise RuntimeError(f"PostgreSQL did not start: {tail}")
    return srv
