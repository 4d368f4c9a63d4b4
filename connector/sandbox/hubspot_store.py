"""The HubSpot portal's state: forms, their submissions, and the contacts they imply.

Kept apart from the HTTP layer so its invariants are easy to see and to test:

* Each form's submissions stay sorted by ``(submittedAt, seq)``, where ``seq`` is a store-wide
  insertion counter. "Newest first" is that order reversed, ties going to the later insert,
  so paging is stable and a page cursor is just the key of the last item returned: resolving
  it is one bisect, whatever the form's size, and a submission that arrives late with an old
  ``submittedAt`` is still found by the pages that follow.
* Contacts are not stored separately: they are an index derived from submissions (one per
  lower-cased email), updated incrementally, because that is how a portal fed only by forms
  behaves, and it keeps the dataset free of two sources of truth.

Nothing here locks: the caller (``HubSpotApi``) holds the app's lock.
"""

from __future__ import annotations

import bisect
import copy
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Mapping

from .hubspot_conversions import record_conversion

Key = tuple[int, int]  # (submittedAt ms, seq)

CONTACT_PROPERTIES = ("email", "firstname", "lastname", "company", "phone", "jobtitle", "country")
FIRST_CONTACT_ID = 1001


def iso_ms(ms: int) -> str:
    """HubSpot's timestamp format: UTC, millisecond precision, ``Z`` suffix."""
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_ms(value: Any) -> int:
    """Epoch milliseconds from an int, a digit string or an ISO-8601 string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


# -- forms -----------------------------------------------------------------------------------

def default_form(name: str, form_id: str, now_ms: int, form_type: str = "hubspot") -> dict[str, Any]:
    """A v3 form definition as HubSpot returns it for a form created with only a name."""
    def text_field(name: str, label: str, field_type: str = "single_line_text",
                   required: bool = False) -> dict[str, Any]:
        return {"objectTypeId": "0-1", "name": name, "label": label, "required": required,
                "hidden": False, "fieldType": field_type}

    email = text_field("email", "Email", "email", True)
    email["validation"] = {"blockedEmailDomains": [], "useDefaultBlockList": False}
    return {
        "id": form_id,
        "formType": form_type,
        "name": name,
        "createdAt": iso_ms(now_ms),
        "updatedAt": iso_ms(now_ms),
        "archived": False,
        "fieldGroups": [
            {"groupType": "default_group", "richTextType": "text", "fields": [email]},
            {"groupType": "default_group", "richTextType": "text",
             "fields": [text_field("firstname", "First name"), text_field("lastname", "Last name")]},
            {"groupType": "default_group", "richTextType": "text",
             "fields": [text_field("company", "Company name")]},
        ],
        "configuration": {
            "language": "en", "cloneable": True, "editable": True, "archivable": True,
            "recaptchaEnabled": False, "notifyContactOwner": False, "notifyRecipients": [],
            "createNewContactForNewEmail": False, "prePopulateKnownValues": True,
            "allowLinkToResetKnownValues": False, "lifecycleStages": [],
            "postSubmitAction": {"type": "thank_you", "value": ""},
        },
        "displayOptions": {
            "renderRawHtml": False, "theme": "default_style", "submitButtonText": "Submit",
            "cssClass": "", "style": {
                "fontFamily": "arial, helvetica, sans-serif", "backgroundWidth": "100%",
                "labelTextColor": "#33475b", "labelTextSize": "14px", "helpTextColor": "#7C98B6",
                "helpTextSize": "11px", "legalConsentTextColor": "#33475b",
                "legalConsentTextSize": "14px", "submitColor": "#ff7a59",
                "submitAlignment": "left", "submitFontColor": "#ffffff", "submitSize": "12px"},
        },
        "legalConsentOptions": {"type": "none"},
    }


def merge_form(base: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay a create/load body on the defaults; nested option objects merge one level deep."""
    out = dict(base)
    for key, value in body.items():
        if key in ("configuration", "displayOptions") and isinstance(value, Mapping):
            out[key] = {**out.get(key, {}), **copy.deepcopy(dict(value))}
        else:
            out[key] = copy.deepcopy(value)
    return out


# -- submissions -----------------------------------------------------------------------------

