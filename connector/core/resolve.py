"""Who is this person in Salesforce? Pure choice over the rows a lookup returned.

The adapter fetches, for a batch of emails, the Leads (converted or not) and Contacts whose
Email is among them; this module turns those rows into one :class:`Match` per email. The
rules an admin will ask about live here:

- only open (unconverted) Leads count as Leads;
- a converted Lead stands for its ConvertedContactId, so a person whose Contact carries a
  different email is still found through the Lead they converted from;
- several candidates: the oldest by CreatedDate (then Id) wins by default, as HubSpot's
  own connector does; ``newest`` is the alternative. The note says what was passed over.
- a Lead whose leadsync external id equals a response's conversion id was created for that
  very response by an earlier, interrupted run: that is how a replay finds its own work.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from connector.core.model import Match, Record


def rows_to_records(lead_rows: Iterable[Mapping[str, Any]], contact_rows: Iterable[Mapping[str, Any]],
                    *, external_id_field: str | None = None) -> tuple[list[Record], list[Record]]:
    """Split Salesforce rows into open Leads and Contacts (converted Leads join the Contacts)."""
    leads: list[Record] = []
    contacts: list[Record] = []
    seen_contacts: set[str] = set()
    for row in contact_rows:
        if row.get("Email"):
            contacts.append(Record(row["Id"], "Contact", str(row["Email"]).lower(),
                                   str(row.get("CreatedDate") or "")))
            seen_contacts.add(row["Id"])
    for row in lead_rows:
        if not row.get("Email"):
            continue
        email = str(row["Email"]).lower()
        ext = row.get(external_id_field) if external_id_field else None
        if row.get("IsConverted"):
            contact_id = row.get("ConvertedContactId")
            if contact_id and contact_id not in seen_contacts:
                contacts.append(Record(contact_id, "Contact", email,
                                       str(row.get("ConvertedDate") or row.get("CreatedDate") or "")))
                seen_contacts.add(contact_id)
            continue
        leads.append(Record(row["Id"], "Lead", email, str(row.get("CreatedDate") or ""), ext))
    return leads, contacts


def resolve(emails: Iterable[str], leads: Iterable[Record], contacts: Iterable[Record], *,
            choose: str = "oldest") -> dict[str, Match]:
    """One Match per email; the chosen Lead and Contact are deterministic for the same data."""
    by_email: dict[str, tuple[list[Record], list[Record]]] = {e: ([], []) for e in emails}
    for record in leads:
        if record.email in by_email:
            by_email[record.email][0].append(record)
    for record in contacts:
        if record.email in by_email:
            by_email[record.email][1].append(record)
    matches = {}
    for email, (lead_list, contact_list) in by_email.items():
        lead, lead_note = _pick(lead_list, choose)
        contact, contact_note = _pick(contact_list, choose)
        note = "; ".join(n for n in (lead_note, contact_note) if n)
        matches[email] = Match(email, lead, contact, len(lead_list), len(contact_list), note)
    return matches


def created_for(leads: Iterable[Record]) -> dict[str, Record]:
    """Leads carrying a leadsync external id, by that id (= the conversion id that made them)."""
    return {r.external_id: r for r in leads if r.external_id}


def _pick(records: list[Record], choose: str) -> tuple[Record | None, str]:
    if not records:
        return None, ""
    ordered = sorted(records, key=lambda r: (r.created, r.id), reverse=(choose == "newest"))
    chosen = ordered[0]
    if len(ordered) == 1:
        return chosen, ""
    others = ", ".join(r.id for r in ordered[1:])
    return chosen, f"{len(ordered)} {chosen.sobject}s share this email; chose the {choose} {chosen.id} over {others}"
