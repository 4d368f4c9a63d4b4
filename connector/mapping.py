"""Form fields -> Salesforce Lead fields, and the cleaning every value gets on the way.

Pure: a submission and a mapping in, a :class:`Response` (or a :class:`RecordError` with
a reason an admin can act on) out. Cleaning here, rather than letting Salesforce reject
the record, means one over-long job title does not cost a form fill.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ConfigError, RecordError
from .model import Response, Submission

NOT_PROVIDED = "[not provided]"  # Salesforce Web-to-Lead's own placeholder

# Lengths of the standard Lead fields (Salesforce "Lead" object reference). Values longer
# than these are truncated rather than failing the whole record with STRING_TOO_LONG.
LEAD_FIELD_LENGTHS: dict[str, int] = {
    "Email": 80, "FirstName": 40, "LastName": 80, "Company": 255, "Phone": 40,
    "MobilePhone": 40, "Title": 128, "Street": 255, "City": 40, "State": 80,
    "PostalCode": 20, "Country": 80, "Website": 255, "Industry": 255, "LeadSource": 255,
    "Description": 32000, "Salutation": 40, "Rating": 255, "Status": 255,
}
NUMERIC_FIELDS = {"NumberOfEmployees": int, "AnnualRevenue": float}
MULTILINE_FIELDS = {"Description", "Street"}

# Deliberately simple: Salesforce's own check is permissive, and HubSpot already validated
# the address on the form. We reject what Salesforce would (no @, spaces, no dot in the
# domain, over 80 characters) so the failure is ours, early, and explained.
_EMAIL = re.compile(r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


@dataclass(frozen=True)
class FieldMapping:
    lead: Mapping[str, str]                          # form field (lower-case) -> Lead field
    defaults: Mapping[str, str] = field(default_factory=dict)
    source: str = "<built-in>"

    @property
    def email_field(self) -> str:
        for form_field, sf_field in self.lead.items():
            if sf_field == "Email":
                return form_field
        raise ConfigError("no form field is mapped to the Lead's Email", key="lead")


def load_mapping(path: str | Path) -> FieldMapping:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"mapping file not found: {path}", key="sync.mapping") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", key="sync.mapping") from None
    unknown = set(data) - {"lead", "defaults"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; expected [lead] and [defaults]",
                          key="sync.mapping")
    lead = data.get("lead") or {}
    for name, target in lead.items():
        if not isinstance(target, str) or not target:
            raise ConfigError(f"{path}: [lead] {name} must name a Salesforce field", key="sync.mapping")
    mapping = FieldMapping({k.lower(): v for k, v in lead.items()}, dict(data.get("defaults") or {}),
                           str(path))
    mapping.email_field  # noqa: B018 - validates that Email is mapped
    return mapping


def normalise_email(raw: str | None) -> str:
    """Trim, lower-case and check an email; raise RecordError with the reason if unusable."""
    if raw is None or not raw.strip():
        raise RecordError("no email address in the submission", code="MISSING_EMAIL")
    email = clean_text(raw).strip().lower()
    if len(email) > LEAD_FIELD_LENGTHS["Email"]:
        raise RecordError(f"email address longer than 80 characters ({len(email)})",
                          code="INVALID_EMAIL")
    if not _EMAIL.match(email):
        raise RecordError(f"not a valid email address: {email[:80]!r}", code="INVALID_EMAIL")
    return email


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Drop NULs and control characters Salesforce would store as garbage or reject."""
    if value.isprintable():  # the usual value: no Cc/Cs character, nothing to drop (C speed)
        return value.strip()
    keep = {"\n", "\t"} if multiline else set()
    out = []
    for ch in value:
        if ch in keep:
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(" " if ch in "\r\n\t" else "")
        else:
            out.append(ch)
    return "".join(out).strip()


def to_response(sub: Submission, mapping: FieldMapping, *, campaign_id: str,
                member_status: str) -> Response:
    """Map and clean one submission; the email is the identity, so it must be usable."""
    values = {name.lower(): value for name, value in sub.values.items()}
    email = normalise_email(values.get(mapping.email_field))
    fields: dict[str, str] = dict(mapping.defaults)
    for form_field, sf_field in mapping.lead.items():
        raw = values.get(form_field)
        if raw is None or sf_field == "Email":
            continue
        value = _clean_field(sf_field, str(raw))
        if value is not None:
            fields[sf_field] = value
    fields["Email"] = email
    for required in ("LastName", "Company"):
        if not fields.get(required):
            fields[required] = NOT_PROVIDED
    return Response(sub.conversion_id, sub.form_id, sub.submitted_at, email, fields,
                    campaign_id, member_status)


def _clean_field(sf_field: str, raw: str) -> str | None:
    text = clean_text(raw, multiline=sf_field in MULTILINE_FIELDS)
    if not text:
        return None
    if sf_field in NUMERIC_FIELDS:
        try:
            number = NUMERIC_FIELDS[sf_field](text.replace(",", ""))
        except ValueError:
            return None  # a non-number in a number field would fail the whole record
        return str(number)
    limit = LEAD_FIELD_LENGTHS.get(sf_field)
    return text[:limit] if limit else text
