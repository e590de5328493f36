"""A quiet console: library chatter goes to a log file, Qingyuan's own output stays on screen."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LIBRARY_LOGGERS", "library_noise_to"]

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
    (``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR``). Everything is restored on exit, so a failing
    step's error still reaches the console through the command's own error handling.

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
    try:
        yield path
    finally:
        logging.captureWarnings(False)
        if bar is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = bar
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate
        handler.close()
