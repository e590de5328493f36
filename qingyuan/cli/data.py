"""Commands on station data and configuration: ``ingest``, ``assess``, ``grid``, ``networks``, ``validate``, ``data check``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pipelines.errors import ConfigError, IngestError, SourceError, StoreError
from qingyuan.cli.errors import CommandError, FilesRejected, failing_on
from qingyuan.cli.options import (
    as_str,
    cluster_option,
    network_option,
    outputs_option,
    store_option,
)

__all__ = ["assess", "data", "grid", "ingest", "networks", "validate"]

INGEST_KEYS = (
    "network",
    "rows_in",
    "rows_stored",
    "rows_merged",
    "rows_quarantined",
    "balanced",
    "partitions_written",
    "values_new",
    "values_changed",
    "quarantine_reasons",
    "report_file",
    "quarantine_file",
    "temporaries_removed",
)


@click.command()
@network_option()
@store_option()
@cluster_option()
def ingest(network: str, store: Path | None, cluster: str | None) -> None:
    """Ingest a network's sources into the station store (Prefect flow 'ingest')."""
    from pipelines.config import load_network
    from pipelines.flows import ingest_flow

    with failing_on(ConfigError, SourceError, IngestError, StoreError):
        load_network(network)  # fail fast, before Prefect starts, on a bad YAML
        report = ingest_flow(network, as_str(store), cluster)
    click.echo(json.dumps({k: report[k] for k in INGEST_KEYS}, indent=2, ensure_ascii=False))
    rejected = [r for s in report["sources"] for r in s["rejected"]]
    if rejected:
        raise FilesRejected(
            "\n".join(
                f"REJECTED {r['file']}:{r['line']} {r['field']} {r['reason']}" for r in rejected
            )
        )


@click.command()
@network_option()
@store_option()
@outputs_option()
def assess(network: str, store: Path | None, outputs: Path | None) -> None:
    """Daily AQI (air) or GB 3838 class (water) of a stored network, written to outputs/."""
    from pipelines.flows import assess_flow

    with failing_on(ConfigError, FileNotFoundError, StoreError):
        summary = assess_flow(network, as_str(store), as_str(outputs))
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False))


@click.command()
@network_option()
@click.option("--variable", default="pm25", show_default=True)
@click.option("--date", "dates", multiple=True, help="Local day(s) YYYY-MM-DD (default: last day).")
@click.option(
    "--method", default="ordinary_kriging", show_default=True, help="ordinary_kriging or idw"
)
@click.option("--resolution", default=0.02, show_default=True, help="Grid spacing [degrees].")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@store_option()
def grid(
    network: str,
    variable: str,
    dates: tuple[str, ...],
    method: str,
    resolution: float,
    out: Path | None,
    store: Path | None,
) -> None:
    """Interpolate daily station means to a CF lat/lon grid netCDF for maps."""
    from pipelines.flows import grid_job

    with failing_on(ConfigError, FileNotFoundError, KeyError):
        path = grid_job(network, variable, out, list(dates), method, resolution, as_str(store))
    click.echo(str(path))


@click.command()
def networks() -> None:
    """List the configured networks."""
    from pipelines.config import list_networks, load_network

    for name in list_networks():
        net = load_network(name)
        click.echo(f"{name:12s} {net.kind:5s} {len(net.stations):4d} stations  {net.title}")


@click.command()
@click.argument("network", required=False)
def validate(network: str | None) -> None:
    """Validate a network YAML (name or path), or every configuration file, without ingesting."""
    if network is None:
        import pipelines.config
        from qingyuan.paths import config_dir

        results = pipelines.config.validate_configs(config_dir())
        for r in results:
            state = "ok" if r["ok"] else "FAILED"
            click.echo(
                f"{state}: {r['file']} ({r['kind']})"
                + (f": {r['message']}" if r["message"] else "")
            )
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} configuration files failed")
        click.echo(f"all {len(results)} configuration files valid")
        return
    from pipelines.config.networks import check_input_files, load_network

    with failing_on(ConfigError):
        net = load_network(network)
        files = check_input_files(net)
    click.echo(
        f"ok: {net.name}: {len(net.stations)} stations, {len(net.sources)} source(s), "
        f"{files} input file(s)"
    )


@click.group()
def data() -> None:
    """Check the station store (``data check``)."""


@data.command("check")
@click.option("--network", "names", multiple=True, help="Network(s) to check (default: all).")
@store_option()
def check(names: tuple[str, ...], store: Path | None) -> None:
    """Hash every stored partition against its recorded SHA-256 (checksums.json).

    Prints one line per partition (``ok``, ``unrecorded``: written before checksums existed,
    recorded at the next ingest; ``CORRUPTED``: the reason) and exits with status 2 when a
    partition is corrupted.
    """
    from pipelines.config import list_networks, load_network, load_variables
    from pipelines.store import StationStore
    from qingyuan.paths import store_dir

    root = store or store_dir()
    registry = load_variables()["variables"]
    bad = total = 0
    with failing_on(ConfigError, StoreError):
        for name in names or list_networks():
            st = StationStore(root, load_network(name), registry)
            if not st.dir.is_dir():
                if names:
                    click.echo(f"{name}: no stored data in {st.dir}")
                continue
            for row in st.verify_partitions():
                total += 1
                if row["status"] == "corrupted":
                    bad += 1
                    click.echo(f"CORRUPTED {row['file']}: {row['reason']}")
                else:
                    click.echo(f"{row['status']:10s} {row['file']} sha256 {row['sha256'][:16]}")
    if bad:
        raise CommandError(f"{bad} of {total} partitions corrupted")
    click.echo(f"{total} partition(s) checked, none corrupted")
