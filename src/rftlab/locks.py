"""Who holds what: advisory file locks (fcntl) and the identity of a live process.

A lock lives as long as the process holding it: the kernel drops an `flock` when its
process dies, SIGKILL included, so a killed holder never leaves a stale lock behind.
`process_token()` names a process by pid AND start time, so a recycled pid is never
mistaken for the process that tagged a run or a job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class Busy(Exception):
    """The lock is held by another process (non-blocking attempt or timeout)."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5), counted after the name


def process_token(pid: int | None = None) -> str:
    """`pid:start` for a process (this one by default); `pid` alone where /proc is missing."""
    pid = os.getpid() if pid is None else pid
    start = _start_time(pid)
    return f"{pid}:{start}" if start else str(pid)


def hostname() -> str:
    """This machine and PID namespace: a pid means something only where it was taken (two containers
    may share a hostname, never a PID namespace)."""
    try:
        ns = os.readlink("/proc/self/ns/pid").removeprefix("pid:")
    except OSError:
        ns = ""
    return f"{socket.gethostname()}{ns}"


def process_alive(token: str | None, host: str | None = None) -> bool | None:
    """Is the process named by `token` (from `process_token`, taken on `host` = `hostname()`) running?

    None when it cannot be told: another host or PID namespace, or no token.
    """
    if not token or (host and host != hostname()):
        return None
    pid_text, _, start = token.partition(":")
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not start or _start_time(pid) in (start, None)


def _open(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a+b")  # noqa: SIM115 - the handle is the lock; closed by release()


def try_lock(path: str | os.PathLike) -> IO[bytes] | None:
    """Take the exclusive lock on `path` without waiting: the open handle, or None when held."""
    fh = _open(Path(path))
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def release(fh: IO[bytes] | None) -> None:
    if fh is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, *, timeout: float | None = None, poll: float = 0.1) -> Iterator[None]:
    """Hold the exclusive lock on `path` for the block; wait for it (at most `timeout` s: Busy)."""
    fh = _open(Path(path))
    try:
        if timeout is None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise Busy(f"{path}: still locked by another process after {timeout:.0f} s") from None
                    time.sleep(poll)
        yield
    finally:
        release(fh)
