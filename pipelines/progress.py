"""Progress of long jobs: step headings and loop progress, shown by whoever runs the job.

The pipelines announce their steps (:class:`Steps`) and their long loops (:func:`track`); they
never print them. By default nothing is shown (a scheduled flow, a library call, the tests): a
front end installs a :class:`Reporter` for the duration of a call with :func:`reporting`. The
command line's reporter (:class:`qingyuan.cli.console.ConsoleReporter`) prints ``[2/7] Ingest
beijing …`` headings with the elapsed time of each step and progress bars on a terminal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

__all__ = ["Reporter", "Steps", "reporting", "track"]

T = TypeVar("T")


class Reporter(Protocol):
    """What a front end does with the progress of a job."""

    def started(self, index: int, total: int, title: str) -> None:
        """Announce that step ``index`` of ``total`` (1-based), ``title``, begins."""

    def finished(self, index: int, total: int, title: str, *, seconds: float, ok: bool) -> None:
        """Announce that the step ended after ``seconds`` (``ok``: False when it raised)."""

    def track(self, items: Iterable[T], *, total: int | None, desc: str) -> Iterator[T]:
        """Yield ``items``, showing how far the loop ``desc`` has come."""


_reporter: Reporter | None = None


@contextlib.contextmanager
def reporting(reporter: Reporter | None) -> Iterator[Reporter | None]:
    """Show the progress of every job run in the block with ``reporter`` (None: show nothing).

    The previous reporter is restored on exit.
    """
    global _reporter
    saved, _reporter = _reporter, reporter
    try:
        yield reporter
    finally:
        _reporter = saved


def track(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    """Yield ``items`` unchanged, reporting the loop's progress (nothing without a reporter).

    Parameters
    ----------
    items : iterable
        The loop's items.
    total : int, optional
        How many (default ``len(items)`` when it has one).
    desc : str
        What the loop does, e.g. ``"read files"``.
    """
    reporter = _reporter
    if reporter is None:
        yield from items
        return
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    yield from reporter.track(items, total=total, desc=desc)


class Steps:
    """The numbered steps of one job, e.g. the seven steps of ``qingyuan run``.

    Parameters
    ----------
    total : int
        How many steps the job announces.

    Examples
    --------
    >>> plan = Steps(2)
    >>> with plan.step("Ingest beijing"):
    ...     pass
    >>> with plan.step("Summary"):
    ...     pass
    """

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.done = 0

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Run the block as the next step, reporting its start and its end (elapsed time)."""
        self.done += 1
        index, reporter = self.done, _reporter
        if reporter is None:
            yield
            return
        reporter.started(index, self.total, title)
        start = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            reporter.finished(index, self.total, title, seconds=time.perf_counter() - start, ok=ok)
