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
    """HJ 212 pollution-source monitors: the TCP receiver."""


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