class SubmissionLog:
    """One form's submissions, sorted ascending by ``(submittedAt, seq)``; pages read it backwards."""

    def __init__(self) -> None:
        self.keys: list[Key] = []
        self.items: dict[Key, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: Key, item: dict[str, Any]) -> None:
        # The usual case (newer than everything) is an append; an out-of-order arrival costs
        # one memmove of the pointer array, which stays cheap at 100k entries.
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)
        else:
            bisect.insort(self.keys, key)
        self.items[key] = item

    def page(self, limit: int, before: Key | None = None) -> tuple[list[dict[str, Any]], Key | None]:
        """Up to ``limit`` items older than ``before`` (all if None), newest first.

        Returns the items and the key to continue from, or None when nothing older remains.
        """
        end = len(self.keys) if before is None else bisect.bisect_left(self.keys, before)
        start = max(0, end - limit)
        keys = self.keys[start:end][::-1]
        return [self.items[k] for k in keys], (keys[-1] if keys and start > 0 else None)

    def newest_first(self) -> Iterator[dict[str, Any]]:
        return (self.items[k] for k in reversed(self.keys))


def normalize_values(values: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Submission values in the API's shape; a plain ``{name: value}`` dict is accepted too."""
    if isinstance(values, Mapping):
        return [{"name": str(k), "value": str(v), "objectTypeId": "0-1"} for k, v in values.items()]
    out = []
    for v in values:
        out.append({"name": str(v["name"]), "value": str(v.get("value", "")),
                    "objectTypeId": str(v.get("objectTypeId") or "0-1")})
    return out


# -- contacts --------------------------------------------------------------------------------

@dataclass
class Contact:
    """A contact as implied by form submissions: each property from the latest one carrying it."""

    id: str
    created_ms: int
    updated_ms: int
    props: dict[str, tuple[Key, str]] = field(default_factory=dict)
    # Values written through the CRM v3 API (hubspot_crm): they win over submitted ones.
    written: dict[str, str] = field(default_factory=dict)
    forms_submitted: set[str] = field(default_factory=set)   # for num_unique_conversion_events

    def properties(self) -> dict[str, str]:
        out = {name: value for name, (_, value) in self.props.items()}
        out.update(self.written)
        out["createdate"] = iso_ms(self.created_ms)
        out["lastmodifieddate"] = iso_ms(self.updated_ms)
        out["hs_object_id"] = self.id
        return out


# -- the store -------------------------------------------------------------------------------

class HubSpotStore:
    """Forms, submission logs and the contact index of one portal."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.clear()

    def clear(self) -> None:
        self.forms: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, SubmissionLog] = {}
        self.conversions: dict[str, str] = {}          # conversionId -> form guid
        self.contacts: dict[str, Contact] = {}         # lower-cased email -> contact
        self.contacts_by_id: dict[str, Contact] = {}
        self._seq = 0
        self._next_contact_id = FIRST_CONTACT_ID
        self._reserved_ids: dict[str, str] = {}        # contact ids a dataset pins to emails
        self.custom_properties: dict[str, dict[str, Any]] = {}   # contact property definitions (hubspot_crm)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # forms
    def add_form(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store a form from a (validated) v3 body; returns the stored definition."""
        form_id = str(body.get("id") or uuid.uuid4())
        if form_id in self.forms:
            raise ValueError(f"form {form_id} already exists")
        base = default_form(str(body["name"]), form_id, self.now_ms(),
                            str(body.get("formType") or "hubspot"))
        form = merge_form(base, body)
        form["id"] = form_id
        self.forms[form_id] = form
        self.logs[form_id] = SubmissionLog()
        return form

    # submissions
    def add_submission(self, form_id: str, values: list[dict[str, str]], submitted_at: int | None = None,
                       *, conversion_id: str | None = None, page_url: str | None = None) -> dict[str, Any]:
        """Store one submission (values already in API shape); KeyError if the form is unknown."""
        log = self.logs[form_id]
        conversion_id = conversion_id or str(uuid.uuid4())
        if conversion_id in self.conversions:
            raise ValueError(f"conversionId {conversion_id} already exists")
        item: dict[str, Any] = {"conversionId": conversion_id,
                                "submittedAt": self.now_ms() if submitted_at is None else int(submitted_at),
                                "values": values}
        if page_url is not None:
            item["pageUrl"] = page_url
        self._seq += 1
        key = (item["submittedAt"], self._seq)
        log.add(key, item)
        self.conversions[conversion_id] = form_id
        self._index_contact(key, values, form_id)
        return item

    def _index_contact(self, key: Key, values: list[dict[str, str]], form_id: str) -> None:
        email = next((v["value"] for v in values if v["name"].lower() == "email"), "").strip()
        if not email:
            return  # HubSpot creates no contact for a submission without an email
        contact = self.contacts.get(email.lower())
        if contact is None:
            contact = self._new_contact(email.lower(), key[0])
        contact.created_ms = min(contact.created_ms, key[0])
        contact.updated_ms = max(contact.updated_ms, key[0])
        for v in values:
            name = v["name"].lower()
            if name in CONTACT_PROPERTIES:
                # HubSpot keeps contact emails lower-cased, whatever the visitor typed.
                value = v["value"].strip().lower() if name == "email" else v["value"]
                held = contact.props.get(name)
                if held is None or key >= held[0]:
                    contact.props[name] = (key, value)
        record_conversion(contact, key, form_id, str(self.forms[form_id].get("name") or form_id),
                          iso=iso_ms(key[0]))

    def create_contact(self, email: str) -> Contact:
        """A contact made through the CRM API (no submission): its email is its one property."""
        ms = self.now_ms()
        self._seq += 1
        contact = self._new_contact(email.strip().lower(), ms)
        contact.props["email"] = ((ms, self._seq), email.strip().lower())
        return contact

    def _new_contact(self, email_lower: str, ms: int) -> Contact:
        contact_id = self._reserved_ids.pop(email_lower, None) or str(self._next_contact_id)
        self._next_contact_id = max(self._next_contact_id, int(contact_id) + 1)
        contact = Contact(contact_id, ms, ms)
        self.contacts[email_lower] = contact
        self.contacts_by_id[contact_id] = contact
        return contact

    # dataset
    def dump(self) -> dict[str, Any]:
        return {
            "forms": [copy.deepcopy(f) for f in self.forms.values()],
            "submissions": {fid: [copy.deepcopy(s) for s in log.newest_first()]
                            for fid, log in self.logs.items() if len(log)},
            "contact_ids": {email: c.id for email, c in self.contacts.items()},
            # CRM v3 writes (hubspot_crm): custom property definitions, and values set through
            # the API by contact email (a contact created by upsert appears here only).
            "contact_properties": [copy.deepcopy(p) for p in self.custom_properties.values()],
            "written": {email: dict(c.written) for email, c in self.contacts.items() if c.written},
        }

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the state with a dataset (the ``dump`` shape; submission lists newest first)."""
        self.clear()
        for form in data.get("forms") or []:
            if not isinstance(form, Mapping) or not form.get("name"):
                raise ValueError(f"dataset form needs a name: {form!r}")
            self.add_form(form)
        pending: list[tuple[int, int, str, Mapping[str, Any]]] = []
        for form_id, items in (data.get("submissions") or {}).items():
            if form_id not in self.forms:
                raise ValueError(f"dataset has submissions for unknown form {form_id}")
            # Listed newest first: the later an item is listed, the earlier it was inserted.
            for pos, raw in enumerate(reversed(list(items))):
                if not isinstance(raw, Mapping):
                    raise ValueError(f"dataset submission for form {form_id} is not an object: {raw!r}")
                ms = self.now_ms() if raw.get("submittedAt") is None else parse_ms(raw["submittedAt"])
                pending.append((ms, pos, form_id, raw))
        self._reserved_ids = {str(e).lower(): str(i) for e, i in (data.get("contact_ids") or {}).items()}
        self._next_contact_id = max([FIRST_CONTACT_ID, *(int(i) + 1 for i in self._reserved_ids.values())])
        # Oldest first across forms, so derived contact ids follow creation order.
        pending.sort(key=lambda p: (p[0], p[1]))
        for ms, _, form_id, raw in pending:
            try:
                values = normalize_values(raw.get("values") or [])
            except (KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"dataset submission has malformed values: {raw!r}") from exc
            self.add_submission(form_id, values, ms, conversion_id=raw.get("conversionId"),
                                page_url=raw.get("pageUrl"))
        self._reserved_ids.clear()  # pinned ids no submission claimed stay unused
        for prop in data.get("contact_properties") or []:
            if not isinstance(prop, Mapping) or not prop.get("name"):
                raise ValueError(f"dataset contact property needs a name: {prop!r}")
            self.custom_properties[str(prop["name"])] = copy.deepcopy(dict(prop))
        for email, values in (data.get("written") or {}).items():
            contact = self.contacts.get(str(email).lower()) or self.create_contact(str(email))
            contact.written.update({str(k): str(v) for k, v in dict(values).items()})
