"""The soak's world, configuration and audit (``bench/soak.py`` runs the cases).

One org per case: four forms mapped to four active campaigns, ``people`` people of whom a
fifth are already Leads and a fifth Contacts, and ``responses`` fills spread over the forms.
Every fill carries its own last name (``N<i>``, or ``R<i>`` for the ones a validation rule
refuses in the retry case), so a Lead can be traced to its response even when it carries no
external id (poi at least once).
"""

from __future__ import annotations

import collections
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.adapters.sqlite.ledger import State
from connector.sandbox import Sandbox

EXT = "Leadsync_Response_Id__c"


@dataclass
class World:
    forms: list[str]
    campaigns: list[str]
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # conversion id -> fill


def build(sandbox: Sandbox, responses: int, people: int, *, refused_every: int = 0) -> World:
    """Seed the sandbox; ``refused_every`` > 0 names every n-th fill ``R<i>`` (see retry)."""
    hs, sf = sandbox.app.hubspot, sandbox.app.salesforce
    hs.set_rate_limit(per_10s=100_000, per_second=10_000)
    world = World([hs.create_form(f"Form {i}") for i in range(4)],
                  [sf.insert("Campaign", {"Name": f"Campaign {i}", "IsActive": True}) for i in range(4)])
    for i in range(0, people, 5):  # a fifth already Leads, a fifth Contacts
        sf.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"p{i}@example.com"})
        sf.insert("Contact", {"LastName": f"C{i}", "Email": f"p{i + 1}@example.com"})
    t0 = int(time.time() * 1000) - responses * 1000
    for i in range(responses):
        refused = refused_every and i % refused_every == 0
        fill = {"email": f"p{i % people}@example.com", "lastname": f"{'R' if refused else 'N'}{i}"}
        conversion_id = hs.add_submission(world.forms[i % 4], fill, submitted_at=t0 + i * 1000)
        world.responses[conversion_id] = {**fill, "form": i % 4}
    return world


def write_config(path: Path, sandbox: Sandbox, world: World, method: str, state: Path, *,
                 key: bool = True, at_least_once: bool = False, batch_size: int = 25) -> Path:
    lines = [f'method = "{method}"', "[salesforce]", f'instance_url = "{sandbox.url}"']
    if key:
        lines.append(f'lead_external_id_field = "{EXT}"')
    lines += ["[hubspot]", f'base_url = "{sandbox.url}"', "[state]", f'path = "{state}"',
              "[sync]", f"batch_size = {batch_size}"]
    if at_least_once:
        lines.append('poi_delivery = "at_least_once"')
    for form, campaign in zip(world.forms, world.campaigns):
        lines += ["[[campaigns]]", f'form_id = "{form}"', f'campaign_id = "{campaign}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def created_leads(sandbox: Sandbox, world: World) -> int:
    """Leads named after a response (what leadsync created; the world's own are ``L<i>``)."""
    ours = {fill["lastname"] for fill in world.responses.values()}
    return sum(1 for lead in sandbox.app.salesforce.records("Lead") if lead.get("LastName") in ours)


def audit(sandbox: Sandbox, world: World, state_path: Path, method: str) -> dict[str, Any]:
    """lost: a response without an applied ledger row whose membership exists in the org;
    duplicated: a second Lead for one response (poi) or one open Lead per email (hybrid,
    unique), plus a second CampaignMember for one (campaign, record); stranded: pending rows."""
    sf = sandbox.app.salesforce
    members = collections.Counter((m["CampaignId"], m.get("LeadId") or m.get("ContactId"))
                                  for m in sf.records("CampaignMember"))
    state = State.open_read_only(state_path)
    try:
        rows = {row["conversion_id"]: row for row in state.rows()}
    except sqlite3.OperationalError:      # no ledger at all: every response is lost
        rows = {}
    finally:
        state.close()
    lost = failed = 0
    for conversion_id, fill in world.responses.items():
        row = rows.get(conversion_id)
        campaign = world.campaigns[fill["form"]]
        if row is None or row["status"] != "applied" or not (
                (campaign, row["lead_id"]) in members or (campaign, row["contact_id"]) in members):
            lost += 1
            failed += bool(row and row["status"] == "failed")
    leads = sf.records("Lead")
    if method == "poi":
        ours = {fill["lastname"] for fill in world.responses.values()}
        per_response = collections.Counter(lead["LastName"] for lead in leads if lead.get("LastName") in ours)
        duplicate_leads = sum(n - 1 for n in per_response.values() if n > 1)
    else:
        per_email = collections.Counter((lead.get("Email") or "").lower() for lead in leads
                                        if not lead.get("IsConverted"))
        duplicate_leads = sum(n - 1 for n in per_email.values() if n > 1)
    duplicate_members = sum(n - 1 for n in members.values() if n > 1)
    return {"lost": lost, "duplicated": duplicate_leads + duplicate_members,
            "stranded": sum(1 for row in rows.values() if row["status"] == "pending"),
            "failed": failed, "duplicate_leads": duplicate_leads,
            "duplicate_members": duplicate_members, "created": created_leads(sandbox, world)}
