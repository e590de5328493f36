"""``qingyuan hj212 serve``: the HJ 212 receiver for enterprise online monitors."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.errors import ConfigError
from qingyuan.cli.errors import CommandError, failing_on
from qingyuan.cli.options import store_option

__all__ = ["hj212"]


@click.group()
def hj212() -> None:
    """HJ 212 pollution-source monitors: the TCP receiver and a monitor simulator."""


@hj212.command("serve")
@store_option("Store root (default ./store); the raw log and quarantine go to <store>/hj212/.")
@click.option("--host", default=None, help="Address (default: configs/hj212.yml receiver.host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (default: receiver.port; 0 picks one).",
)
def serve(store: Path | None, host: str | None, port: int | None) -> None:
    """Receive HJ 212 packets until stopped: durable raw log, 9014 answers, quarantine."""
    import asyncio

    from pipelines.config.hj212 import hj212_config
    from pipelines.hj212 import Receiver
    from qingyuan.paths import store_dir

    with failing_on(ConfigError):
        spec = hj212_config()
    root = Path(store or store_dir()) / "hj212"

    async def main() -> None:
        rx = Receiver(spec, root)
        try:
            h, p = await rx.start(host, port)
        except OSError as exc:
            where = f"{host or spec.receiver.host}:{spec.receiver.port if port is None else port}"
            raise CommandError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        click.echo(
            f"HJ 212 receiver on {h}:{p}; {len(rx.monitors)} monitor(s) configured; "
            f"raw log and quarantine in {root}"
        )
        if not rx.monitors:
            click.echo(
                "note: no monitor in configs/hj212.yml receiver.monitors: every packet is quarantined"
            )
        await rx.server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


@hj212.command("simulate")
@click.option(
    "--network",
    default="beijing_sources",
    show_default=True,
    help="A kind: source network (its stations' MN and password).",
)
@click.option(
    "--day",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2017-02-11",
    show_default=True,
    help="Local day of the generated traffic.",
)
@click.option("--seed", type=int, default=20170211, show_default=True, help="Random seed.")
@click.option(
    "--minute-monitors",
    type=click.IntRange(0, None),
    default=2,
    show_default=True,
    help="How many monitors also send minute data (CN 2051).",
)
@click.option("--no-faults", is_flag=True, help="Leave out the packets a receiver must refuse.")
@click.option(
    "--replay",
    "replay_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send the frames of this file (see --write) instead of generating them.",
)
@click.option(
    "--write",
    "write_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the frames to this file (.xz compresses) instead of sending them.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The receiver's address.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="The receiver's port (default: configs/hj212.yml receiver.port).",
)
@click.option(
    "--max-reconnects",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Dials in a row without progress after which a monitor stops.",
)
@click.option(
    "--ack-timeout",
    type=click.FloatRange(0.1, 60),
    default=5.0,
    show_default=True,
    help="Seconds a monitor waits for the 9014 answer before sending again (3 retries).",
)
def simulate(
    network: str,
    day,  # noqa: ANN001 - click's datetime
    seed: int,
    minute_monitors: int,
    no_faults: bool,
    replay_file: Path | None,
    write_file: Path | None,
    host: str,
    port: int | None,
    max_reconnects: int,
    ack_timeout: float,
) -> None:
    """Play monitors against a receiver: hourly and minute uploads, flags, faults (SYNTHETIC)."""
    from pipelines.config import load_network
    from pipelines.config.hj212 import hj212_config
    from pipelines.hj212.client import run_monitors_sync
    from pipelines.hj212.traffic import read_traffic, synthetic_day, write_traffic

    with failing_on(ConfigError, ValueError):
        if replay_file is not None:
            queues = read_traffic(replay_file)
        else:
            net = load_network(network)
            if net.kind != "source":
                raise CommandError(f"{network} is a {net.kind} network, not kind: source")
            queues = synthetic_day(
                net, day.date(), seed=seed, minute_monitors=minute_monitors, faults=not no_faults
            )
    n = sum(len(f) for f in queues.values())
    if write_file is not None:
        path = write_traffic(queues, write_file)
        click.echo(f"wrote {n} frames of {len(queues)} loggers to {path} (SYNTHETIC)")
        return
    port = hj212_config().receiver.port if port is None else port
    click.echo(f"sending {n} frames of {len(queues)} loggers to {host}:{port} (SYNTHETIC) ...")
    try:
        stats = run_monitors_sync(
            host,
            port,
            queues,
            ack_timeout_s=ack_timeout,
            max_reconnects=max_reconnects,
            backoff_max_s=2.0,
        )
    except OSError as exc:
        raise CommandError(f"cannot reach {host}:{port}: {exc.strerror or exc}") from None
    click.echo(
        f"sent {stats.sent}, acknowledged {stats.acknowledged}, re-sent {stats.resent}, "
        f"given up {stats.given_up}, no answer wanted {stats.no_answer_wanted}, "
        f"connection errors {stats.connection_errors} in {stats.elapsed_s:.1f} s"
    )
    if stats.acknowledged == 0 and (stats.given_up or stats.unsent):
        raise CommandError(f"no frame was acknowledged: is a receiver listening on {host}:{port}?")
