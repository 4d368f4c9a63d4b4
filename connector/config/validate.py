"""The one set of validators every configuration section is read with.

TOML gives back whatever the admin typed: ``campaigns = [1]``, ``path = 123`` or
``auto_assign = "yes"`` parse fine and then crash the run with a traceback (exit 1) far
from the line at fault. Every section (``settings``, ``[routing]``, ``[accounts]``) reads
its values through these functions instead, so a wrong type is a :class:`ConfigError`
naming the key and what was expected, and the CLI ends with exit 2 before any call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Collection, Mapping

from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.core.watermarks import StartPoint



def _shown(value: Any) -> str:
    """The value as the admin wrote it, short: an error message is no place for a long text."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def table(value: Any, key: str) -> Mapping[str, Any]:
    """A TOML table (``[section]`` or an inline ``{ ... }``)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"must be a table, not {_shown(value)}", key=key)
    return value


def check_keys(value: Any, allowed: Collection[str], where: str) -> Mapping[str, Any]:
    """A table holding only ``allowed`` keys; an unknown key (a typo) is named, not ignored."""
    found = table(value, where)
    for key in found:
        if key not in allowed:
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"unknown key; expected one of {', '.join(sorted(allowed))}",
                              key=name)
    return found


def table_list(value: Any, key: str, example: str) -> list[Mapping[str, Any]]:
    """An array of tables (``[[campaigns]]``); None is an empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"must be an array of tables ({example}), not {_shown(value)}", key=key)
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise ConfigError(f"must be a table ({example}), not {_shown(item)}", key=f"{key}[{i}]")
    return value


def text(value: Any, key: str) -> str:
    """A required, non-blank string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"must be a non-empty string, not {_shown(value)}", key=key)
    return value.strip()


def optional_text(value: Any, key: str) -> str | None:
    """A non-blank string, or None when the key is absent."""
    return None if value is None else text(value, key)


def texts(value: Any, key: str) -> tuple[str, ...]:
    """A string or a list of strings ("any of"); an empty list is an error, not "anything"."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError("must be a string or a non-empty list of strings", key=key)
    return tuple(text(item, f"{key}[{n}]") for n, item in enumerate(items))


def boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, not {_shown(value)}", key=key)
    return value


def integer(value: Any, key: str, low: int, high: int) -> int:
    """A whole number in [low, high] (a bool is not a number, though Python says it is)."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"must be a whole number from {low} to {high}", key=key)
    return value


def number_or_none(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError("must be a number", key=key)
    return float(value)


def choice(value: Any, key: str, options: Collection[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ConfigError(f"must be one of {', '.join(options)} (got {_shown(value)})", key=key)
    return value


def duration(value: Any, key: str) -> int:
    """'30s', '5m', '1h30m', '7d' or a number of seconds -> seconds (zero or more).

    The grammar is ``timefmt.parse_duration``'s, shared with every other duration; a TOML
    number or a bare "45" stays seconds here because config files have always said that.
    """
    from connector.core.timefmt import DURATION_HINT, parse_duration

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ConfigError("must not be negative", key=key)
        return int(value)
    try:
        return parse_duration(value, bare_seconds=True)
    except ValueError:
        raise ConfigError(f"not a duration: {_shown(value)} ({DURATION_HINT})", key=key) from None


def path_text(value: Any, key: str) -> str:
    """A file path as written (relative paths are resolved by the caller, against the
    config file's folder); a number or a table here is a mistake, not a file name."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ConfigError(f"must be a file path (a string), not {_shown(value)}", key=key)
    return value.strip()


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def start_point(value: Any, key: str) -> "StartPoint":
    """``[sync] start``: an ISO date or datetime (UTC unless it says; a TOML date literal
    too) or a relative age such as "30d" (a number of seconds, or s/m/h/d)."""
    from datetime import date, datetime, time, timezone

    from connector.core.timefmt import to_ms
    from connector.core.watermarks import StartPoint

    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        text = value.strip()
        try:
            moment = (datetime.combine(date.fromisoformat(text), time.min)
                      if _ISO_DATE.fullmatch(text)
                      else datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ConfigError(f"not an ISO date or datetime: {_shown(value)} (e.g. 2026-01-31 "
                              'or an age such as "30d")', key=key) from None
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return StartPoint(at_ms=to_ms(moment))
    try:
        return StartPoint(age_seconds=duration(value, key))
    except ConfigError:
        raise ConfigError(f"must be an ISO date (2026-01-31) or an age such as \"30d\", not "
                          f"{_shown(value)}", key=key) from None
