"""What a run goes on without, rather than halting: a missing form or event, an owner who left.

- A form HubSpot has no such form for (404), or a marketing event it has no such event for,
  is paused alone, named by its ``[[campaigns]]`` entry, while the other streams go on
  (``engine/run`` pauses forms whose campaign cannot take members the same way, before the
  pull). Nothing of it is recorded and its watermark stays, so once the entry is fixed (or
  the form is back) a run picks it up.
- A routing rule's owner who is not an active User (or not a Queue) falls back to the
  default owner for the run, with a warning (``core.enrich.owners.with_owner_ids_or_default``).
  Without a usable default owner, the Leads such an owner (or the default) would get are
  parked (``OWNER_UNAVAILABLE``, ``engine.apply``) and everything else goes on; a
  ``[routing.tasks]`` owner who left is dropped for the run (its Tasks go to the integration
  user). ``mappings check`` names them all beforehand (:func:`owner_problems`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    from connector.core.mapping_rules import Problem
    from connector.core.enrich.routing import Routing
    from connector.ports import Crm

from connector.config.settings import Settings
from connector.config.sources import EVENT_PREFIX, MEETINGS_STREAM
from connector.core.enrich.owners import (OwnerFallback, id_user_owners, owner_names,
                                          split_owner_names, with_owner_ids_or_default)
from connector.errors import ConfigError
from connector.core.counts import Count
from connector.engine.report import RunReport


def pause_missing(settings: Settings, source: Any, paused: dict[str, str], report: RunReport) -> None:
    """Pause the forms the source found missing (``HubSpotClient.missing_forms``), and the
    streams it may not read (``HubSpotSources.unreadable_streams``), in ``paused`` (the
    engine's form id -> why) and in the report."""
    entries = missing_form_pauses(settings, getattr(source, "missing_forms", ()) or ())
    entries += unreadable_pauses(settings, getattr(source, "unreadable_streams", {}) or {})
    for entry in entries:
        paused[entry["form_id"]] = entry["message"]
        report.paused.append(entry)
        report.counts[Count.PAUSED_FORMS] += 1


def unreadable_pauses(settings: Settings, why_by_stream: Mapping[str, str]
                      ) -> list[dict[str, Any]]:
    """One paused entry per stream the HubSpot token's app may not read (403
    MISSING_SCOPES): named by its entry, with the scope to add."""
    out = []
    for stream, why in sorted(why_by_stream.items()):
        entry, campaign = _entry(settings, stream)
        what = _label(stream)
        out.append({"entry": entry, "form_id": stream,
                    "campaign_id": campaign.campaign_id if campaign else None,
                    "message": f"{entry} ({what}): {why}; add the scope to the HubSpot app "
                               "(the other streams go on)"})
    return out


def _label(stream: str) -> str:
    """A stream as a pause names it: "event 580000001", "meetings booked", "form <id>"."""
    if stream.startswith(EVENT_PREFIX):
        return f"event {stream[len(EVENT_PREFIX):]}"
    return "meetings booked" if stream == MEETINGS_STREAM else f"form {stream}"


def _entry(settings: Settings, stream: str) -> tuple[str, Any]:
    """The ``campaigns[i]`` entry naming ``stream``, and its campaign map."""
    index = next((i for i, c in enumerate(settings.campaigns) if c.form_id == stream), None)
    return (f"campaigns[{index}]" if index is not None else "campaigns",
            settings.campaign_for(stream))


def missing_form_pauses(settings: Settings, form_ids: Iterable[str]) -> list[dict[str, Any]]:
    """One paused entry (as ``RunReport.paused`` holds them) per form HubSpot answered 404."""
    out = []
    for form_id in sorted(form_ids):
        entry, campaign = _entry(settings, form_id)
        if form_id.startswith(EVENT_PREFIX):      # a marketing event's stream
            message = (f"{entry} ({_label(form_id)}): HubSpot has no marketing event with this id "
                       "(404); check event_id in the configuration (the other streams go on)")
        else:
            message = (f"{entry} (form {form_id}): HubSpot has no form with this id (404); "
                       "check form_id in the configuration (the other forms go on)")
        out.append({"entry": entry, "form_id": form_id,
                    "campaign_id": campaign.campaign_id if campaign else None, "message": message})
    return out


def resolve_owners(routing: "Routing", crm: "Crm") -> tuple["Routing", list[dict[str, str]]]:
    """Routing with its owners' Ids (one composite call, only when it names owners), and a
    warning per owner the org lacks: a rule's owner falls back to the default owner; with
    no usable default, the Leads they would own are parked. Users given by Id are checked
    to be active in the same call."""
    resolved, fallbacks = _resolve(routing, crm)
    return resolved, [f.to_json() for f in fallbacks]


def owner_problems(routing: "Routing", crm: "Crm") -> list["Problem"]:
    """``mappings check``'s lines for ``[routing]``'s owners, as the next run will find them:
    an owner who falls back to the default owner is a warning; one whose Leads will be
    parked (no usable default) is an error, since those responses will wait; a missing
    ``routing.tasks.owner`` is a warning (its Tasks go to the integration user), one that is
    a queue an error (the run refuses it)."""
    from connector.core.mapping_rules import Problem   # mappings check only: not a sync's import

    try:
        _, fallbacks = _resolve(routing, crm)
    except ConfigError as exc:
        return [Problem(0, exc.key or "routing", str(exc).removeprefix(f"{exc.key}: "))]
    return [Problem(0, f.key, f"{f.owner}: {str(f).split('): ', 1)[1]}",
                    "warning" if f.default else "error") for f in fallbacks]


def _resolve(routing: "Routing", crm: "Crm") -> tuple["Routing", list[OwnerFallback]]:
    names, user_ids = owner_names(routing), id_user_owners(routing)
    if not names and not user_ids:
        return routing, []
    users, queues = split_owner_names(names)
    found = crm.find_owners(users, queues, user_ids) if user_ids else crm.find_owners(users, queues)
    return with_owner_ids_or_default(routing, found, checked_ids=user_ids)
