"""ecCodes in a process of its own: GRIB2 decoding and encoding for :mod:`pipelines.nwp`.

The ecCodes PyPI wheels (``eccodeslib``, ``eckitlib``) bundle their own OpenSSL 1.1, libcurl and
libsqlite3 3.26. Loaded in a process that also uses MLflow (sqlite) or netCDF4, they make the
``sqlite3`` module bind the old library and can crash the interpreter at exit. So ecCodes never
loads in the calling process: :func:`grib_messages` and :func:`write_messages` hand the work to
one child process and get plain Python values and numpy arrays back.

The child is this file run as a script (``python -P eccodes_worker.py``), not a
:mod:`multiprocessing` "spawn" worker: spawn re-imports the parent's main script in the child (for
the ``qingyuan`` console script that is the whole CLI, MLflow and netCDF4 included). The child
imports the standard library, numpy and eccodes only, and nothing of :mod:`pipelines`. It is
started on first use, serves every later call of the process (one at a time, in the caller's
working directory), is stopped at exit (:func:`shutdown`, registered with :mod:`atexit`) and
leaves with ``os._exit``, so the bundled libraries' exit handlers never run; its exit status is
not looked at. A worker that died is replaced by a new one at the next call.

Protocol: requests and replies are pickles, each preceded by its length (8 bytes, big-endian),
over two pipes. A request is ``(operation, cwd, kwargs)``; its reply is zero or more
``("item", value)`` frames (one per decoded message) and then one of ``("done", value)``,
``("error", reason)`` (ecCodes refused the data: :class:`GribError`) or ``("bug", traceback)``
(:class:`WorkerError`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

import numpy as np

__all__ = [
    "GribError",
    "WorkerDied",
    "WorkerError",
    "grib_messages",
    "shutdown",
    "worker_pid",
    "write_messages",
]

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")
#: Seconds :func:`shutdown` waits for the child to leave before killing it.
_STOP_TIMEOUT_S = 10.0


class GribError(ValueError):
    """ecCodes refused the data (unreadable message, missing key, value it cannot encode).

    Parameters
    ----------
    reason : str
        The child's reason, e.g. ``"message 3: not readable GRIB (End of resource reached)"``.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class WorkerError(RuntimeError):
    """The ecCodes worker failed unexpectedly (the message holds the child's traceback)."""


class WorkerDied(WorkerError):
    """The ecCodes worker process ended in the middle of a request (a crash in ecCodes)."""


# ---------------------------------------------------------------------------------------------
# framing (both sides)


