"""How a command fails: ``error: <message>`` on stderr and a documented exit status.

A command that keeps a log (``qingyuan run``: ``<outputs>/logs/run.log``) prints one line,
``error: <message> (details in <log>)``, and writes the traceback to the log only.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

__all__ = [
    "AlertRaised",
    "CommandError",
    "DeliveryFailed",
    "FilesRejected",
    "InternalError",
    "ModelsFailed",
    "RecordsAltered",
    "failing_on",
]


class CommandError(click.ClickException):
    """A command failed on its input, configuration or data: ``error: <message>``, exit status 2."""

    exit_code = 2
    prefix = "error: "

    def show(self, file: IO[str] | None = None) -> None:
        """Print the message to stderr."""
        click.echo(f"{self.prefix}{self.format_message()}", err=file is None, file=file)


class InternalError(CommandError):
    """A command stopped on an unexpected error (a bug, a crash of a library), exit status 1.

    Raised instead of a traceback by commands that keep a log (the traceback is in the log).
    """

    exit_code = 1


class FilesRejected(CommandError):
    """``qingyuan ingest``: input files were rejected (one ``REJECTED`` line each), exit status 3."""

    exit_code = 3
    prefix = ""


class DeliveryFailed(CommandError):
    """``qingyuan warn``: messages were decided but could not be delivered, exit status 3."""

    exit_code = 3
    prefix = "DELIVERY FAILED: "


class AlertRaised(CommandError):
    """``qingyuan warn``: an operational alert was raised (nothing changed), exit status 3."""

    exit_code = 3
    prefix = "OPERATIONAL ALERT: "


class ModelsFailed(CommandError):
    """``qingyuan backtest``: a model failed (the others were scored and logged), exit status 3."""

    exit_code = 3
    prefix = "MODEL FAILED: "


class RecordsAltered(CommandError):
    """``qingyuan audit verify``: a record chain does not verify (one line each), exit status 3."""

    exit_code = 3
    prefix = "NOT VERIFIED: "


@contextmanager
def failing_on(*errors: type[BaseException], log: Path | str | None = None) -> Iterator[None]:
    """Turn the expected ``errors`` of a call into a :class:`CommandError` (exit status 2).

    Parameters
    ----------
    *errors : type
        The exceptions that are the user's to fix (configuration, data).
    log : pathlib.Path or str, optional
        The command's log file: the traceback of any error is appended to it, the message
        names it (``... (details in outputs/logs/run.log)``), and any other exception becomes
        an :class:`InternalError` (exit status 1) instead of a traceback on screen.
    """
    try:
        yield
    except errors as exc:
        raise CommandError(_logged(exc, str(exc), log)) from exc
    except Exception as exc:
        if log is None:
            raise
        raise InternalError(_logged(exc, f"{type(exc).__name__}: {exc}", log)) from exc


def _logged(exc: BaseException, message: str, log: Path | str | None) -> str:
    """Append the traceback of ``exc`` to ``log`` and return ``message`` naming it."""
    if log is None:
        return message
    from qingyuan.cli.console import shown_path

    path = Path(log)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} ERROR qingyuan: {message}\n")
            f.writelines(traceback.format_exception(exc))
    except OSError:  # no log to point to: the message alone
        return message
    return f"{message} (details in {shown_path(path)})"
