"""One process at a time per state file: an OS file lock beside the database.

An ``flock`` rather than a row in the database or a pid file, because the kernel releases
it when the process dies: a killed run's lock is free at once, with nothing stale to clean
up. The lock file holds who took it (pid, host, time), so a refused run and ``status`` can
name the holder.

The lock file is named after the state path as it was given (``<path>.lock`` beside it),
not after the file it resolves to: a symlink (or hard link) to a state file has a lock of
its own, so two processes could open one database through two names. Known, and left as
it was when this module was split out of ``ledger.py``.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import TextIO

from connector.adapters.sqlite.schema import now_iso
from connector.errors import StateLocked


def lock_path(state_path: Path) -> Path:
    """The lock file of a state file: beside it, same name plus ``.lock``."""
    return state_path.with_name(state_path.name + ".lock")


def lock_holder(state_path: Path | None) -> str | None:
    """Who holds the lock of ``state_path`` now, or None when it is free (or there is no file).

    Probes by trying the lock itself, so a holder that died is never reported."""
    if state_path is None:
        return None
    path = lock_path(state_path)
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "unknown"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


class RunLock:
    """The lock of one state file, as one :class:`~connector.adapters.sqlite.ledger.State`
    holds it: taken at most once, released on close."""

    def __init__(self, state_path: Path | None) -> None:
        self.state_path = state_path          # None: an in-memory state, nothing to lock
        self._handle: TextIO | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`StateLocked` naming the holder."""
        if self.state_path is None or self._handle is not None:
            return
        path = lock_path(self.state_path)
        handle = open(path, "a+", encoding="utf-8")
        os.chmod(path, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StateLocked(f"state file {self.state_path} is in use by {holder}; "
                              "wait for it to finish (only one run per state file)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now_iso()}")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def holder(self) -> str | None:
        """Who holds this state's lock now (for ``status``), or None when it is free."""
        return lock_holder(self.state_path)
