"""``leadsync demo``: a small, realistic world in the sandbox, synced under each method.

The world is the seed article's: Bob Smith fills four forms over a week, once as a person
the CRM has never seen, once as an existing Lead, once as an existing Contact, plus the
cases admins ask about (a converted Lead, two Leads sharing an email, an email typed in
another case, a form fill with only an email, and junk). Every method runs against a fresh
copy of the same world, so the difference between them is the only difference.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from connector.config.settings import Settings, settings_from_dict
from connector.engine.wiring import Session
from connector.engine.report import RunReport
from connector.core.model import Method
from connector.render.run import render
from connector.sandbox import Sandbox
from connector.adapters.transport import RetryPolicy

DAY_MS = 86_400_000
FORMS = (
    ("Webinar: Pipeline Math", "Webinar - Pipeline Math (2026-11)"),
    ("Ebook: Lead Management 101", "Content - Lead Management 101"),
    ("Pricing page", "Web - Pricing Inquiry"),
    ("Demo request", "Sales - Demo Request"),
)


@dataclass
class World:
    forms: list[str] = field(default_factory=list)          # HubSpot form guids, in FORMS order
    campaigns: list[str] = field(default_factory=list)      # Salesforce Campaign ids, same order
    notes: dict[str, str] = field(default_factory=dict)     # email -> what the person is


def build_world(sandbox: Sandbox, *, now_ms: int | None = None) -> World:
    """Seed accounts, people, campaigns and forms, then a week of form fills."""
    sf, hs = sandbox.app.salesforce, sandbox.app.hubspot
    now_ms = now_ms or int(time.time() * 1000)
    world = World()
    for form_name, campaign_name in FORMS:
        world.forms.append(hs.create_form(form_name))
        world.campaigns.append(sf.insert("Campaign", {"Name": campaign_name, "IsActive": True,
                                                      "Status": "In Progress"}))
    acme = sf.insert("Account", {"Name": "Acme Corporation", "Website": "https://www.acme.example"})
    sf.insert("Account", {"Name": "Globex", "Website": "globex.example"})

    # Bob Smith, three times over: the seed article's three starting states.
    sf.insert("Lead", {"FirstName": "Bob", "LastName": "Smith", "Company": "Initech",
                       "Email": "bob.smith@initech.example", "LeadSource": "Trade Show"})
    sf.insert("Contact", {"FirstName": "Bob", "LastName": "Smith", "AccountId": acme,
                          "Email": "bob.smith@acme.example"})
    world.notes.update({
        "bob.smith@umbrella.example": "Bob Smith, unknown to the CRM",
        "bob.smith@initech.example": "Bob Smith, already an open Lead",
        "bob.smith@acme.example": "Bob Smith, already a Contact at Acme",
    })
    # Carol converted last quarter: her Lead now stands for her Contact.
    carol = sf.insert("Lead", {"FirstName": "Carol", "LastName": "Diaz", "Company": "Acme Corporation",
                               "Email": "carol.diaz@acme.example"})
    sf.convert_lead(carol, account_id=acme)
    world.notes["carol.diaz@acme.example"] = "a Lead converted to a Contact"
    # Dana has two open Leads (a past import): the oldest wins, and the note says so.
    for company in ("Hooli", "Hooli Inc"):
        sf.insert("Lead", {"FirstName": "Dana", "LastName": "Lee", "Company": company,
                           "Email": "dana.lee@hooli.example"})
    world.notes["dana.lee@hooli.example"] = "two open Leads share this email"
    # Pat exists as a Lead in lower case; the form has her email in mixed case with spaces.
    sf.insert("Lead", {"FirstName": "Pat", "LastName": "Jones", "Company": "Globex",
                       "Email": "pat.jones@globex.example"})
    world.notes["pat.jones@globex.example"] = "an open Lead; the form has the email in another case"

    start = now_ms - 7 * DAY_MS

    def fill(form: int, hours: float, values: dict[str, str]) -> None:
        hs.add_submission(world.forms[form], values, submitted_at=int(start + hours * 3_600_000))

    for i, (email, company) in enumerate((("bob.smith@umbrella.example", "Umbrella"),
                                          ("bob.smith@initech.example", "Initech"),
                                          ("bob.smith@acme.example", "Acme Corporation"))):
        for form in range(4):  # four forms over a week
            fill(form, 24 + form * 36 + i, {"email": email, "firstname": "Bob", "lastname": "Smith",
                                            "company": company, "jobtitle": "VP Marketing"})
    fill(3, 40, {"email": "carol.diaz@acme.example", "firstname": "Carol", "lastname": "Diaz",
                 "company": "Acme Corporation"})
    fill(1, 50, {"email": "dana.lee@hooli.example", "firstname": "Dana", "lastname": "Lee",
                 "company": "Hooli"})
    fill(2, 60, {"email": "  Pat.Jones@Globex.EXAMPLE ", "firstname": "Pat", "lastname": "Jones"})
    fill(1, 70, {"email": "sam@startup.example"})  # only an email: Web-to-Lead placeholders
    world.notes["sam@startup.example"] = "new; the form asked for the email only"
    fill(0, 80, {"email": "not-an-email", "firstname": "Junk", "lastname": "Bot"})
    fill(0, 81, {"firstname": "No", "lastname": "Email"})
    return world


def demo_settings(sandbox: Sandbox, world: World, state_path: Path, method: Method,
                  **sections: Any) -> Settings:
    return settings_from_dict({
        "method": method.value,
        "salesforce": {"instance_url": sandbox.url, "access_token": sandbox.token,
                       "lead_external_id_field": "Leadsync_Response_Id__c"},
        "hubspot": {"base_url": sandbox.url, "access_token": sandbox.token},
        "state": {"path": str(state_path)},
        "campaigns": [{"form_id": f, "campaign_id": c, "member_status": "Responded"}
                      for f, c in zip(world.forms, world.campaigns)],
        **sections,
    }, env={})


def add_sales_team(sandbox: Sandbox, world: World) -> dict[str, Any]:
    """Reps, a queue and the [routing]/[accounts] an admin would write for this world."""
    sf, hs = sandbox.app.salesforce, sandbox.app.hubspot
    sf.add_user("Meyer", first_name="Maria", username="maria@sales.example")
    sf.add_user("Okafor", first_name="Ade", username="ade@sales.example")
    sf.add_queue("Inbound Leads", developer_name="Inbound_Leads")
    hs.add_submission(world.forms[1], {"email": "jane.doe@eu.acme.example", "firstname": "jane",
                                       "lastname": "Doe", "jobtitle": "Head of Ops"},
                      submitted_at=int(time.time() * 1000) - 2 * DAY_MS)
    world.notes["jane.doe@eu.acme.example"] = "new, at Acme's domain"
    demo = world.forms[3]
    return {
        "routing": {"mode": "rules", "default_owner": "queue:Inbound_Leads",
                    "rules": [{"owner": "user:maria@sales.example", "form": [demo]},
                              {"owner": "user:ade@sales.example", "domain": ["umbrella.example"]}],
                    "stages": {"nurture": "Open - Not Contacted",
                               "sales_ready": "Working - Contacted", "sales_ready_forms": [demo]},
                    "tasks": {"sla": "4h", "owner": "user:maria@sales.example"}},
        "accounts": {"new_person": "contact"},
    }


def run_demo(methods: list[Method], state_dir: Path | None, echo: Callable[[str], None]) -> int:
    """Run the demo once per method; returns the worst exit code (3: junk was parked)."""
    holder = None if state_dir else tempfile.TemporaryDirectory(prefix="leadsync-demo-")
    base = Path(state_dir or holder.name)  # type: ignore[union-attr]
    reports: dict[Method, RunReport] = {}
    leads_by_bob: dict[Method, dict[str, int]] = {}
    try:
        for method in methods:
            with Sandbox() as sandbox:
                world = build_world(sandbox)
                settings = demo_settings(sandbox, world, base / f"demo-{method.value}.db", method)
                echo(f"\n=== method: {method.value} " + "=" * 50)
                with Session(settings, retry=RetryPolicy.fast()) as engine:
                    report = engine.run()
                echo(render(report, detail=True))
                with Session(settings, retry=RetryPolicy.fast()) as engine:
                    again = engine.run()
                echo(f"  Ran again: {again.counts.get('pulled', 0)} new responses; "
                     f"{again.counts.get('skipped', 0)} re-read in the lookback window were already "
                     "in the ledger. Nothing written twice.")
                reports[method] = report
                leads = sandbox.app.salesforce.records("Lead")
                leads_by_bob[method] = {email: sum(1 for lead in leads if (lead.get("Email") or "").lower() == email)
                                        for email in world.notes if email.startswith("bob.")}
                world_notes = world.notes
        echo("\nBob Smith's four form fills, Leads in Salesforce afterwards:")
        header = f"  {'starting state':<40}" + "".join(f"{m.value:>8}" for m in methods)
        echo(header)
        for email, note in world_notes.items():
            if email.startswith("bob."):
                counts = "".join(f"{leads_by_bob[m][email]:>8}" for m in methods)
                echo(f"  {note:<40}{counts}")
        if Method.UNIQUE in methods:
            run_hand_off(base, echo)
        echo(f"\nState files: {base}" + ("" if state_dir else " (temporary, removed now)"))
        return max(r.exit_code for r in reports.values())
    finally:
        if holder:
            holder.cleanup()


def run_hand_off(base: Path, echo: Callable[[str], None]) -> None:
    """The same world under unique with a mapping's rules, routing, stages, Tasks and
    account matching: what each response changes on its record, shown as before -> after."""
    with Sandbox() as sandbox:
        world = build_world(sandbox)
        sections = add_sales_team(sandbox, world)
        settings = demo_settings(sandbox, world, base / "demo-hand-off.db", Method.UNIQUE, **sections)
        echo("\n=== unique, with routing, stages, Tasks and account matching " + "=" * 14)
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            report = engine.run()
        echo(render(report, detail=True))
        sf = sandbox.app.salesforce
        tasks = sf.records("Task")
        contacts = [c for c in sf.records("Contact") if c.get("Email") == "jane.doe@eu.acme.example"]
        echo(f"  Follow-up Tasks: {len(tasks)}; Jane Doe is "
             + (f"a Contact on Account {contacts[0]['AccountId']}" if contacts else "not a Contact"))
