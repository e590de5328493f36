"""``qingyuan run``: the main job on the bundled data."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import ConfigError, IngestError, SourceError
from qingyuan.cli.errors import failing_on
from qingyuan.cli.options import as_str, outputs_option, store_option

__all__ = ["run"]


@click.command()
@store_option()
@outputs_option()
@click.option(
    "--network", "networks", multiple=True, help="Networks to run (default: the bundled ones)."
)
def run(store: Path | None, outputs: Path | None, networks: tuple[str, ...]) -> None:
    """Run the main job on the bundled data: ingest -> QC -> store -> daily AQI / water class -> soil -> outputs."""
    from pipelines.flows import run_flow
    from pipelines.flows.summary import render_markdown
    from pipelines.progress import reporting
    from qingyuan.cli.console import ConsoleReporter, library_noise_to
    from qingyuan.paths import outputs_dir

    out = Path(outputs or outputs_dir())
    log_file = out / "logs" / "run.log"
    # one line per failure on screen, its traceback in the log; a heading per step
    with (
        failing_on(ConfigError, SourceError, IngestError, log=log_file),
        library_noise_to(log_file) as log,
        reporting(ConsoleReporter()),
    ):
        result = run_flow(list(networks) or None, as_str(store), str(out))
    click.echo(render_markdown(result))
    click.echo(
        f"\nOutputs written to {out.resolve()} (summary.md, summary.json, daily tables, grid, "
        "forecasts/, warnings/<city>/bulletin.html, feed.json, cap/, soil/).\n"
        f"Library messages (MLflow, warnings) of this run: {log}"
    )
    flags = "".join(f" --{k} {v}" for k, v in (("store", store), ("outputs", outputs)) if v)
    click.echo(
        "\nSee it in a browser:\n"
        f"  .venv/bin/qingyuan web{flags}        # http://127.0.0.1:8000/ (API docs at /api/docs)\n"
        "  .venv/bin/qingyuan users add NAME --role admin|analyst|decision   # then log in at /login\n"
        "The public map, AQI and issued warnings need no login; raw data, forecasts, source tracing "
        "and operations do (configs/access.yml)."
    )
