"""Prefect's temporary API server: never left behind by a killed process (issue #16).

A flow run without ``PREFECT_API_URL`` makes Prefect 3 start a temporary API server as a child
process (``prefect.server.api.server.SubprocessASGIServer``: ``python -m uvicorn --factory
prefect.server.api.server:create_app --port N``), stopped by an ``atexit`` handler. A process
killed with SIGKILL never runs it, and the server went on listening on its port. Two guards,
installed by :func:`install` (importing ``pipelines.flows`` and every ``qingyuan`` command
call it):

1. **the server dies with its parent**: it is started with ``PR_SET_PDEATHSIG`` (Linux
   ``prctl``), so the kernel sends it SIGTERM as soon as the thread that started it is gone,
   SIGKILL of the whole parent included. The signal follows the *thread*, so this is done only
   when the server is started from the main thread (where a flow run starts it);
2. **every server is recorded**: ``<run dir>/prefect-servers/<pid>.json`` holds its pid, start
   time and command line and those of its parent; the record is removed when Prefect stops the
   server. :func:`sweep` (run at every ``qingyuan`` start) ends each recorded server whose parent
   is gone while its pid still runs the same command line (SIGTERM, SIGKILL after
   ``wait_s``) and forgets records of servers that are gone.

The records live in the run directory (:func:`run_dir`: ``$QINGYUAN_RUN_DIR``, else
``$XDG_RUNTIME_DIR/qingyuan``, else ``<tmp>/qingyuan-<uid>``), not in ``outputs/``: process ids
mean something on this machine and boot only, and one machine's processes may use several
outputs folders.

Nothing here imports Prefect: the patch is applied when Prefect's server module is first
imported (an import hook), so that commands which never run a flow do not pay its import.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "RUN_DIR_ENV",
    "install",
    "is_prefect_server",
    "process_start",
    "recorded_servers",
    "run_dir",
    "sweep",
]

#: Environment variable naming the run-state directory (:func:`run_dir`).
RUN_DIR_ENV = "QINGYUAN_RUN_DIR"
_SERVER_MODULE = "prefect.server.api.server"
_SERVER_APP = "prefect.server.api.server:create_app"
_PR_SET_PDEATHSIG = 1
_LOCK = threading.Lock()


def run_dir() -> Path:
    """Return the run-state directory of this user on this machine (created when missing)."""
    env = os.environ.get(RUN_DIR_ENV)
    if env:
        path = Path(env)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "qingyuan"
    else:
        path = Path(tempfile.gettempdir()) / f"qingyuan-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _records() -> Path:
    return run_dir() / "prefect-servers"


def process_start(pid: int) -> int | None:
    """Start time of a live process in clock ticks since boot (``/proc``); None if gone or zombie.

    With the pid it names one process for good: a reused pid has another start time.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])  # field 22 of proc(5)


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_prefect_server(cmdline: Sequence[str] | None) -> bool:
    """Whether a command line is Prefect's temporary API server (uvicorn on its app factory)."""
    return bool(cmdline) and "uvicorn" in cmdline and _SERVER_APP in cmdline


def recorded_servers() -> list[dict[str, Any]]:
    """Return the server records of this machine (module docstring), oldest first."""
    out = []
    for f in sorted(_records().glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(f.read_text(encoding="utf-8")) | {"record": str(f)})
    return out


def _record(proc: subprocess.Popen[Any], args: Sequence[str]) -> None:
    args = [str(a) for a in args]
    port = args[args.index("--port") + 1] if "--port" in args[:-1] else None
    rec = {
        "pid": proc.pid,
        "start": process_start(proc.pid),
        "cmdline": _cmdline(proc.pid) or args,
        "port": int(port) if port and port.isdigit() else None,
        "parent": os.getpid(),
        "parent_start": process_start(os.getpid()),
        "parent_cmdline": _cmdline(os.getpid()),
        "pdeathsig": getattr(proc, "_qingyuan_pdeathsig", False),
    }
    folder = _records()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{proc.pid}.json.tmp"
    tmp.write_text(json.dumps(rec), encoding="utf-8")
    os.replace(tmp, folder / f"{proc.pid}.json")


def _forget(pid: int) -> None:
    with contextlib.suppress(OSError):
        (_records() / f"{pid}.json").unlink()


def _wait_gone(pid: int, start: int | None, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = process_start(pid)
        if now is None or now != start:
            return True
        time.sleep(0.05)
    return False


def sweep(*, wait_s: float = 5.0) -> list[dict[str, Any]]:
    """End the recorded Prefect servers whose parent is gone; forget records of dead servers.

    A server is ended only when its pid still has the recorded start time and command line
    (so a reused pid is never signalled) and the recorded parent (pid and start time) is gone.

    Parameters
    ----------
    wait_s : float, optional
        Seconds between SIGTERM and SIGKILL.

    Returns
    -------
    list of dict
        The records of the servers ended.
    """
    ended = []
    for rec in recorded_servers():
        pid, record = int(rec.get("pid", 0)), Path(rec["record"])
        start = process_start(pid) if pid > 0 else None
        if start is None or start != rec.get("start"):  # gone, or the pid was reused
            record.unlink(missing_ok=True)
            continue
        parent = int(rec.get("parent", 0))
        if parent > 0 and process_start(parent) == rec.get("parent_start"):
            continue  # its process is alive: its server
        cmd = _cmdline(pid)
        if cmd != rec.get("cmdline") or not is_prefect_server(cmd):
            record.unlink(missing_ok=True)
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, start, timeout_s=wait_s):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, start, timeout_s=wait_s)
        record.unlink(missing_ok=True)
        ended.append(rec)
    return ended


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Return a ``preexec_fn`` that has the child sent SIGTERM when its parent (thread) dies."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl: the signal never comes
            os._exit(1)

    return preexec


class _GuardedSubprocess:
    """The ``subprocess`` module as Prefect's server module sees it: ``Popen`` is guarded."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # noqa: N802 (the module's name)
        """``subprocess.Popen`` with the guards of the module docstring."""
        argv = kwargs.get("args", args[0] if args else [])
        server = is_prefect_server([str(a) for a in argv])
        pdeathsig = (
            server
            and sys.platform.startswith("linux")
            and threading.current_thread() is threading.main_thread()
            and "preexec_fn" not in kwargs
        )
        if pdeathsig:
            kwargs["preexec_fn"] = _die_with_parent(os.getpid())
        proc = subprocess.Popen(*args, **kwargs)
        if server:
            proc._qingyuan_pdeathsig = pdeathsig  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                _record(proc, argv)
        return proc


def _patch(module: ModuleType) -> None:
    """Guard ``SubprocessASGIServer`` of Prefect's server module (once)."""
    with _LOCK:
        if isinstance(getattr(module, "subprocess", None), _GuardedSubprocess):
            return
        module.subprocess = _GuardedSubprocess()  # type: ignore[attr-defined]
        cls = module.SubprocessASGIServer
        stop = cls.stop

        def guarded_stop(self: Any) -> None:
            proc = self.server_process
            stop(self)
            if proc is not None:
                _forget(proc.pid)

        guarded_stop.__doc__ = stop.__doc__
        cls.stop = guarded_stop


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Import hook: apply :func:`_patch` right after Prefect's server module is executed."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _SERVER_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Guard Prefect's temporary API server in this process (idempotent, imports no Prefect)."""
    module = sys.modules.get(_SERVER_MODULE)
    if module is not None:
        _patch(module)
        return
    with _LOCK:
        if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _PatchOnImport())
