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
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

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
    return None


class RunLock:
    """The lock of one state file, as one :class:`~connector.adapters.sqlite.ledger.State`
    holds it: taken at most once, released on close."""

    def __init__(self, state_path: Path | None) -> None:
        self.state_path = state_path          # None: an in-memory state, nothing to lock
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StateLocked` naming the holder."""
        if self.state_path is None or self._fd is not None:
            return
        # State.open creates the file first; a bare lock makes it, owner-only, if need be.
        fd = os.open(self.state_path, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _holder_text(self.state_path) or "another process"
            raise StateLocked(f"state file {self.state_path} is in use by {holder}; "
                              "wait for it to finish (only one run per state file)") from None
        self._fd = fd
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

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> str | None:
        """Who holds this state's lock now (for ``status``), or None when it is free."""
        return lock_holder(self.state_path)
