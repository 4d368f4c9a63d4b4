"""Which HubSpot scopes a configuration needs, and what ``mappings check`` says of a missing one.

A private app (or a service key, their replacement since HubSpot stopped new legacy private
apps in autumn 2026) holds the scopes an admin ticked when making it. A scope left out shows
only at the first call that needs it: the sync stops (the forms), or one part pauses (an
event, the meetings, the write-back). ``mappings check`` tries the cheapest read of each
scope the configuration needs, before the daemon runs, and names the one to add.

The scopes are HubSpot's, from its public specs (docs/sandbox-wire-facts.md: "Forms scopes",
"Contacts and meetings scopes", "Missing scopes", "Properties scopes"). Writes are not tried
(a write to see whether one may write is a write): their needs are listed, never checked.
Pure: the configuration's uses in, needs and problems out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Collection

from connector.core.mapping_rules import Problem

FORMS = ("forms", "forms-uploaded-files")          # the v1 submissions feed takes either
CONTACTS_READ = ("crm.objects.contacts.read",)
CONTACTS_WRITE = ("crm.objects.contacts.write",)
EVENTS_READ = ("crm.objects.marketing_events.read",)


class Probe(Enum):
    """The read that shows whether the app holds a scope (one call each)."""

    FORM_FEED = "form_feed"      # the first configured form's submissions, one item
    CONTACTS = "contacts"        # a contacts search for one contact
    EVENT = "event"              # the first configured marketing event


@dataclass(frozen=True)
class ScopeNeed:
    where: str                   # the configuration that asks for it
    what: str                    # what leadsync does with it
    any_of: tuple[str, ...]      # HubSpot's alternatives: any one will do
    probe: Probe | None          # None: only a write needs it (never tried)
    without: str = ""            # what happens meanwhile when there is a fallback (a warning)


def scope_needs(*, forms: bool, events: bool, meetings: bool, freshness_probe: bool,
                writeback: bool) -> tuple[ScopeNeed, ...]:
    """The scopes a configuration's parts need, in the order the sync meets them."""
    needs: list[ScopeNeed] = []
    if forms:
        needs.append(ScopeNeed("campaigns[].form_id", "reading the forms' submissions", FORMS,
                               Probe.FORM_FEED))
    if freshness_probe and forms:
        needs.append(ScopeNeed("sync.probe", "the daemon's freshness probe (a contacts search)",
                               CONTACTS_READ, Probe.CONTACTS,
                               without="the daemon pages every form each cycle instead"))
    if events:
        needs.append(ScopeNeed("campaigns[].event_id", "reading the events' attendance",
                               EVENTS_READ, Probe.EVENT))
    if meetings:
        needs.append(ScopeNeed("campaigns[].meetings", "reading booked meetings and their "
                               "contacts", CONTACTS_READ, Probe.CONTACTS))
    if writeback:
        needs.append(ScopeNeed("writeback", "finding contacts by email", CONTACTS_READ,
                               Probe.CONTACTS))
        needs.append(ScopeNeed("writeback", "writing leadsync's properties on contacts",
                               CONTACTS_WRITE, None))
    return tuple(needs)


class ScopeStatus(Enum):
    HELD = "held"                # its read was answered (or the token lists it)
    MISSING = "missing"          # its read was refused for want of it (or the token lacks it)
    UNCHECKED = "unchecked"      # only a write needs it: never tried


@dataclass(frozen=True)
class ScopeCheck:
    need: ScopeNeed
    status: ScopeStatus

    def to_json(self) -> dict[str, object]:
        return {"where": self.need.where, "what": self.need.what,
                "any_of": list(self.need.any_of), "status": self.status.value}


def scope_checks(needs: tuple[ScopeNeed, ...], lacking: Collection[Probe]) -> tuple[ScopeCheck, ...]:
    """Each need with what its read showed (``lacking``: the probes refused for a scope)."""
    return tuple(ScopeCheck(need, ScopeStatus.UNCHECKED if need.probe is None
                            else ScopeStatus.MISSING if need.probe in lacking
                            else ScopeStatus.HELD) for need in needs)


def scope_checks_granted(needs: tuple[ScopeNeed, ...], granted: Collection[str]
                         ) -> tuple[ScopeCheck, ...]:
    """Each need against the scopes HubSpot says the token has (an OAuth app's token reply
    lists them): writes are checked too, since nothing has to be tried."""
    return tuple(ScopeCheck(need, ScopeStatus.HELD if set(need.any_of) & set(granted)
                            else ScopeStatus.MISSING) for need in needs)


def scope_problems(checks: tuple[ScopeCheck, ...]) -> list[Problem]:
    """A problem per missing scope: an error when that part cannot work at all, a warning
    when leadsync falls back."""
    return [Problem(0, c.need.where, f"the HubSpot app lacks the scope "
                    f"{' or '.join(c.need.any_of)}, needed for {c.need.what}: add it to the app "
                    "(private app or service key)"
                    + (f"; meanwhile {c.need.without}" if c.need.without else ""),
                    "warning" if c.need.without else "error")
            for c in checks if c.status is ScopeStatus.MISSING]


def scopes_unchecked(reason: str) -> Problem:
    """HubSpot could not be asked (a refused token, an outage): said as a warning, and the
    rest of the check still stands."""
    return Problem(0, "hubspot", f"the HubSpot app's scopes were not checked: {reason}", "warning")
