"""The reads ``mappings check`` tries to learn which scopes the HubSpot app holds.

One cheap read per probe (``connector.core.scopes.Probe``), each a call the sync itself makes
with the same scope (docs/sandbox-wire-facts.md): refused with HubSpot's 403
``MISSING_SCOPES``, the app lacks it; answered, or refused for another reason (a form or an
event id HubSpot does not have: a 404, which other checks report), it holds it. Nothing is
written. No token-introspection endpoint is used: HubSpot documents one for OAuth tokens
only, and a private app's token or a service key would not be answered there.
"""

from __future__ import annotations

from typing import Iterable

from connector.adapters.hubspot.forms import HubSpotClient
from connector.core.scopes import Probe
from connector.errors import ApiError


def refused_probes(client: HubSpotClient, probes: Iterable[Probe], *, form_id: str | None,
                   event_id: str | None) -> set[Probe]:
    """The probes HubSpot refused for want of a scope (each tried once, in order)."""
    lacking: set[Probe] = set()
    for probe in dict.fromkeys(probes):
        try:
            _read(client, probe, form_id=form_id, event_id=event_id)
        except ApiError as exc:
            if exc.code == "MISSING_SCOPES":
                lacking.add(probe)
            elif exc.status not in (400, 404):
                raise               # a refused token or an outage: not a scope's matter
    return lacking


def _read(client: HubSpotClient, probe: Probe, *, form_id: str | None, event_id: str | None
          ) -> None:
    if probe is Probe.FORM_FEED and form_id:
        client.get(f"/form-integrations/v1/submissions/forms/{form_id}", {"limit": 1})
    elif probe is Probe.CONTACTS:
        client.post("/crm/v3/objects/contacts/search",
                    {"filterGroups": [], "properties": ["email"], "limit": 1})
    elif probe is Probe.EVENT and event_id:
        client.get(f"/marketing/v3/marketing-events/{event_id}")
