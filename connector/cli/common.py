"""What every ``leadsync`` command shares: the ``--config`` option and the error-to-exit-code wrapper.

Kept apart from the command group so a command module (``connector/cli/<name>.py``) can
import these without importing every other command.
"""

from __future__ import annotations

import sqlite3
import sys
from functools import wraps
from typing import Any, Callable

import click

from connector.core.model import Method
from connector.errors import LeadsyncError

METHODS = [m.value for m in Method]


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a failure the admin can act on into one ``leadsync: ...`` line on stderr and its
    exit code: a LeadsyncError (its own code), or the environment refusing something (a
    ``sqlite3.Error`` or ``OSError`` no layer translated: a full disk, a missing folder, a
    permission) with exit 1, as "any other abort". Anything else is a bug in leadsync and
    keeps its traceback, which is what a bug report needs."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LeadsyncError as exc:
            click.echo(f"leadsync: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (sqlite3.Error, OSError) as exc:
            click.echo(f"leadsync: {_environment_message(exc)}", err=True)
            sys.exit(1)

    return wrapper


def _environment_message(exc: sqlite3.Error | OSError) -> str:
    """One line from an environment error: the OS's words and the file they concern."""
    if isinstance(exc, sqlite3.Error):
        return f"SQLite error: {exc}"
    if exc.strerror:
        files = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        return f"{exc.strerror}: {files}" if files else exc.strerror
    return str(exc) or type(exc).__name__


config_option = click.option(
    "--config", "config", envvar="LEADSYNC_CONFIG", type=click.Path(dir_okay=False),
    help="TOML configuration file (or LEADSYNC_CONFIG).")