def _send_frame(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _recv_frame(stream: IO[bytes]) -> object | None:
    """Read the next frame; None at the end of the stream (also when cut short)."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


# ---------------------------------------------------------------------------------------------
# the child: ecCodes work (eccodes is imported here only)


class _Reject(Exception):
    """ecCodes refused the data; ``reason`` goes back to the parent as a :class:`GribError`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _getter(ec: Any, h: int, where: str) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        try:
            return ec.codes_get(h, key)
        except ec.CodesInternalError as exc:
            raise _Reject(f"{where}: cannot read key {key!r} ({exc})") from exc

    return get


def _arrays(ec: Any, h: int, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, latitudes and longitudes of a message, float64, in file order."""
    try:
        values = np.asarray(ec.codes_get_values(h), dtype="float64")
        lats = np.asarray(ec.codes_get_array(h, "latitudes"), dtype="float64")
        lons = np.asarray(ec.codes_get_array(h, "longitudes"), dtype="float64")
    except ec.CodesInternalError as exc:
        raise _Reject(f"{where}: cannot decode the values or the grid ({exc})") from exc
    return values, lats, lons


#: GRIB2 keys that decide a message's parameter (ecCodes' ``shortName`` / ``units`` concepts).
_PARAMETER_KEYS = (
    "edition",
    "centre",
    "subCentre",
    "tablesVersion",
    "localTablesVersion",
    "discipline",
    "parameterCategory",
    "parameterNumber",
    "productDefinitionTemplateNumber",
    "typeOfFirstFixedSurface",
    "scaleFactorOfFirstFixedSurface",
    "scaledValueOfFirstFixedSurface",
    "typeOfSecondFixedSurface",
    "scaleFactorOfSecondFixedSurface",
    "scaledValueOfSecondFixedSurface",
    "typeOfStatisticalProcessing",
    "productionStatusOfProcessedData",
    "typeOfProcessedData",
)
#: Product templates whose parameter those keys decide (analysis/forecast at a point in time or
#: over an interval); others (chemistry, ensembles, ...) are looked up message by message.
_CACHED_TEMPLATES = (0, 8)


def _parameter(ec: Any, h: int, get: Callable[[str], Any], cache: dict | None) -> tuple[str, str]:
    """``shortName`` and ``units`` of a message, looked up once per parameter of a file.

    ecCodes evaluates these concepts against its definition tables on every call (~5 ms per
    key, 90 % of decoding a small-grid file, measured); messages with the same parameter keys
    share the answer.
    """
    key = None
    if cache is not None and get("edition") == 2:
        key = tuple(
            ec.codes_get(h, k) if ec.codes_is_defined(h, k) else None for k in _PARAMETER_KEYS
        )
        if key[_PARAMETER_KEYS.index("productDefinitionTemplateNumber")] not in _CACHED_TEMPLATES:
            key = None
        elif key in cache:
            return cache[key]
    found = (str(get("shortName")), str(get("units")))
    if key is not None:
        cache[key] = found
    return found


def _decode(ec: Any, h: int, n: int, cache: dict | None = None) -> dict[str, Any]:
    """One regular lat/lon message -> plain values (the grid as ``(lat, lon)``)."""
    where = f"message {n}"
    get = _getter(ec, h, where)
    if get("gridType") != "regular_ll":
        raise _Reject(f"{where}: grid type {get('gridType')!r} is not regular_ll")
    try:
        ec.codes_set(h, "stepUnits", "h")
        step = float(ec.codes_get(h, "endStep"))
    except ec.CodesInternalError as exc:
        raise _Reject(f"{where}: step is not a whole number of hours ({exc})") from exc
    ni, nj = int(get("Ni")), int(get("Nj"))
    values, lats, lons = _arrays(ec, h, where)
    if get("bitmapPresent"):
        values[values == get("missingValue")] = np.nan
    by_lon = bool(get("jPointsAreConsecutive"))

    def as_grid(a: np.ndarray) -> np.ndarray:  # (lat, lon) whatever the scanning order
        return a.reshape(ni, nj).T if by_lon else a.reshape(nj, ni)

    try:
        grid, lat2, lon2 = as_grid(values), as_grid(lats), as_grid(lons)
    except ValueError as exc:
        raise _Reject(f"{where}: {values.size} values do not fill a {nj} x {ni} grid") from exc
    short_name, units = _parameter(ec, h, get, cache)
    return {
        "shortName": short_name,
        "units": units,
        "dataDate": int(get("dataDate")),
        "dataTime": int(get("dataTime")),
        "step": step,
        "lat": lat2[:, 0].copy(),
        "lon": lon2[0, :].copy(),
        "values": grid,
    }


def _read_grib(path: str) -> Iterator[dict[str, Any]]:
    """Decode the messages of a GRIB file one by one (see :func:`grib_messages`)."""
    import eccodes as ec

    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise _Reject(f"cannot open: {exc}") from exc
    with fh:
        n = 0
        parameters: dict = {}  # one file: its messages share ecCodes' definitions
        while True:
            try:
                h = ec.codes_grib_new_from_file(fh)
            except ec.CodesInternalError as exc:
                raise _Reject(f"message {n + 1}: not readable GRIB ({exc})") from exc
            if h is None:
                return
            n += 1
            try:
                message = _decode(ec, h, n, parameters)
            finally:
                ec.codes_release(h)
            yield message


def _set(ec: Any, h: int, key: str, value: Any, where: str) -> None:
    try:
        ec.codes_set(h, key, value)
    except ec.CodesInternalError as exc:
        raise _Reject(f"{where}: cannot set {key!r} to {value!r} ({exc})") from exc


def _template(ec: Any, sample: str, keys: Sequence[tuple[str, Any]], where: str) -> int:
    try:
        h = ec.codes_grib_new_from_samples(sample)
    except ec.CodesInternalError as exc:
        raise _Reject(f"{where}: no ecCodes sample {sample!r} ({exc})") from exc
    try:
        for key, value in keys:
            _set(ec, h, key, value, where)
    except BaseException:
        ec.codes_release(h)
        raise
    return h


def _write_step(ec: Any, h: int, field: dict[str, Any], step: int, bits: int, fh: IO) -> None:
    """Re-step and re-fill a field's handle with one step, then append it to the file."""
    where = f"{field['shortName']} step {step}"
    if field["accumulated"]:
        _set(ec, h, "stepRange", f"0-{step}", where)
    else:
        _set(ec, h, "step", step, where)
    x = field["values"][step]
    gaps = np.isnan(x)
    if gaps.any():
        missing = field["missing_value"]
        _set(ec, h, "bitmapPresent", 1, where)
        _set(ec, h, "missingValue", missing, where)
        x = np.where(gaps, missing, x)
    elif ec.codes_get(h, "bitmapPresent"):
        _set(ec, h, "bitmapPresent", 0, where)
    _set(ec, h, "bitsPerValue", bits, where)  # a constant field leaves 0 behind
    try:
        ec.codes_set_values(h, x.ravel())
    except ec.CodesInternalError as exc:
        raise _Reject(f"{where}: cannot encode the values ({exc})") from exc
    ec.codes_write(h, fh)


def _write_grib(
    path: str,
    sample: str,
    header: Sequence[tuple[str, Any]],
    fields: Sequence[dict[str, Any]],
    bits_per_value: int,
) -> None:
    """Write the fields step by step (see :func:`write_messages`)."""
    import eccodes as ec

    handles: list[int] = []
    try:
        for f in fields:
            keys = [*header, *f["keys"], ("shortName", f["shortName"])]
            keys.append(("bitsPerValue", bits_per_value))
            handles.append(_template(ec, sample, keys, f["shortName"]))
        n_steps = fields[0]["values"].shape[0] if fields else 0
        with open(path, "wb") as fh:
            for step in range(n_steps):
                for h, f in zip(handles, fields, strict=True):
                    _write_step(ec, h, f, step, bits_per_value, fh)
    finally:
        for h in handles:
            ec.codes_release(h)


#: Operations of the child; one that returns an iterator streams its items.
_OPERATIONS: dict[str, Callable[..., Any]] = {
    "read_grib": _read_grib,
    "write_grib": _write_grib,
}


def _frames(operation: str, cwd: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Run one request; yield its reply frames (items, then the closing frame)."""
    try:
        os.chdir(cwd)
        result = _OPERATIONS[operation](**kwargs)
        if isinstance(result, Iterator):
            for item in result:
                yield ("item", item)
            result = None
        yield ("done", result)
    except _Reject as exc:
        yield ("error", exc.reason)
    except Exception:
        yield ("bug", traceback.format_exc())


def _serve(fd_in: int, fd_out: int) -> None:
    """Answer requests until the parent closes the request pipe."""
    with os.fdopen(fd_in, "rb") as requests, os.fdopen(fd_out, "wb") as replies:
        while (request := _recv_frame(requests)) is not None:
            operation, cwd, kwargs = request
            for frame in _frames(operation, cwd, kwargs):
                _send_frame(replies, frame)


def _child_main(argv: Sequence[str]) -> None:
    """Entry point of the child: serve, then leave without C-level teardown."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        _serve(int(argv[1]), int(argv[2]))
    except BrokenPipeError:
        pass  # the parent left in the middle of a reply
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


# ---------------------------------------------------------------------------------------------
# the parent: one worker per process, started on first use


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


class _Worker:
    """The child process and the parent's ends of its two pipes."""

    def __init__(self) -> None:
        req_r, req_w = os.pipe()  # parent -> child
        rep_r, rep_w = os.pipe()  # child -> parent
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", os.path.abspath(__file__), str(req_r), str(rep_w)],
                pass_fds=(req_r, rep_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(rep_w)
        self.owner = os.getpid()
        self.requests = os.fdopen(req_w, "wb")
        self.replies = os.fdopen(rep_r, "rb")
        self.broken = False

    def usable(self) -> bool:
        return not self.broken and self.owner == os.getpid() and self.proc.poll() is None

    def died(self, operation: str) -> WorkerDied:
        """Mark the worker unusable; the error to raise for ``operation``."""
        self.broken = True
        try:
            code = self.proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        return WorkerDied(
            f"the ecCodes worker process (pid {self.proc.pid}) ended during {operation} "
            f"({_describe_exit(code)})"
        )

    def send(self, operation: str, kwargs: dict[str, Any]) -> None:
        try:
            _send_frame(self.requests, (operation, os.getcwd(), kwargs))
        except (BrokenPipeError, ValueError) as exc:  # ValueError: pipe already closed
            raise self.died(operation) from exc

    def receive(self, operation: str) -> tuple[str, Any]:
        frame = _recv_frame(self.replies)
        if frame is None:
            raise self.died(operation)
        return frame

    def stop(self, *, kill: bool = False) -> None:
        """Close the request pipe (the child leaves), wait, kill if it hangs; never raises."""
        self.broken = True
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        if kill:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code:
            logger.debug("ecCodes worker %s left with %s", self.proc.pid, _describe_exit(code))

    def forget(self) -> None:
        """In a forked child: close the inherited pipe ends, leave the process to its owner."""
        self.broken = True
        for stream in (self.requests, self.replies):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


class _Replies:
    """Iterator over the ``item`` frames of one request; the closing frame ends or raises."""

    def __init__(self, worker: _Worker, operation: str) -> None:
        self.worker, self.operation = worker, operation
        self.finished = False
        self.value: Any = None

    def __iter__(self) -> _Replies:
        return self

    def __next__(self) -> Any:
        if self.finished:
            raise StopIteration
        try:
            kind, payload = self.worker.receive(self.operation)
        except WorkerDied:
            self.finished = True
            raise
        if kind == "item":
            return payload
        self.finished = True
        if kind == "done":
            self.value = payload
            raise StopIteration
        if kind == "error":
            raise GribError(payload)
        raise WorkerError(f"the ecCodes worker failed during {self.operation}:\n{payload}")

    def drain(self) -> None:
        """Read and drop the rest of the reply (the caller stopped early)."""
        while not self.finished:
            with contextlib.suppress(StopIteration, WorkerError, GribError):
                next(self)


_LOCK = threading.Lock()
_STATE: dict[str, _Worker | None] = {"worker": None}
_ATEXIT: dict[str, bool] = {"registered": False}


def _live_worker() -> _Worker:
    """Return the process's worker, started anew when there is none or it died (hold _LOCK)."""
    worker = _STATE["worker"]
    if worker is not None and worker.usable():
        return worker
    if worker is not None and worker.owner == os.getpid():
        worker.stop()
    if not _ATEXIT["registered"]:
        atexit.register(shutdown)
        _ATEXIT["registered"] = True
    _STATE["worker"] = worker = _Worker()
    return worker


@contextlib.contextmanager
def _request(operation: str, **kwargs: Any) -> Iterator[_Replies]:
    """Send one request; yield the iterator over its reply (drained or discarded on exit)."""
    with _LOCK:
        worker = _live_worker()
        worker.send(operation, kwargs)
        replies = _Replies(worker, operation)
        try:
            yield replies
        except Exception:
            replies.drain()
            raise
        except BaseException:  # KeyboardInterrupt: do not wait for the rest of the reply
            worker.stop(kill=True)
            raise
        replies.drain()


def _after_fork_in_child() -> None:
    global _LOCK
    _LOCK = threading.Lock()
    worker, _STATE["worker"] = _STATE["worker"], None
    if worker is not None:
        worker.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextlib.contextmanager
def grib_messages(path: str | os.PathLike[str]) -> Iterator[Iterator[dict[str, Any]]]:
    """Decode a GRIB file in the worker; yield an iterator over its messages, in file order.

    Parameters
    ----------
    path : str or os.PathLike
        The file (relative paths are taken from the caller's working directory).

    Yields
    ------
    iterator of dict
        Per message: ``shortName``, ``units`` (str), ``dataDate``, ``dataTime`` (int, as in the
        file), ``step`` (``endStep`` in hours, float), ``lat``, ``lon`` (1-D float64 axes, in
        file order) and ``values`` (``(lat, lon)`` float64, NaN where the bitmap says missing).
        Leaving the block early drops the remaining messages.

    Raises
    ------
    GribError
        From the iterator, at the place of the first message that cannot be used (the file
        cannot be opened, a message is not readable GRIB, a key is missing, the grid is not
        regular lat/lon, the step is not whole hours); ``reason`` names the message number.
    WorkerDied
        When the worker process ends during the request (ecCodes crashed).
    WorkerError
        For an unexpected error in the worker (its traceback in the message).
    """
    with _request("read_grib", path=os.fspath(path)) as replies:
        yield replies


def write_messages(
    path: str | os.PathLike[str],
    *,
    sample: str,
    header: Sequence[tuple[str, Any]],
    fields: Sequence[dict[str, Any]],
    bits_per_value: int,
) -> None:
    """Write GRIB messages in the worker: per step, one message per field, in the given order.

    Each field gets one handle made from ``sample`` with, in this order, ``header``, its own
    ``keys``, its ``shortName`` and ``bitsPerValue``; the handle is then re-stepped and re-filled
    for every step (``stepRange = "0-<step>"`` for accumulated fields, ``step`` otherwise), with
    a bitmap (missing values replaced by ``missing_value``) only when the step has NaN.

    Parameters
    ----------
    path : str or os.PathLike
        The file (overwritten).
    sample : str
        ecCodes sample, e.g. ``"regular_ll_sfc_grib2"``.
    header : sequence of (str, object)
        Keys set on every message, in order.
    fields : sequence of dict
        ``shortName`` (str), ``keys`` (sequence of (str, object)), ``accumulated`` (bool),
        ``missing_value`` (float) and ``values`` (``(step, lat, lon)`` float64 in scanning order;
        all fields have the same steps).
    bits_per_value : int
        Simple-packing bits, set again on every message.

    Raises
    ------
    GribError
        When ecCodes refuses a key or a value (the reason names the field, step and key).
    WorkerDied, WorkerError
        As for :func:`grib_messages`.
    """
    kwargs = {
        "path": os.fspath(path),
        "sample": sample,
        "header": list(header),
        "fields": list(fields),
        "bits_per_value": int(bits_per_value),
    }
    with _request("write_grib", **kwargs) as replies:
        for _ in replies:
            pass


def worker_pid() -> int | None:
    """Process id of this process's running ecCodes worker (None when there is none)."""
    worker = _STATE["worker"]
    return worker.proc.pid if worker is not None and worker.usable() else None


def shutdown() -> None:
    """Stop this process's ecCodes worker (registered with :mod:`atexit`).

    The next call starts a new one.
    """
    locked = _LOCK.acquire(timeout=_STOP_TIMEOUT_S)
    try:
        worker, _STATE["worker"] = _STATE["worker"], None
        if worker is not None and worker.owner == os.getpid():
            worker.stop()
    finally:
        if locked:
            _LOCK.release()


if __name__ == "__main__":
    _child_main(sys.argv)
