"""A day of monitor traffic through a real receiver: start it on a free port, replay, stop.

``qingyuan run`` (and the tests) use :func:`replay_through_receiver`: a
:class:`~pipelines.hj212.receiver.Receiver` on ``127.0.0.1`` port 0 writing to
``<store>/hj212/``, and one simulated data logger per MN (:mod:`pipelines.hj212.client`) sending
its frames over TCP and waiting for each 9014 answer. What the receiver accepted is then in its
durable raw log for the ``hj212_log`` source of the network; what it refused is in its quarantine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.config.hj212 import Hj212Spec, hj212_config
from pipelines.hj212.client import run_monitors
from pipelines.hj212.receiver import Receiver

__all__ = ["replay_through_receiver"]


def replay_through_receiver(
    queues: dict[str, list[bytes]],
    root: Path,
    *,
    spec: Hj212Spec | None = None,
    host: str = "127.0.0.1",
    ack_timeout_s: float = 5.0,
    now: Any = None,
) -> dict[str, Any]:
    """Serve a receiver on a free local port while the loggers of ``queues`` send to it.

    Parameters
    ----------
    queues : dict
        Logger key -> frames (:func:`pipelines.hj212.traffic.synthetic_day` or
        :func:`~pipelines.hj212.traffic.read_traffic`).
    root : pathlib.Path
        The receiver's directory (``<store>/hj212``).
    spec : Hj212Spec, optional
        Protocol tables and monitors (default ``configs/hj212.yml``).
    ack_timeout_s : float
        The loggers' answer timeout [s].
    now : callable, optional
        The receiver's clock (UTC, aware).

    Returns
    -------
    dict
        ``port``, the receiver's counts (``packets_in == accepted + quarantined``), the loggers'
        counts and answer latencies (p50 / p99 [ms]), and the raw-log and quarantine paths.
    """
    spec = spec or hj212_config()

    async def main() -> dict[str, Any]:
        rx = Receiver(spec, Path(root), now=now)
        _, port = await rx.start(host, 0)
        try:
            stats = await run_monitors(host, port, queues, ack_timeout_s=ack_timeout_s)
        finally:
            await rx.stop()
        return {"port": port, "receiver": rx.stats, "client": stats}

    started = dt.datetime.now(dt.UTC)
    res = asyncio.run(main())
    rx, cl = res["receiver"], res["client"]
    lat = sorted(cl.latencies_s)

    def pct(q: float) -> float | None:
        return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

    return {
        "port": res["port"],
        "started": started.isoformat(),
        "loggers": len(queues),
        "frames": cl.frames,
        "packets_in": rx.accepted + rx.quarantined,
        "accepted": rx.accepted,
        "quarantined": rx.quarantined,
        "acknowledged": rx.acknowledged,
        "quarantine_reasons": dict(rx.reasons),
        "client": {
            "sent": cl.sent,
            "acknowledged": cl.acknowledged,
            "resent": cl.resent,
            "given_up": cl.given_up,
            "no_answer_wanted": cl.no_answer_wanted,
            "ack_p50_ms": pct(0.5),
            "ack_p99_ms": pct(0.99),
            "elapsed_s": round(cl.elapsed_s, 2),
        },
        "raw_log": str(Path(root) / "raw"),
        "quarantine": str(Path(root) / "quarantine"),
    }
