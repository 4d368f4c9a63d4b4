"""Campaign member statuses that only move forward: Registered -> Attended, never back. (pure)

An event's responses arrive as participations, each a state (registered, cancelled,
attended, no-show) of one person, in no promised order: an attendance may be synced before
the registration it follows, a late registration record may come after the attendance. Each
is a response of its own, recorded once in the ledger; what it does to the person's one
membership is decided here, from two things:

- the configured order (``statuses = {...}`` of the ``[[campaigns]]`` entry): registered,
  then cancelled, then attended or no-show, which are final;
- the campaign's CampaignMemberStatus rows in Salesforce: ``HasResponded`` (a responded
  status is never replaced by a non-responded one) and ``SortOrder`` (how a status the
  configuration does not name, say "Responded" from a form on the same campaign, compares).

A form's responses have no ladder and keep their rule: a member that has not responded is
moved to the form's status, one that has responded is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from connector.core.model import Action, Decision, Target

# Rank of each configured state: a move goes to a higher rank only.
RANKS = {"registered": 1, "cancelled": 2, "attended": 3, "no_show": 3}
FINAL = ("attended", "no_show")


@dataclass(frozen=True)
class OrgStatus:
    """One CampaignMemberStatus row, in the campaign's SortOrder."""

    label: str
    has_responded: bool
    sort_order: int


@dataclass(frozen=True)
class Ladder:
    """One campaign's statuses as progression reads them."""

    ranks: Mapping[str, int] = field(default_factory=dict)      # configured label -> rank
    final: frozenset[str] = frozenset()
    responded: Mapping[str, bool] = field(default_factory=dict)  # org label -> HasResponded
    sort_order: Mapping[str, int] = field(default_factory=dict)  # org label -> SortOrder


def ladder_for(labels: Mapping[str, str], org: Sequence[OrgStatus]) -> Ladder:
    """``labels`` is the configured state -> member status (``EventStatuses``); ``org`` the
    campaign's rows. A label configured for two states takes the higher rank."""
    ranks: dict[str, int] = {}
    for state, label in labels.items():
        ranks[label] = max(ranks.get(label, 0), RANKS[state])
    final = frozenset(labels[s] for s in FINAL if s in labels)
    return Ladder(ranks, final, {s.label: s.has_responded for s in org},
                  {s.label: s.sort_order for s in org})


def moves(ladder: Ladder | None, current: str, current_responded: bool, new: str) -> bool:
    """Whether a member at ``current`` moves to ``new``."""
    if current == new:
        return False
    if ladder is None:                      # a form: only a member that has not responded
        return not current_responded
    if current in ladder.final:
        return False
    if current_responded and not ladder.responded.get(new, False):
        return False                        # never from responded to non-responded
    if current in ladder.ranks and new in ladder.ranks:
        return ladder.ranks[new] > ladder.ranks[current]
    if not current_responded:               # "Sent" from an email send, and the like
        return True
    before, after = ladder.sort_order.get(current), ladder.sort_order.get(new)
    return before is not None and after is not None and after > before


def furthest(ladder: Ladder | None, current: str, new: str) -> str:
    """Of two statuses for one membership planned in the same batch (a registration and
    the attendance after it), the one the member ends at."""
    if ladder is None:
        return current
    return new if moves(ladder, current, ladder.responded.get(current, False), new) else current


# -- poi: one event, one point of interest --------------------------------------------------

def event_record_ids(responses: Sequence[Any], rows: Mapping[str, Mapping[str, Any]],
                     ladders: Mapping[str, Ladder]) -> set[str]:
    """Every Lead and Contact of the people answering an event: the records whose
    memberships poi must see to keep a person's participations on one Lead."""
    emails = {r.email for r in responses if r.campaign_id in ladders}
    if not emails:
        return set()
    return {rid for rid, row in rows.items() if str(row.get("Email") or "").lower() in emails}


def thread_poi(decisions: Sequence[Decision], member_rows: Sequence[Mapping[str, Any]],
               rows: Mapping[str, Mapping[str, Any]], ladders: Mapping[str, Ladder]
               ) -> list[Decision]:
    """Under poi every response creates a Lead, but a person's registration, attendance and
    cancellation of one event are one point of interest: the first creates the Lead, the
    others move that Lead's membership. A later state attaches to the record already in the
    event's campaign (found in Salesforce, or created by an earlier response of the batch)."""
    holders: dict[tuple[str, str], Target] = {}
    for row in member_rows:
        record = row.get("LeadId") or row.get("ContactId")
        email = str((rows.get(str(record)) or {}).get("Email") or "").lower()
        if record and email and row.get("CampaignId") in ladders:
            sobject = "Lead" if row.get("LeadId") else "Contact"
            holders.setdefault((str(row["CampaignId"]), email), Target(sobject, str(record)))
    out = []
    for d in decisions:
        r, target = d.response, d.target
        if r is None or r.campaign_id not in ladders or target is None:
            out.append(d)
            continue
        key = (r.campaign_id, r.email)
        held = holders.get(key)
        if held is not None and d.action is Action.CREATE_LEAD and target.id is None:
            action = Action.ATTACH_LEAD if held.sobject == "Lead" else Action.ATTACH_CONTACT
            where = held.id or f"the Lead response {held.new_lead_of} creates"
            d = replace(d, action=action, target=held,
                        reason=f"poi: one Lead per person and event; {where} holds this "
                               "person's membership, whose status this response moves")
        elif held is None:
            holders[key] = target
        out.append(d)
    return out
