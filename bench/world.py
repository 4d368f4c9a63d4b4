"""The benchmark's world: N form fills over several forms, with a realistic mix of people.

Deterministic for a given (N, seed), so every run of the benchmark, and both contenders in
one run, see the same org and the same submissions. Built straight into a ``SandboxApp``
through its Python helpers (no HTTP), then dumped once so each contender gets a fresh copy
with ``app.load``.

The mix, per submission: 40% a new person, 25% an open Lead, 15% a Contact, 5% a person who
is both, 15% a repeat fill by someone who already filled a form in this stream. One in ten
known people is already a campaign member with status ``Sent`` (so the sync also updates).
Emails look like real ones (about 28 characters), which matters: they set how many people
fit in one lookup statement.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from connector.sandbox.server import SandboxApp

FIRST = ["ana", "bob", "chen", "dara", "eli", "fatima", "goran", "hana", "ivan", "jules",
         "kofi", "lena", "mateo", "nora", "omar", "priya", "quinn", "rosa", "sven", "tara"]
LAST = ["smith", "garcia", "nguyen", "okafor", "muller", "rossi", "tanaka", "kowalski",
        "silva", "obrien", "haddad", "larsen", "dubois", "novak", "kim", "patel"]
DOMAINS = ["example.com", "acme-corp.com", "globex.io", "initech.co.uk", "umbrella.org",
           "wayne-enterprises.com", "stark.industries", "hooli.xyz"]
MIX = (("new", 0.40), ("lead", 0.25), ("contact", 0.15), ("both", 0.05), ("repeat", 0.15))
# ``variety``: what real fills carry that rules read (scoring's bench): titles from a long
# tail (a few common, many rare) and the page each form was on, with tracking parameters,
# nearly one URL per response
TITLES = (["Marketing Manager"] * 8 + ["Sales Director", "VP Marketing", "Owner", "CEO"] * 3
          + ["Director of Operations", "Head of Growth", "Analyst", "Engineer", "Student",
             "Consultant", "Product Manager", "IT Manager", "Account Executive", "Founder"] * 2
          + [f"{level} {area}" for level in ("Senior", "Junior", "Lead", "Principal")
             for area in ("Designer", "Developer", "Accountant", "Buyer", "Recruiter")])
PAGES = ["pricing", "blog/how-to-choose", "webinars/q3", "demo", "", "blog/case-study"]


@dataclass
class WorldInfo:
    """What the contenders need to know about the world (ids, and what it holds)."""

    responses: int
    forms: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)
    leads: int = 0
    contacts: int = 0
    members: int = 0


def build(app: SandboxApp, n: int, *, forms: int = 5, seed: int = 6,
          variety: bool = False) -> WorldInfo:
    """Seed ``app`` with the world; returns its ids and counts. ``variety`` adds titles and
    pages (drawn from their own generator, so the people and their mix stay the same)."""
    rng = random.Random(seed)
    more = random.Random(seed + 1)
    sf, hs = app.salesforce, app.hubspot
    info = WorldInfo(n)
    account = sf.insert("Account", {"Name": "Existing Customers Inc"})
    for i in range(forms):
        info.forms.append(hs.create_form(f"Bench form {i}"))
        info.campaigns.append(sf.insert("Campaign", {"Name": f"Bench campaign {i}", "IsActive": True}))
    seen: list[str] = []              # emails already in the stream, for repeat fills
    known: dict[str, list[str]] = {}  # email -> ids of its Lead/Contact
    start_ms = int(time.time() * 1000) - (n + 3600) * 1000
    serial = 0
    for i in range(n):
        kind = _pick(rng)
        if kind == "repeat" and not seen:
            kind = "new"
        info.kinds[kind] = info.kinds.get(kind, 0) + 1
        form = rng.randrange(forms)
        if kind == "repeat":
            email = rng.choice(seen)
        else:
            serial += 1
            email = _email(rng, serial)
            ids = []
            if kind in ("lead", "both"):
                ids.append(sf.insert("Lead", {"FirstName": email.split(".")[0].title(),
                                              "LastName": "Known", "Company": "Prospect Ltd",
                                              "Email": email}))
                info.leads += 1
            if kind in ("contact", "both"):
                ids.append(sf.insert("Contact", {"LastName": "Customer", "Email": email,
                                                 "AccountId": account}))
                info.contacts += 1
            if ids and rng.random() < 0.10:
                target = "ContactId" if ids[-1].startswith("003") else "LeadId"
                sf.insert("CampaignMember", {"CampaignId": info.campaigns[form], target: ids[-1],
                                             "Status": "Sent"})
                info.members += 1
            known[email] = ids
            seen.append(email)
        first, _, rest = email.partition(".")
        title, page = "Marketing Manager", None
        if variety:
            title = more.choice(TITLES)
            page = (f"https://www.example.com/{more.choice(PAGES)}?utm_source=newsletter"
                    f"&utm_campaign=c{more.randrange(5000)}")
        hs.add_submission(info.forms[form], {
            "email": email if rng.random() > 0.02 else email.upper(),  # a few typed in caps
            "firstname": first.title(), "lastname": rest.split("@")[0].rstrip("0123456789").title(),
            "company": rest.split("@")[1].split(".")[0].title(), "jobtitle": title,
        }, submitted_at=start_ms + i * 1000, page_url=page)
    return info


def _pick(rng: random.Random) -> str:
    roll = rng.random()
    for kind, share in MIX:
        if roll < share:
            return kind
        roll -= share
    return MIX[-1][0]


def _email(rng: random.Random, serial: int) -> str:
    return f"{rng.choice(FIRST)}.{rng.choice(LAST)}{serial}@{rng.choice(DOMAINS)}"


def as_dict(info: WorldInfo) -> dict[str, Any]:
    return {"responses": info.responses, "forms": info.forms, "campaigns": info.campaigns,
            "kinds": info.kinds, "leads": info.leads, "contacts": info.contacts,
            "members": info.members}
