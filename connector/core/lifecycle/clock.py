"""The SLA clock: seconds that count between two moments, in business hours or not. (pure)

"Waiting until tomorrow is not fast enough" (seed 002), but a Lead handed off at 17:55 on a
Friday should not be breached at 18:00: with ``business_hours`` the clock runs only on the
given days between the given times in the routing time zone. The engine passes "now" in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from connector.core.lifecycle.rules import BusinessHours

_DAY_MS = 86_400_000
MAX_DAYS = 400      # a clock read further back than this counts the rest as past the SLA anyway


def elapsed_seconds(start_ms: int, end_ms: int, hours: BusinessHours | None) -> int:
    """Seconds from ``start_ms`` to ``end_ms`` that count toward the SLA (0 if end <= start)."""
    if end_ms <= start_ms:
        return 0
    if hours is None:
        return (end_ms - start_ms) // 1000
    zone = ZoneInfo(hours.timezone)
    start = datetime.fromtimestamp(start_ms / 1000, timezone.utc).astimezone(zone)
    end = datetime.fromtimestamp(end_ms / 1000, timezone.utc).astimezone(zone)
    total = 0.0
    day = start.date()
    for _ in range(MAX_DAYS):
        if day > end.date():
            break
        if day.weekday() in hours.days:
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            open_at = midnight + timedelta(minutes=hours.start_minute)
            close_at = midnight + timedelta(minutes=hours.end_minute)
            lo, hi = max(open_at, start), min(close_at, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return int(total)


def duration_text(seconds: int) -> str:
    """2h 14m, 45s, 3d 2h: how the dry run says a wait."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    if not parts or (secs and not days and not hours):
        parts.append(f"{secs}s")
    return " ".join(parts[:2])


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 22nd."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def date_start_ms(date_text: str, zone: str) -> int | None:
    """Midnight of a ``YYYY-MM-DD`` date in ``zone``, as epoch ms (a come-back date); None when
    the text is not a date."""
    try:
        day = datetime.strptime(date_text[:10], "%Y-%m-%d")
    except (TypeError, ValueError):
        return None
    local = day.replace(tzinfo=ZoneInfo(zone))
    return int(local.timestamp() * 1000)


def local_day(ms: int, zone: str) -> str:
    """The ``YYYY-MM-DD`` date of a moment in ``zone``."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).astimezone(ZoneInfo(zone)).date().isoformat()


__all__ = ["elapsed_seconds", "duration_text", "ordinal", "date_start_ms", "local_day", "_DAY_MS"]
