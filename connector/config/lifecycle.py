"""``[lifecycle]`` -> :class:`LifecycleRules`, or a ConfigError naming the key.

The keys are the issue's (kept exactly): ``sla``, ``business_hours``, ``touched_when``,
``on_breach``, ``pool``, ``max_reassignments``, ``escalate_to``, ``recycled_status``,
``recycle_reason_field``, ``recycle_date_field``, ``recycle_delay``, ``recycle_owner``,
``nurture_status``; plus ``watch_for`` (how long a touched hand-off is still read for a
rep's recycling). Durations use the config file's grammar (``parse_duration``); owners are
written as in ``[routing]`` ("user:<Username>", "queue:<DeveloperName>" or an Id).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from connector.config import validate as v
from connector.config.routing import _owner as parse_owner   # [routing]'s owner grammar
from connector.core.enrich.routing import Routing
from connector.core.ids import is_api_name
from connector.core.lifecycle.rules import BusinessHours, LifecycleRules, OnBreach, Touch
from connector.errors import ConfigError

KEYS = {"sla", "business_hours", "touched_when", "on_breach", "pool", "max_reassignments",
        "escalate_to", "recycled_status", "recycle_reason_field", "recycle_date_field",
        "recycle_delay", "recycle_owner", "nurture_status", "watch_for"}
HOURS_KEYS = {"days", "start", "end"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def parse_lifecycle(table: Mapping[str, Any] | None, routing: Routing) -> LifecycleRules | None:
    """None without a ``[lifecycle]`` table (the pass is off). The sales-ready status is
    ``[routing.stages] sales_ready``: a hand-off is what routing made, so stages are needed."""
    if table is None:
        return None
    v.check_keys(table, KEYS, "lifecycle")
    if routing.stages is None:
        raise ConfigError("needs [routing.stages]: the sales-ready status is what a hand-off "
                          "sets and what a rep moves off", key="lifecycle")
    if "sla" not in table:
        raise ConfigError('is required (e.g. "5m" or "2h": how long sales has to act)',
                          key="lifecycle.sla")
    sla = _positive(table["sla"], "lifecycle.sla")
    on_breach = OnBreach(v.choice(table.get("on_breach", "both"), "lifecycle.on_breach",
                                  tuple(o.value for o in OnBreach)))
    pool = _pool(table.get("pool"))
    escalate_to = _owner_or_none(table.get("escalate_to"), "lifecycle.escalate_to")
    if escalate_to is not None and escalate_to.is_queue:
        raise ConfigError("must be a user: Salesforce queues cannot own Tasks",
                          key="lifecycle.escalate_to")
    if on_breach in (OnBreach.REASSIGN, OnBreach.BOTH) and not pool:
        raise ConfigError(f'on_breach = "{on_breach.value}" needs a pool to reassign to',
                          key="lifecycle.pool")
    if on_breach in (OnBreach.ESCALATE, OnBreach.BOTH) and escalate_to is None:
        raise ConfigError(f'on_breach = "{on_breach.value}" needs escalate_to (a user)',
                          key="lifecycle.escalate_to")
    recycled = _status_or_none(table.get("recycled_status"), "lifecycle.recycled_status")
    recycle_owner = _owner_or_none(table.get("recycle_owner"), "lifecycle.recycle_owner")
    if recycled is not None and recycle_owner is None:
        raise ConfigError("is required with recycled_status: who holds a recycled Lead "
                          "(a nurture queue or user)", key="lifecycle.recycle_owner")
    nurture = _status_or_none(table.get("nurture_status"), "lifecycle.nurture_status") \
        or routing.stages.nurture
    if recycled is not None and nurture is None:
        raise ConfigError("is required with recycled_status (or set [routing.stages] nurture)",
                          key="lifecycle.nurture_status")
    return LifecycleRules(
        sla_seconds=sla, sales_ready_status=routing.stages.sales_ready,
        touched_when=_touches(table.get("touched_when")), on_breach=on_breach, pool=pool,
        max_reassignments=v.integer(table.get("max_reassignments", 2),
                                    "lifecycle.max_reassignments", 0, 100),
        escalate_to=escalate_to,
        business_hours=_hours(table.get("business_hours"), routing.timezone),
        recycled_status=recycled,
        recycle_reason_field=_field(table.get("recycle_reason_field"),
                                    "lifecycle.recycle_reason_field"),
        recycle_date_field=_field(table.get("recycle_date_field"), "lifecycle.recycle_date_field"),
        recycle_delay_seconds=_positive(table.get("recycle_delay", "90d"), "lifecycle.recycle_delay"),
        recycle_owner=recycle_owner, nurture_status=nurture,
        watch_seconds=_positive(table.get("watch_for", "30d"), "lifecycle.watch_for"),
        timezone=routing.timezone)


def _positive(value: Any, key: str) -> int:
    seconds = v.duration(value, key)
    if seconds <= 0:
        raise ConfigError("must be more than zero", key=key)
    return seconds


def _touches(value: Any) -> frozenset[Touch]:
    if value is None:
        return frozenset(Touch)
    names = v.texts(value, "lifecycle.touched_when")
    if not names:
        raise ConfigError('name at least one of "status", "task", "activity"',
                          key="lifecycle.touched_when")
    out = set()
    for name in names:
        try:
            out.add(Touch(name.strip().lower()))
        except ValueError:
            raise ConfigError(f'unknown {name!r}; use "status", "task" or "activity"',
                              key="lifecycle.touched_when") from None
    return frozenset(out)


def _pool(value: Any) -> tuple[Any, ...]:
    """A list of users (round-robin), or one queue (reassigned into the queue)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ConfigError('must be a list of "user:<Username>" or one "queue:<DeveloperName>"',
                          key="lifecycle.pool")
    refs = tuple(parse_owner(item, f"lifecycle.pool[{i}]") for i, item in enumerate(items))
    if any(r.is_queue for r in refs) and len(refs) > 1:
        raise ConfigError("a queue is a pool by itself: give one queue, or users only",
                          key="lifecycle.pool")
    if len({r.key.casefold() for r in refs}) != len(refs):
        raise ConfigError("names an owner twice", key="lifecycle.pool")
    return refs


