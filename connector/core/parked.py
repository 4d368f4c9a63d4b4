"""Parked responses as an admin works them: which to show, which the daemon retries, and when.

A parked (failed) response waits for a person, unless its reason passes by itself. Which
reasons pass is read from how leadsync already classifies Salesforce's replies
(``adapters/transport.classify``, ``adapters/salesforce/replies``): a record locked by
another save (``UNABLE_TO_LOCK_ROW``, retried within the run and parked only when it
outlasted that), an item missing from a reply (``UNKNOWN_EXCEPTION``, which
``collection_items`` gives a record with no result), a failed composite subrequest's HTTP
5xx or 429 (``failed_item`` names it ``HTTP_<status>``), and Salesforce's own
``SERVER_UNAVAILABLE``/``REQUEST_LIMIT_EXCEEDED``. Everything the admin must change first
(``core.refusals``: duplicate rules, validation rules, required fields, picklists; a bad
email; a converted Lead) is not transient: retrying it unchanged would fail again and spend
the org's API calls.

Pure: codes, counts and epoch seconds in, decisions out. The daemon's step is
``commands/parked.retry_transient``; the rows live in ``adapters/sqlite/parked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE",
                             "REQUEST_LIMIT_EXCEEDED", "HTTP_429"})

RETRY_BASE_SECONDS = 300        # the first automatic retry, 5 minutes after the parking
RETRY_CAP_SECONDS = 6 * 3600    # never wait longer than this between two tries
RETRY_MAX_TRIES = 8             # then the row waits for a person (status names it)


def is_transient(code: str | None) -> bool:
    """Whether a parked response's code passes by itself (see the module docstring)."""
    if not code:
        return False
    return code in TRANSIENT_CODES or (code.startswith("HTTP_5") and code[5:].isdigit())


def retry_delay(tries: int, *, base: int = RETRY_BASE_SECONDS, cap: int = RETRY_CAP_SECONDS) -> int:
    """Seconds before the next automatic try after ``tries`` tries: doubling, capped."""
    return int(min(cap, base * (2 ** min(max(tries, 0), 20))))


@dataclass(frozen=True)
class RetryPlan:
    """A transient parked row's automatic retries so far (``tries``) and the next one."""

    conversion_id: str
    tries: int
    next_try_at: float      # epoch seconds

    def due(self, now: float) -> bool:
        return self.tries < RETRY_MAX_TRIES and self.next_try_at <= now

    def after_try(self, now: float) -> "RetryPlan":
        """The plan once a try failed again."""
        tries = self.tries + 1
        return RetryPlan(self.conversion_id, tries, now + retry_delay(tries))


def first_plan(conversion_id: str, parked_at: float) -> RetryPlan:
    """A newly seen transient row: its first try waits the base delay after its parking."""
    return RetryPlan(conversion_id, 0, parked_at + retry_delay(0))


@dataclass(frozen=True)
class ParkedFilter:
    """``parked list`` / ``retry`` selections; every field given must hold."""

    code: str | None = None
    form: str | None = None
    email: str | None = None
    id: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.code or self.form or self.email or self.id)

    def matches(self, row: Mapping[str, Any]) -> bool:
        """``code`` and ``form`` compare exactly (form: the id, or its config entry's
        ``campaigns[i]``, resolved by the caller); ``email`` without case."""
        if self.id and row.get("conversion_id") != self.id:
            return False
        if self.code and (row.get("error_code") or "UNKNOWN") != self.code:
            return False
        if self.form and row.get("form_id") != self.form:
            return False
        if self.email and str(row.get("email") or "").casefold() != self.email.casefold():
            return False
        return True


@dataclass(frozen=True)
class ParkedRow:
    """One parked (or dismissed) response as ``parked list`` shows it."""

    conversion_id: str
    form_id: str
    submitted_at: int | None
    email: str
    error_code: str
    error: str
    attempts: int
    status: str                   # failed | dismissed
    transient: bool
    auto_tries: int = 0
    next_try_at: float | None = None
    note: str | None = None
    dismissed_by: str | None = None
    dismissed_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"conversion_id": self.conversion_id, "form_id": self.form_id,
                "submitted_at": self.submitted_at, "email": self.email,
                "error_code": self.error_code, "error": self.error, "attempts": self.attempts,
                "status": self.status, "transient": self.transient, "auto_tries": self.auto_tries,
                "next_try_at": self.next_try_at, "note": self.note,
                "dismissed_by": self.dismissed_by, "dismissed_at": self.dismissed_at}
