"""One process at a time per state file: an OS file lock on the state file itself.

An ``flock`` rather than a row in the database or a pid file, because the kernel releases
it when the process dies: a killed run's lock is free at once, with nothing stale to clean
up. The lock is taken on the database file's own inode, not on a name: a symlink, a hard
link, a relative path or ``..`` all lead to the same file and so to the same lock (a lock
file named after the path as written let two runs hold "the" lock through two names).
Who holds it (pid, host, time) is written beside the resolved file, ``<file>.lock``, so a
refused run and ``status`` can name the holder.

flock and SQLite's own POSIX locks do not interact on Linux; but closing any descriptor of
a file drops the process's POSIX locks on it, so the descriptor taken here stays open for
the state's life and is closed only after the SQLite connection (``State.close``).

A daemon holds two locks. Its :class:`DaemonLock` (on ``<file>.daemon``) for its whole
life, so a second daemon is refused at once; and the writer lock above only while it runs
(``RunLock.suspend`` between runs, ``RunLock.acquire(wait=...)`` before the next). So
``retry`` and ``reconcile --fix`` can take the writer lock while the daemon sleeps, and
wait for it while the daemon runs; the daemon in turn waits for them. The writer lock is
still one flock on one inode: two writers never hold it at once. Suspending unlocks the
same descriptor rather than closing it, for the POSIX-lock reason above.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Callable

from connector.adapters.sqlite.schema import now_iso
from connector.errors import StateLocked


def lock_path(state_path: Path) -> Path:
    """Where the holder is written: beside the file the state path resolves to."""
    real = state_path.resolve()
    return real.with_name(real.name + ".lock")


def _holder_text(state_path: Path) -> str | None:
    try:
        return lock_path(state_path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def lock_holder(state_path: Path | None) -> str | None:
    """Who holds the lock of ``state_path`` now, or None when it is free (or there is no file).

    Probes by trying the lock itself, so a holder that died is never reported."""
    if state_path is None or not state_path.exists():
        return None
    fd = os.open(state_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder_text(state_path) or "unknown"
    finally:
        os.close(fd)     # closing releases the probe's lock too
    return daemon_holder(state_path)    # a daemon between runs holds only its own lock


def daemon_path(state_path: Path) -> Path:
    real = state_path.resolve()
    return real.with_name(real.name + ".daemon")


def daemon_holder(state_path: Path) -> str | None:
    """Who holds the daemon lock of ``state_path`` (a daemon, running or between runs)."""
    path = daemon_path(state_path)
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return path.read_text(encoding="utf-8").strip() or "a daemon"
        except OSError:
            return "a daemon"
    finally:
        os.close(fd)
    return None


class DaemonLock:
    """One daemon per state file, for the daemon's whole life (its own file, so the writer
    lock can be let go between runs while a second daemon is still refused)."""

    def __init__(self, state_path: Path | None) -> None:
        self.state_path = state_path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self.state_path is None or self._fd is not None:
            return
        path = daemon_path(self.state_path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = daemon_holder(self.state_path) or "another daemon"
            raise StateLocked(f"state file {self.state_path} is in use by {holder}; "
                              "only one daemon per state file") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {now_iso()} "
                      "(daemon)".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class RunLock:
    """The writer lock of one state file, as one :class:`~connector.adapters.sqlite.ledger.State`
    holds it: taken at most once, let go between a daemon's runs (:meth:`suspend`),
    released on close."""

    POLL = 0.1   # seconds between tries while waiting for the lock

    def __init__(self, state_path: Path | None) -> None:
        self.state_path = state_path          # None: an in-memory state, nothing to lock
        self._fd: int | None = None
        self._locked = False

    @property
    def held(self) -> bool:
        return self._locked

    def acquire(self, *, wait: float = 0.0, should_stop: Callable[[], bool] | None = None,
                waiting: Callable[[str], None] | None = None) -> bool:
        """Take the lock or raise :class:`StateLocked` naming the holder.

        ``wait`` seconds: keep trying that long first (``retry`` while a daemon runs; the
        daemon while a ``retry`` runs), telling ``waiting`` once who it waits for. Returns
        False only when ``should_stop`` asked to give up while waiting."""
        if self.state_path is None or self._locked:
            return True
        if self._fd is None:
            # State.open creates the file first; a bare lock makes it, owner-only, if need be.
            self._fd = os.open(self.state_path, os.O_RDONLY | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder_text(self.state_path) or "another process"
                if should_stop is not None and should_stop():
                    return False
                if time.monotonic() >= deadline:
                    raise StateLocked(f"state file {self.state_path} is in use by {holder}; "
                                      "wait for it to finish (only one run per state file)") from None
                if waiting is not None and not told:
                    waiting(holder)
                    told = True
                time.sleep(self.POLL)
        self._locked = True
        info = lock_path(self.state_path)
        try:
            with open(os.open(info, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w",
                      encoding="utf-8") as handle:
                handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now_iso()}")
        except OSError:
            # A full disk or a read-only folder: the run cannot record anything either, so
            # it does not start; the lock goes back at once rather than at close.
            self.release()
            raise
        return True

    def suspend(self) -> None:
        """Let the lock go but keep the descriptor (closing it would drop SQLite's locks)."""
        if self._fd is not None and self._locked:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._locked = False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._locked = False

    def holder(self) -> str | None:
        """Who holds this state's lock now (for ``status``), or None when it is free."""
        return lock_holder(self.state_path)
