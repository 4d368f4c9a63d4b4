"""What a failure of the disk under the state file means to an admin: a :class:`StateError`.

The state file lives on a disk leadsync does not control. It can fill up, be mounted
read-only, lose its permissions, sit in a folder that is gone, or be replaced by something
that is not a database. Each of these reaches leadsync as a bare ``sqlite3.Error`` or
``OSError`` ("database or disk is full", "attempt to write a readonly database") that names
neither the file nor a remedy, and escaped as a traceback. Here each becomes one sentence
naming the file and what to do, which the CLI prints as ``leadsync: ...`` with exit code 1.

Nothing is half-written when one strikes: every write of the state is one transaction
(``State.record_intents``, ``State.record_outcomes``, the schema upgrade), and SQLite rolls
back a transaction whose write failed. So the advice can say truthfully that the next run,
once the cause is fixed, resumes from the ledger: a response whose outcome was not recorded
is still ``pending`` (re-resolved before it is written) or not in the ledger at all (pulled
again, since its watermark did not move).
"""

from __future__ import annotations

import errno
import functools
import inspect
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from connector.errors import StateError

T = TypeVar("T")

_FULL = ("SQLITE_FULL",)
# A write the disk refused. SQLite reports ENOSPC (and a short write) as SQLITE_FULL, but
# any other refusal as an I/O error: a file past its size limit (EFBIG: RLIMIT_FSIZE, a
# file system's maximum), a full quota on some systems, a failing device.
_WRITE_REFUSED = ("SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE",
                  "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_DIR_FSYNC")
_READ_ONLY = ("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")
_CANT_OPEN = ("SQLITE_CANTOPEN",)
_NOT_A_DATABASE = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")

# Errors built without a code (by a test, or an older Python) are told apart by their text,
# which is SQLite's own fixed wording for each code.
_TEXTS = (
    (_FULL, ("database or disk is full",)),
    (_READ_ONLY, ("readonly database", "access permission denied")),
    (_CANT_OPEN, ("unable to open database file",)),
    (_NOT_A_DATABASE, ("file is not a database", "database disk image is malformed")),
    (_BUSY, ("database is locked", "database table is locked")),
)
_ERRNOS = (
    (_FULL, {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}),
    (_READ_ONLY, {errno.EROFS, errno.EACCES, errno.EPERM}),
    (_CANT_OPEN, {errno.ENOENT, errno.ENOTDIR}),
)


def _kind(exc: BaseException) -> tuple[str, ...] | None:
    """Which of the families above ``exc`` belongs to, or None."""
    if isinstance(exc, sqlite3.Error):
        name = str(getattr(exc, "sqlite_errorname", "") or "")
        for family in (_FULL, _WRITE_REFUSED, _READ_ONLY, _CANT_OPEN, _NOT_A_DATABASE, _BUSY):
            if any(name.startswith(code) for code in family):
                return family
        text = str(exc).lower()
        for family, needles in _TEXTS:
            if any(needle in text for needle in needles):
                return family
        return None
    if isinstance(exc, OSError):
        for family, numbers in _ERRNOS:
            if exc.errno in numbers:
                return family
    return None


def explain(exc: BaseException, path: Path | str | None) -> str:
    """One line for the admin: which file, what went wrong, what to do about it."""
    where = str(path) if path is not None else "the in-memory state"
    name = Path(where).name
    kind = _kind(exc)
    if kind == _FULL:
        return (f"cannot write the state file {where}: the disk is full; free some space and run again: the interrupted write was "
                "rolled back, so the next run resumes with nothing lost or applied twice")
    if kind == _WRITE_REFUSED:
        return (f"cannot write the state file {where}: the disk refused the write (full, a file "
                "size limit, or a failing disk); free some space or check the disk and run "
                "again: the interrupted write was rolled back, so the next run resumes with "
                "nothing lost or applied twice")
    if kind == _READ_ONLY:
        return (f"cannot write the state file {where}: it or its folder is read-only for this "
                "user (permissions, or a read-only mount); make both writable by the user "
                f"leadsync runs as (SQLite also writes {name}-wal and {name}-shm beside it) "
                "and run again")
    if kind == _CANT_OPEN:
        return (f"cannot open the state file {where}: check that its folder exists and that "
                f"this user may read and write there (SQLite also writes {name}-wal and "
                f"{name}-shm beside it)")
    if kind == _NOT_A_DATABASE:
        return (f"{where} is not a leadsync state file (not an SQLite database, or damaged); "
                "check [state] path in the configuration; leadsync left the file untouched")
    if kind == _BUSY:
        return (f"the state file {where} stayed locked by another program for 30 seconds; "
                "close whatever else has it open (an sqlite3 shell, a backup tool) and run again")
    detail = (f"{exc.strerror} ({exc.filename})" if isinstance(exc, OSError) and exc.strerror
              and exc.filename else str(exc) or type(exc).__name__)
    return f"cannot use the state file {where}: {detail}; check the disk and the file, then run again"


def state_error(exc: BaseException, path: Path | str | None) -> StateError:
    return StateError(explain(exc, path), path=None if path is None else str(path))


@contextmanager
def translated(path: Path | str | None) -> Iterator[None]:
    """Let a ``sqlite3.Error`` or ``OSError`` out of the block only as a :class:`StateError`."""
    try:
        yield
    except StateError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise state_error(exc, path) from exc


def _guarded_method(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with translated(self.path):
            result = method(self, *args, **kwargs)
        if inspect.isgenerator(result):
            return _guarded_iteration(result, self.path)
        return result
    return wrapper


def _guarded_iteration(items: Iterator[T], path: Path | str | None) -> Iterator[T]:
    """A generator's reads happen as it is consumed (the stage's batches), after the call."""
    with translated(path):
        yield from items


def guarded(cls: type[T]) -> type[T]:
    """Put every public instance method of ``cls`` (which has a ``path``) under
    :func:`translated`: a failure of the disk anywhere in the state reaches the CLI as a
    StateError, whichever call met it. Class and static methods (the ways to open a state)
    translate on their own, as they have no instance yet."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, _guarded_method(member))
    return cls
