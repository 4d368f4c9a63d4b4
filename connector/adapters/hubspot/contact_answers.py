"""The contact properties a participation or a meeting brings to the mapping.

An event's participations and a meeting's associations name the contact, not what they
answered; HubSpot keeps the answers of the registration (or booking) form on the contact.
So the mapping's fields are read from the contacts, 100 at a time through CRM v3 batch read
(``POST /crm/v3/objects/contacts/batch/read``), and feed the mapping as a form's values do.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

BATCH_READ_MAX = 100


class Caller(Protocol):
    def request(self, method: str, path: str, qs: dict[str, Any] | None = None,
                payload: Any = None) -> dict[str, Any]: ...


def contact_values(client: Caller, contact_ids: Iterable[str], fields: Sequence[str]
                   ) -> dict[str, dict[str, str]]:
    """Contact id -> {property: value} for the mapping's ``fields`` (email always)."""
    ids = sorted({str(i) for i in contact_ids if i})
    properties = sorted({"email", *fields})
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), BATCH_READ_MAX):
        chunk = ids[start:start + BATCH_READ_MAX]
        body = {"inputs": [{"id": i} for i in chunk], "properties": properties,
                "propertiesWithHistory": []}
        reply = client.request("POST", "/crm/v3/objects/contacts/batch/read", payload=body)
        for item in reply.get("results") or []:
            props = item.get("properties") or {}
            out[str(item.get("id"))] = {str(k): str(v) for k, v in props.items()
                                        if v is not None and v != ""}
    return out
