"""HJ 212 supervision of pollution sources: the TCP receiver (:mod:`~pipelines.hj212.receiver`)."""

from __future__ import annotations

from pipelines.hj212.receiver import Receiver, ReceiverStats

__all__ = ["Receiver", "ReceiverStats"]
