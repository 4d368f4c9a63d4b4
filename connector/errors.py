"""One exception tree for everything leadsync raises on purpose.

The CLI maps these to exit codes in one place (``cli.py``); nothing else decides how a
failure ends a process. Every error carries enough context for an admin to act on it, and
never a secret: messages are built from keys, ids and status codes, not from request
headers or bodies that could hold a token.
"""

from __future__ import annotations


class LeadsyncError(Exception):
    """Root of every error leadsync raises deliberately."""

    exit_code = 1

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        if not self.context:
            return self.message
        extras = ", ".join(f"{k}={v}" for k, v in self.context.items())
        return f"{self.message} ({extras})"


class ConfigError(LeadsyncError):
    """The configuration or the command line is wrong; nothing was touched."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class StateError(LeadsyncError):
    """The local SQLite state cannot be used (locked, corrupt, wrong schema)."""


class StateLocked(StateError):
    """Another leadsync process holds the state file."""


class ApiError(LeadsyncError):
    """A vendor API answered in a way the run cannot continue past."""

    def __init__(self, message: str, *, service: str, status: int | None = None,
                 code: str | None = None, **context: object) -> None:
        super().__init__(message, service=service, status=status, code=code, **context)
        self.service = service
        self.status = status
        self.code = code


class AuthError(ApiError):
    """Credentials were refused; re-running will not help until they are fixed."""


class BudgetExhausted(ApiError):
    """The Salesforce API allowance is spent (or past the configured share).

    The run stops with state intact; exit code 4 lets a scheduler tell this from a crash.
    """

    exit_code = 4


class RecordError(LeadsyncError):
    """One response could not be applied; it is parked, the batch goes on."""

    def __init__(self, message: str, *, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.code = code
