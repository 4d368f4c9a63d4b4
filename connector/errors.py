"""One exception tree for everything leadsync raises on purpose.

The CLI maps these to exit codes in one place (``cli.py``); nothing else decides how a
failure ends a process. Every error carries enough context for an admin to act on it, and
never a secret: messages are built from keys, ids and status codes, not from request
headers or bodies that could hold a token.

The tree is grouped by what the caller does about a failure:

- configuration (:class:`ConfigError`): fix the config or the command line;
- state (:class:`StateError`, :class:`StateLocked`): the SQLite state cannot be used now;
- API (:class:`ApiError`): re-authenticate (:class:`AuthError`), wait for the allowance
  (:class:`BudgetExhausted`), re-resolve before writing again (:class:`AmbiguousWrite`), or
  simply repeat the call (:class:`TransientError`). That one stays outside ``ApiError``: it
  is the retry loop's signal, and callers' ``except ApiError`` clauses (a stale Task key,
  a failed Bulk job) must not take a call the loop gave up on for a refusal;
- record (:class:`RecordError`): park one response, the batch goes on.
"""

from __future__ import annotations

from connector.core.redact import redact


class LeadsyncError(Exception):
    """Root of every error leadsync raises deliberately.

    Its message is made safe to keep (``connector.core.redact``): no email address, no SOQL
    values, at most 500 characters, since errors end up in the run history, the daemon's
    log and the status page. A configuration error is the admin's own text and stays whole.
    """

    exit_code = 1
    redacted = True

    def __init__(self, message: str, **context: object) -> None:
        if self.redacted:
            message = redact(message)
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
    redacted = False

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key


class StateError(LeadsyncError):
    """The local SQLite state cannot be used (locked, corrupt, wrong schema, disk full,
    read-only).

    ``path`` is kept as an attribute, not as context: the message already names the file
    (an admin reads it once, not twice in parentheses).
    """

    def __init__(self, message: str, *, path: str | None = None, **context: object) -> None:
        super().__init__(message, **context)
        self.path = path


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


class AmbiguousWrite(ApiError):
    """The connection dropped after a non-idempotent write was sent: it may have applied.

    Not retried blindly (that is how duplicates are born); the ledger's pending intent is
    resolved by the next run, which looks in Salesforce before it writes again.
    """


class TransientError(LeadsyncError):
    """A reply worth repeating the same call for; carries the server's Retry-After, if any.

    ``with_retries`` (``adapters/transport.py``) repeats a call while it raises this; one
    that still escapes means the policy's patience ran out.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **context: object) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class RecordError(LeadsyncError):
    """One response could not be applied; it is parked, the batch goes on."""

    def __init__(self, message: str, *, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.code = code