def _owner_or_none(value: Any, key: str) -> Any:
    return None if value is None else parse_owner(value, key)


def _status_or_none(value: Any, key: str) -> str | None:
    text = v.optional_text(value, key)
    if text is not None and len(text) > 40:
        raise ConfigError("is longer than a picklist value (40)", key=key)
    return text


def _field(value: Any, key: str) -> str | None:
    text = v.optional_text(value, key)
    if text is not None and not is_api_name(text):
        raise ConfigError(f"not a field API name: {text!r}", key=key)
    return text


def _hours(value: Any, zone: str) -> BusinessHours | None:
    """``business_hours = { days = ["mon", ..., "fri"], start = "09:00", end = "17:30" }`` in
    the routing time zone (``[routing] timezone``)."""
    if value is None:
        return None
    table = v.table(value, "lifecycle.business_hours")
    v.check_keys(table, HOURS_KEYS, "lifecycle.business_hours")
    days = v.texts(table.get("days", list(DAYS[:5])), "lifecycle.business_hours.days")
    picked = set()
    for day in days:
        key = day.strip().lower()[:3]
        if key not in DAYS:
            raise ConfigError(f"unknown day {day!r}; use mon..sun",
                              key="lifecycle.business_hours.days")
        picked.add(DAYS.index(key))
    start = _minute(table.get("start", "09:00"), "lifecycle.business_hours.start")
    end = _minute(table.get("end", "17:00"), "lifecycle.business_hours.end")
    if end <= start or not picked:
        raise ConfigError("must end after it starts, on at least one day",
                          key="lifecycle.business_hours")
    return BusinessHours(frozenset(picked), start, end, zone)


def _minute(value: Any, key: str) -> int:
    match = _TIME.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) * 60 + int(match[2]) > 1440:
        raise ConfigError('must be a time such as "09:00"', key=key)
    return int(match[1]) * 60 + int(match[2])
