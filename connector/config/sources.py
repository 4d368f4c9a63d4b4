"""What a ``[[campaigns]]`` entry reads from: a form, a marketing event, or meetings booked.

Each entry names one *stream* of responses; the ledger, watermarks and staging key on the
stream and the response's id, so every source is handled alike. A form's stream is its
guid, bare, exactly as earlier releases keyed it (their ledgers and watermarks stay valid);
a marketing event's is ``event:<objectId>`` and the meetings feed's is ``meetings``, which
no form guid can be. Keys (kept exactly as documented in the README):

- ``form_id = "<guid>"`` with ``member_status``;
- ``event_id = "<marketing event objectId>"`` with ``statuses = { registered = ..., attended
  = ..., no_show = ..., cancelled = ... }`` (the member status of each participation state);
- ``meetings = true`` with ``member_status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from connector.config import validate as v
from connector.errors import ConfigError

EVENT_PREFIX = "event:"
MEETINGS_STREAM = "meetings"
FORM, EVENT, MEETINGS = "form", "event", "meetings"

# A participation's state (HubSpot's attendanceState, lower-cased) -> the statuses key.
STATE_KEYS = ("registered", "attended", "no_show", "cancelled")
DEFAULT_STATUSES = {"registered": "Registered", "attended": "Attended", "no_show": "No Show",
                    "cancelled": "Cancelled"}


@dataclass(frozen=True)
class EventStatuses:
    """The member status each participation state gives (``statuses = {...}``)."""

    registered: str = "Registered"
    attended: str = "Attended"
    no_show: str = "No Show"
    cancelled: str = "Cancelled"

    def of(self, state: str) -> str | None:
        return {"registered": self.registered, "attended": self.attended,
                "no_show": self.no_show, "cancelled": self.cancelled}.get(state)

    def labels(self) -> tuple[str, ...]:
        return (self.registered, self.attended, self.no_show, self.cancelled)


@dataclass(frozen=True)
class EntrySource:
    """One entry's source: its kind, its stream, and the event's statuses when it is one."""

    kind: str
    stream: str
    event_id: str | None = None
    statuses: EventStatuses | None = None


def event_stream(object_id: str) -> str:
    return f"{EVENT_PREFIX}{object_id}"


def stream_kind(stream: str) -> str:
    """Which source reads ``stream``: an old ledger's bare form id is a form's stream."""
    if stream.startswith(EVENT_PREFIX):
        return EVENT
    return MEETINGS if stream == MEETINGS_STREAM else FORM


def entry_source(entry: Mapping[str, Any], where: str) -> EntrySource:
    """The entry's source from exactly one of ``form_id``, ``event_id``, ``meetings = true``."""
    given = [k for k in ("form_id", "event_id", "meetings") if k in entry]
    if len(given) != 1:
        raise ConfigError("needs exactly one of form_id, event_id or meetings = true"
                          + (f" (it has {', '.join(given)})" if given else ""),
                          key=f"{where}.{given[1] if len(given) > 1 else 'form_id'}")
    if "statuses" in entry and given[0] != "event_id":
        raise ConfigError("statuses belongs to an event_id entry; a form or meetings entry "
                          "takes member_status", key=f"{where}.statuses")
    if given[0] == "form_id":
        form_id = v.text(entry["form_id"], f"{where}.form_id")
        if stream_kind(form_id) != FORM:
            raise ConfigError("is not a HubSpot form guid", key=f"{where}.form_id")
        return EntrySource(FORM, form_id)
    if given[0] == "meetings":
        if not v.boolean(entry["meetings"], f"{where}.meetings"):
            raise ConfigError("must be true (remove the entry to stop syncing meetings)",
                              key=f"{where}.meetings")
        return EntrySource(MEETINGS, MEETINGS_STREAM)
    if "member_status" in entry:
        raise ConfigError("an event_id entry takes statuses = { registered = ..., attended = "
                          "..., no_show = ..., cancelled = ... }, not member_status",
                          key=f"{where}.member_status")
    event_id = v.text(entry["event_id"], f"{where}.event_id")
    return EntrySource(EVENT, event_stream(event_id), event_id,
                       _statuses(entry.get("statuses"), f"{where}.statuses"))


def _statuses(raw: Any, key: str) -> EventStatuses:
    table = v.check_keys(raw if raw is not None else {}, STATE_KEYS, key)
    labels = {}
    for name in STATE_KEYS:
        label = v.text(table.get(name, DEFAULT_STATUSES[name]), f"{key}.{name}")
        if len(label) > 40:
            raise ConfigError("must be 1 to 40 characters (a CampaignMember Status)",
                              key=f"{key}.{name}")
        labels[name] = label
    return EventStatuses(**labels)
