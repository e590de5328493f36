"""How a command fails: ``error: <message>`` on stderr and a documented exit status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import click

__all__ = [
    "AlertRaised",
    "CommandError",
    "DeliveryFailed",
    "FilesRejected",
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
def failing_on(*errors: type[BaseException]) -> Iterator[None]:
    """Turn the expected ``errors`` of a call into a :class:`CommandError` (exit status 2)."""
    try:
        yield
    except errors as exc:
        raise CommandError(str(exc)) from exc
