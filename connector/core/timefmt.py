"""Epoch milliseconds as people and Salesforce read them: one spelling per use.

The ledger and HubSpot count time in epoch milliseconds; reports print ISO text, Salesforce
takes ``...Z`` datetimes and plain dates, and a rep reads local time. Each rendering is
defined once here so a report, a Task and a reconcile diff never disagree about a moment.
No clock is read: every function turns the moment it is given into text.

Durations live here too: ``[sync] lookback``, ``[sync] start``, ``[alerts]``, the routing
SLAs, ``--interval`` and ``--since 7d`` all read one grammar, so a spelling that works in one
place works in every other and an admin never learns which key takes ``1h30m``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def utc(ms: int) -> datetime:
    """Epoch milliseconds -> an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def to_ms(moment: datetime) -> int:
    """An aware datetime -> epoch milliseconds (the ledger's and HubSpot's unit)."""
    return int(moment.timestamp() * 1000)


def parse_ms(text: str | None) -> int | None:
    """ISO 8601 text (Salesforce's ``2024-03-01T10:00:00.000+0000``, the ledger's
    ``...+00:00``) -> epoch milliseconds; None for no text or text that is not a moment."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def iso_ms(ms: int | None) -> str | None:
    """Epoch milliseconds -> ISO 8601 in UTC to the second (``2024-03-01T10:00:00+00:00``),
    as the JSON reports print watermarks and submission times; None stays None."""
    if ms is None:
        return None
    return utc(ms).isoformat(timespec="seconds")


def iso_z(moment: datetime) -> str:
    """A moment as Salesforce's datetime text (``2024-03-01T10:00:00Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_date(moment: datetime, zone: str) -> str:
    """The calendar date of a moment in an IANA zone (a Task's ``ActivityDate``)."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")


def local_when(moment: datetime, zone: str) -> str:
    """A moment as a rep reads it: local date, time and zone abbreviation."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone)


_DURATION = re.compile(r"\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*")
_BARE = re.compile(r"\s*(\d+)\s*")
DURATION_HINT = "use e.g. 90s, 5m, 1h30m, 7d"


def parse_duration(text: str, *, bare_seconds: bool = False) -> int:
    """Duration text -> seconds: ``90s``, ``5m``, ``1h30m``, ``1h 30m``, ``7d``.

    Parts come largest first (d, h, m, s), each at most once, so ``30m1h`` is refused rather
    than guessed at. A bare number is seconds only when ``bare_seconds`` says so: a config
    key that has always taken ``"45"`` keeps taking it, while ``--since 45`` is refused
    because a reader could not tell whether it meant seconds or days. Raises ValueError (no
    key: the caller knows which setting it was reading and names it).
    """
    if not isinstance(text, str):
        raise ValueError(f"not a duration: {text!r} ({DURATION_HINT})")
    bare = _BARE.fullmatch(text)
    if bare and bare_seconds:
        return int(bare.group(1))
    match = _DURATION.fullmatch(text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} ({DURATION_HINT})")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
