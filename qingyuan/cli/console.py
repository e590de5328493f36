"""A quiet console: library chatter goes to a log file, Qingyuan's own output stays on screen.

- :func:`library_noise_to`: library log records, Python warnings, MLflow's console prints and
  Prefect's records (its tracebacks of a failed flow) go to the log file.
- :class:`ConsoleReporter`: the step headings (``[2/11] Ingest beijing …``, then the elapsed
  time) and, on a terminal, progress bars of the long loops (:mod:`pipelines.progress`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import click

__all__ = ["LIBRARY_LOGGERS", "ConsoleReporter", "library_noise_to", "shown_path"]

T = TypeVar("T")

#: Loggers of libraries whose records (CloudPickle notices, signature hints, migrations, worker
#: chatter) an operator does not need on screen; they are kept in the log file.
LIBRARY_LOGGERS = (
    "mlflow",
    "py.warnings",
    "alembic",
    "distributed",
    "lightgbm",
    "matplotlib",
    "urllib3",
    "httpx",
)


@contextlib.contextmanager
def library_noise_to(log_file: Path | str) -> Iterator[Path]:
    """Send library log records and Python warnings to ``log_file`` while the block runs.

    MLflow's artifact-download progress bars are switched off
    (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``) and its console prints (``Successfully registered
    model ...``, ``Created version ...``) go to the log. Prefect's records go to the log too;
    of the records that reach Prefect's console handler only those logged by Qingyuan's own
    code (a step's run-logger warning) stay on screen, so a failed flow's traceback is in the
    log only. Everything is restored on exit, so a failing step's error still reaches the
    console through the command's own error handling (:func:`qingyuan.cli.errors.failing_on`).

    Yields
    ------
    pathlib.Path
        The log file (appended to).
    """
    import mlflow  # noqa: F401 - MLflow installs its own console handler on import: replace it

    path = Path(log_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers = [handler]
        logger.propagate = False
    bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    logging.captureWarnings(True)
    undo = [_mlflow_prints_to(logging.getLogger("mlflow.console")), _prefect_to(handler)]
    try:
        yield path
    finally:
        for restore in undo:
            restore()
        logging.captureWarnings(False)
        if bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = bar
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate
        handler.close()


class _LineLogger:
    """A text stream that logs each line written to it (MLflow's ``eprint`` target)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger, self.buffer = logger, ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line)
        return len(text)

    def flush(self) -> None:
        if self.buffer.strip():
            self.logger.info(self.buffer)
        self.buffer = ""


def _mlflow_prints_to(logger: logging.Logger) -> Any:
    """Send MLflow's console prints (``eprint``) to ``logger``; return the undo."""
    try:
        from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM as stream
    except ImportError:  # another MLflow layout: its prints stay on stderr
        return lambda: None
    target = _LineLogger(logger)
    stream.write, stream.flush = target.write, target.flush  # shadow the class's methods

    def undo() -> None:
        target.flush()
        for name in ("write", "flush"):
            stream.__dict__.pop(name, None)

    return undo


def _own_code() -> tuple[str, ...]:
    """Return the directories of Qingyuan's packages (records logged there are its own)."""
    import features
    import models
    import pipelines
    import qingyuan

    return tuple(
        str(Path(m.__file__).resolve().parent) + os.sep
        for m in (features, models, pipelines, qingyuan)
    )


class _OwnRecords(logging.Filter):
    """Pass only the records logged by Qingyuan's own code (not by a library)."""

    def __init__(self) -> None:
        super().__init__()
        self.dirs = _own_code()

    def filter(self, record: logging.LogRecord) -> bool:
        return os.path.realpath(record.pathname).startswith(self.dirs)


def _prefect_to(handler: logging.Handler) -> Any:
    """Log Prefect's records to ``handler`` and keep only Qingyuan's on its console; return the undo."""
    try:
        from prefect.logging.configuration import ensure_logging_setup
    except ImportError:
        return lambda: None
    ensure_logging_setup()  # configure now, so that a flow run does not replace what follows
    own = _OwnRecords()
    loggers = [logging.getLogger(), logging.getLogger("prefect._internal")]
    consoles = [
        h
        for lg in loggers
        for h in lg.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    for h in consoles:
        h.addFilter(own)
    for lg in loggers:
        lg.addHandler(handler)

    def undo() -> None:
        for h in consoles:
            h.removeFilter(own)
        for lg in loggers:
            lg.removeHandler(handler)

    return undo


def shown_path(path: Path | str) -> str:
    """Return ``path`` as the user would type it: relative to the working directory when inside."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


class ConsoleReporter:
    """Step headings on stdout, progress bars on a terminal (a :class:`pipelines.progress.Reporter`).

    Parameters
    ----------
    bars : bool, optional
        Show progress bars (on stderr); default: when stdout is a terminal, so that a redirected
        run (a log, a pipe) has headings only.
    stream : file, optional
        Where the bars go (default ``sys.stderr``).
    """

    def __init__(self, *, bars: bool | None = None, stream: IO[str] | None = None) -> None:
        self.bars = sys.stdout.isatty() if bars is None else bars
        self.stream = stream

    def started(self, index: int, total: int, title: str) -> None:
        """Print the heading ``[index/total] title …``."""
        click.echo(f"[{index}/{total}] {title} …")

    def finished(self, index: int, total: int, title: str, *, seconds: float, ok: bool) -> None:
        """Print how long the step took (or that it failed)."""
        pad = " " * len(f"[{index}/{total}] ")
        click.echo(f"{pad}{'done' if ok else 'failed'} in {_duration(seconds)}")

    def track(self, items: Iterable[T], *, total: int | None, desc: str) -> Iterator[T]:
        """Yield ``items`` under a progress bar that disappears when the loop ends."""
        if not self.bars:
            yield from items
            return
        from tqdm import tqdm

        with tqdm(
            items,
            total=total,
            desc=f"      {desc}",
            leave=False,
            file=self.stream or sys.stderr,
            dynamic_ncols=True,
        ) as bar:
            yield from bar
