"""Command-line interface ``qingyuan`` (also ``python -m qingyuan``).

One module per command group, each command parses its options, makes one call into
``pipelines`` and prints:

- :mod:`~qingyuan.cli.run`: ``run``, the main job on the bundled data.
- :mod:`~qingyuan.cli.data`: ``ingest``, ``assess``, ``grid``, ``networks``, ``validate``,
  ``data check`` (partition checksums).
- :mod:`~qingyuan.cli.forecast`: ``backtest``, ``train``, ``forecast``.
- :mod:`~qingyuan.cli.warn`: ``warn``, ``replay``.
- :mod:`~qingyuan.cli.trace`: ``trace pmf | polar | trajectory | drivers``.
- :mod:`~qingyuan.cli.scenario`: ``scenario`` (a source class cut: PM2.5, daily AQI, warning level).
- :mod:`~qingyuan.cli.attribute`: ``attribute enterprises`` (and the former names of ``trace``).
- :mod:`~qingyuan.cli.water`: ``water network | assess | trace``.
- :mod:`~qingyuan.cli.soil`: ``soil ingest | assess | map`` (sampling campaigns, GB 15618 /
  GB 36600 risk classes, kriged maps).
- :mod:`~qingyuan.cli.serve`: ``serve``.
- :mod:`~qingyuan.cli.hj212`: ``hj212 serve`` (the HJ 212 receiver).
- :mod:`~qingyuan.cli.web`: ``web`` (pages and API), ``users add | passwd | disable | enable | list | token | revoke``.
- :mod:`~qingyuan.cli.audit`: ``audit verify`` (the hash chains of the audit log and ingest reports).

Errors print ``error: <message>`` and exit with status 2; ``ingest`` exits with 3 on rejected
files, ``warn`` with 3 on an operational alert and ``audit verify`` with 3 when a record chain does
not verify (:mod:`~qingyuan.cli.errors`). ``run`` names its log in the error line (the traceback
is there) and exits with 1 on an unexpected error.
"""

from __future__ import annotations

import contextlib
import os

import click

from qingyuan.cli.attribute import attribute
from qingyuan.cli.audit import audit
from qingyuan.cli.data import assess, data, grid, ingest, networks, validate
from qingyuan.cli.forecast import backtest, forecast, train
from qingyuan.cli.hj212 import hj212
from qingyuan.cli.run import run
from qingyuan.cli.scenario import scenario
from qingyuan.cli.serve import serve
from qingyuan.cli.soil import soil
from qingyuan.cli.trace import trace
from qingyuan.cli.warn import replay, warn
from qingyuan.cli.water import water
from qingyuan.cli.web import users, web

__all__ = ["main"]


@click.group()
@click.version_option(package_name="qingyuan")
def main() -> None:
    """Qingyuan (清源): pollution monitoring, forecasting, source tracing and warning."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # no network here: Prefect's anonymous usage telemetry would only log connection errors
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # the temporary Prefect API server of a killed qingyuan process: end it, guard ours
    from pipelines import server_guard

    with contextlib.suppress(OSError):
        server_guard.sweep()
    server_guard.install()


for _command in (
    run,
    ingest,
    assess,
    grid,
    backtest,
    train,
    forecast,
    warn,
    replay,
    serve,
    networks,
    validate,
    data,
    trace,
    scenario,
    attribute,
    water,
    soil,
    web,
    users,
    hj212,
    audit,
):
    main.add_command(_command)
