"""Reconciliation, the pure part: three sources in, categories of drift out.

"Did everything land?" is answered by comparing what HubSpot has (the submissions of the
mapped forms in a window), what the ledger says happened to each, and what Salesforce holds
now. Every function here takes plain rows and returns plain data, so each kind of drift is
tested by building rows, and the adapter (``reconciler.py``) only fetches and writes.

Drift, and who may repair it:

- ``missed``: HubSpot has it, the ledger never saw it, and its form's watermark has passed
  it, so no sync will read it again. Safe to apply through the sync's own write path, which
  re-resolves the person and so cannot double a Lead or a membership.
- ``pending``: the ledger recorded an intent and the run died before the outcome. Safe to
  apply again, for the same reason.
- ``missing_membership``: applied, the Lead or Contact still exists, its CampaignMember is
  gone. Safe to recreate on the surviving record (a converted Lead's Contact). A record
  merged into another (``merged_into``, ``MasterRecordId`` followed to the live end of the
  chain) survives as that record: the membership is recreated there and the ledger row
  re-pointed at it.
- ``status_differs``: the membership exists, has not responded, and its Status is not the
  form's. Safe to move, as the sync itself would.
- ``missing_record``: applied, but the Lead or Contact is gone: deleted (or merged into a
  record that was deleted in turn). Recreating a Lead someone deleted is the admin's call:
  reported, never fixed.
- ``duplicates``: open Leads sharing an email; the admin merges them (reported, each Lead
  flagged if leadsync created it).
- ``parked``: failed responses with their reasons; the cause needs a person first.
- ``broken_campaign``: what would be fixable (missed, pending, a missing membership, a status)
  but whose campaign cannot take members: deleted, inactive, without the member status, or
  the entry names it wrongly. A fix would fail on every ``--fix`` (a run pauses such a form),
  so it is a configuration problem, reported with the ``[[campaigns]]`` entry to correct
  (:func:`set_aside_broken`), never offered to ``--fix``.

Listed but not drift: ``unsynced`` (newer than the watermark; the next sync takes it),
``moved_on`` (a membership that responded and was moved to another status; the sync leaves
responded memberships alone by design) and ``merged`` (the record was merged into another and
the membership is on the survivor, moved by the merge or there already; ``--fix`` only
re-points the ledger row at the survivor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

from connector.errors import ConfigError
from connector.core.campaigns import CampaignEntry, OrgCampaigns, check_campaigns, is_campaign_id
from connector.core.ids import to_id18
from connector.core.model import Submission
from connector.core.timefmt import iso_ms, parse_duration

FIXABLE = ("missed", "pending", "missing_membership", "status_differs")
ADMINS_CALL = ("broken_campaign", "missing_record", "duplicates", "parked")
DRIFT = FIXABLE + ADMINS_CALL
INFO = ("unsynced", "moved_on", "merged")
DEFAULT_WINDOW_DAYS = 30

Row = Mapping[str, Any]


def parse_since(text: str | None, *, now: datetime) -> datetime:
    """``--since``: an ISO date (midnight UTC) or datetime (UTC unless it says), or a duration
    (``7d``, ``36h``) meaning that long before ``now``; default 30 days.

    The relative form is for cron jobs and runbooks: ``reconcile --since 7d`` stays right
    every day, where a date has to be rewritten. It is the config's duration grammar, without
    bare numbers: ``--since 7`` could be seconds or days, so it is refused, not guessed.
    """
    if text is None or not text.strip():
        return now - timedelta(days=DEFAULT_WINDOW_DAYS)
    value = text.strip()
    if not re.match(r"\d{4}-", value):   # 2026-... is a date, never a duration
        try:
            seconds = parse_duration(value)
        except ValueError:
            seconds = None
        if seconds is not None:
            if seconds <= 0:
                raise ConfigError("must be a time before now (e.g. 7d)", key="--since")
            return now - timedelta(seconds=seconds)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not an ISO date, datetime or duration: {text!r} (e.g. 2026-01-31, "
                          "2026-01-31T09:00:00+01:00 or 7d)", key="--since") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed > now:
        raise ConfigError("is in the future", key="--since")
    return parsed


def submission_email(sub: Submission) -> str:
    """The email as the sync would normalise it (trimmed, lower-cased), for matching."""
    raw = next((str(v) for k, v in sub.values.items() if k.lower() == "email"), "")
    return raw.strip().lower()


def plausible_email(text: str | None) -> bool:
    return bool(text) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text or "") is not None


def record_of(row: Row) -> tuple[str, str] | None:
    """(sobject, id) of the record a ledger row's membership sits on, as the sync recorded it."""
    if row.get("lead_id"):
        return "Lead", row["lead_id"]
    if row.get("contact_id"):
        return "Contact", row["contact_id"]
    return None


# -- what to fetch (pure helpers the adapter calls between reads) -------------------------------

def member_ids(ledger: Iterable[Row]) -> list[str]:
    return sorted({r["member_id"] for r in ledger if r.get("status") == "applied" and r.get("member_id")})


def unmatched(ledger: Iterable[Row], members: Iterable[Row]) -> list[Row]:
    """Applied rows whose membership was not found (by Id or by campaign + record)."""
    by_id, by_key = _index_members(members)
    return [r for r in ledger if r.get("status") == "applied"
            and _member_for(r, by_id, by_key) is None and record_of(r) is not None]


def window_emails(submissions: Iterable[Submission], ledger: Iterable[Row]) -> list[str]:
    emails = {submission_email(s) for s in submissions} | {(r.get("email") or "").lower() for r in ledger}
    return sorted(e for e in emails if plausible_email(e))


def unread_masters(records: Mapping[str, Row]) -> list[tuple[str, str]]:
    """(sobject, id) of records that read rows were merged into but that are not read yet.

    Rows come from ``queryAll`` (``IsDeleted``, ``MasterRecordId``); a merge keeps the
    type, so a master is read from its loser's object. A record merged twice points at the
    record it was first merged into, which names the next: the adapter reads until none is
    left unread.
    """
    out = {((row.get("attributes") or {}).get("type") or "", row["MasterRecordId"])
           for row in records.values() if row.get("IsDeleted") and row.get("MasterRecordId")
           and row["MasterRecordId"] not in records}
    return sorted(out)


def survivor(record_id: str, records: Mapping[str, Row]) -> str | None:
    """The live record ``record_id`` is now: itself, or where its merges ended.

    None when it is gone: not read (deleted and purged), deleted without a merge, or merged
    into a record that is gone in turn (or not read yet).
    """
    seen: set[str] = set()
    current = record_id
    while current not in seen:
        seen.add(current)
        row = records.get(current)
        if row is None:
            return None
        if not row.get("IsDeleted"):
            return current
        if not row.get("MasterRecordId"):
            return None
        current = row["MasterRecordId"]
    return None   # a loop: not something Salesforce makes


def merge_targets(ledger: Iterable[Row], records: Mapping[str, Row]) -> tuple[set[str], set[str]]:
    """(campaign ids, record ids) to look for memberships on merge survivors (and their
    Contacts, when a surviving Lead was converted), for rows whose record was merged away."""
    campaigns: set[str] = set()
    targets: set[str] = set()
    for row in ledger:
        located = record_of(row)
        if located is None or not row.get("campaign_id"):
            continue
        alive = survivor(located[1], records)
        if alive is None or alive == located[1]:
            continue
        campaigns.add(row["campaign_id"])
        targets.add(alive)
        converted = records[alive].get("ConvertedContactId") if records[alive].get("IsConverted") else None
        if converted:
            targets.add(converted)
    return campaigns, targets


# -- the comparison -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Sources:
    """Everything the comparison needs, already fetched."""

    submissions: Sequence[Submission]          # HubSpot, mapped forms, in the window
    ledger: Sequence[Row]                      # ledger rows in the window
    members: Sequence[Row]                     # CampaignMembers found (by Id, then by key)
    records: Mapping[str, Row]                 # Leads/Contacts by Id (those with no member),
                                               # deleted and merged ones too (queryAll)
    open_leads: Sequence[Row]                  # unconverted Leads whose Email is a window email
    created_by_leadsync: frozenset[str]        # Lead Ids the ledger says leadsync created
    watermarks: Mapping[str, int]              # form id -> watermark (ms)
    member_status: Mapping[str, str]           # campaign id -> the configured member status


@dataclass
class Drift:
    items: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in DRIFT + INFO})

    @property
    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.items.items()}

    @property
    def total(self) -> int:
        """Drift that remains (what keeps exit code 3); ``INFO`` lists do not count."""
        return sum(len(self.items[name]) for name in DRIFT)

    @property
    def fixable(self) -> int:
        return sum(len(self.items[name]) for name in FIXABLE)

    def to_json(self) -> dict[str, Any]:
        return {"drift": self.total, "fixable": self.fixable, "counts": self.counts, "items": self.items}


def compare(src: Sources) -> Drift:
    """Three sources in, drift by category out (see the module docstring)."""
    drift = Drift()
    ledger_by_id = {r["conversion_id"]: r for r in src.ledger}
    subs_by_id = {s.conversion_id: s for s in src.submissions}

    for sub in sorted(src.submissions, key=lambda s: (s.submitted_at, s.conversion_id)):
        if sub.conversion_id in ledger_by_id:
            continue
        mark = src.watermarks.get(sub.form_id)
        item = {"conversion_id": sub.conversion_id, "form_id": sub.form_id,
                "submitted_at": iso_ms(sub.submitted_at), "email": submission_email(sub),
                "watermark": iso_ms(mark)}
        drift.items["missed" if mark is not None and sub.submitted_at <= mark else "unsynced"].append(item)

    by_id, by_key = _index_members(src.members)
    for row in src.ledger:
        status = row.get("status")
        base = {"conversion_id": row["conversion_id"], "email": row.get("email"),
                "form_id": row.get("form_id"), "submitted_at": iso_ms(row.get("submitted_at"))}
        if status == "failed":
            drift.items["parked"].append({**base, "error_code": row.get("error_code"),
                                          "error": row.get("error"), "attempts": row.get("attempts")})
            continue
        if status == "pending":
            drift.items["pending"].append({**base, "in_hubspot": row["conversion_id"] in subs_by_id})
            continue
        if status != "applied":
            continue
        located = record_of(row)
        if located is None:
            continue
        sobject, record_id = located
        campaign_id = row.get("campaign_id")
        expected = src.member_status.get(campaign_id or "")
        member = _member_for(row, by_id, by_key)
        where = {**base, "campaign_id": campaign_id, "sobject": sobject, "record_id": record_id,
                 "action": row.get("action")}
        if member is not None:
            moved_to = member.get("LeadId" if sobject == "Lead" else "ContactId")
            if moved_to and moved_to != record_id:   # only a merge re-parents a membership
                drift.items["merged"].append({**where, "merged_into": moved_to, "member_id": member["Id"]})
            _check_status(drift, where, member, expected)
            continue
        alive = survivor(record_id, src.records)
        if alive is None:
            drift.items["missing_record"].append({
                **where, "created_by_leadsync": row.get("action") == "create_lead",
                "why": _gone_why(sobject, record_id, src.records)})
            continue
        record = src.records[alive]
        target_sobject, target = sobject, alive
        if sobject == "Lead" and record.get("IsConverted") and record.get("ConvertedContactId"):
            target_sobject, target = "Contact", record["ConvertedContactId"]
        merged = {} if alive == record_id else {"merged_into": alive}
        if merged and campaign_id:
            on_survivor = by_key.get((campaign_id, alive)) or by_key.get((campaign_id, target))
            if on_survivor is not None:   # the master was a member already: the merge kept its
                drift.items["merged"].append({**where, **merged, "member_id": on_survivor["Id"]})
                _check_status(drift, where, on_survivor, expected)
                continue
        drift.items["missing_membership"].append({
            **where, **merged, "status": expected or "Responded", "target_sobject": target_sobject,
            "target_id": target})

    groups: dict[str, list[Row]] = {}
    for lead in src.open_leads:
        email = (lead.get("Email") or "").strip().lower()
        if email:
            groups.setdefault(email, []).append(lead)
    for email in sorted(groups):
        leads = sorted(groups[email], key=lambda r: (r.get("CreatedDate") or "", r["Id"]))
        if len(leads) > 1:
            drift.items["duplicates"].append({"email": email, "leads": [
                {"id": lead["Id"], "created": lead.get("CreatedDate"),
                 "created_by_leadsync": lead["Id"] in src.created_by_leadsync} for lead in leads]})
    return drift


def _check_status(drift: Drift, where: Mapping[str, Any], member: Row, expected: str | None) -> None:
    """A membership whose Status is not the form's: the sync's to move unless it responded."""
    if expected and (member.get("Status") or "").lower() != expected.lower():
        item = {**where, "member_id": member["Id"], "status": member.get("Status"),
                "expected": expected, "responded": bool(member.get("HasResponded"))}
        drift.items["moved_on" if item["responded"] else "status_differs"].append(item)


def _gone_why(sobject: str, record_id: str, records: Mapping[str, Row]) -> str:
    """Why a record is gone, in an admin's words: what the recycle bin still says of it."""
    row, chain = records.get(record_id), []
    while row is not None and row.get("MasterRecordId") and row["MasterRecordId"] not in chain:
        chain.append(row["MasterRecordId"])
        row = records.get(chain[-1])
    if not chain:
        how = "was deleted" if row is not None else "is gone from Salesforce (not even in the recycle bin)"
        return f"the {sobject} {how}; recreating it is the admin's call"
    fate = "was deleted in turn" if row is not None else "is gone too"
    return (f"the {sobject} was merged into {' then '.join(chain)}, which {fate}; "
            "recreating it is the admin's call")


def _index_members(members: Iterable[Row]) -> tuple[dict[str, Row], dict[tuple[str, str], Row]]:
    by_id: dict[str, Row] = {}
    by_key: dict[tuple[str, str], Row] = {}
    for m in members:
        by_id[m["Id"]] = m
        for key in ("LeadId", "ContactId"):
            if m.get(key):
                by_key[(m["CampaignId"], m[key])] = m
    return by_id, by_key


def _member_for(row: Row, by_id: Mapping[str, Row], by_key: Mapping[tuple[str, str], Row]) -> Row | None:
    if row.get("member_id") and row["member_id"] in by_id:
        return by_id[row["member_id"]]
    located = record_of(row)
    if located is None or not row.get("campaign_id"):
        return None
    return by_key.get((row["campaign_id"], located[1]))


# -- the fix plan -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixPlan:
    apply: tuple[str, ...]                     # conversion ids to run through the sync's path
    memberships: tuple[dict[str, Any], ...]    # missing_membership items to recreate
    statuses: tuple[dict[str, Any], ...]       # status_differs items to move
    relinks: tuple[dict[str, Any], ...] = ()   # merged items: ledger rows to re-point

    @property
    def empty(self) -> bool:
        return not (self.apply or self.memberships or self.statuses or self.relinks)


def campaign_entries_for(configured: Sequence[CampaignEntry], ledger: Iterable[Row]
                         ) -> list[CampaignEntry]:
    """The configured ``[[campaigns]]`` entries, and one unnumbered entry (index -1) for each
    campaign a ledger row names that no entry does any more (the admin re-pointed the form):
    a lost membership is recreated in its row's campaign, so that campaign is checked too."""
    listed = {_campaign_key(e.campaign_id) for e in configured}
    unlisted = sorted({r["campaign_id"] for r in ledger if r.get("campaign_id")
                       and _campaign_key(r["campaign_id"]) not in listed})
    return [*configured, *(CampaignEntry(-1, "", cid, "Responded") for cid in unlisted)]


def broken_campaigns(entries: Sequence[CampaignEntry], org: OrgCampaigns | None
                     ) -> tuple[dict[str, str], dict[str, str]]:
    """(form id -> why, campaign id -> why) for the entries whose campaign cannot take members,
    each message naming the ``[[campaigns]]`` entry to correct (or saying none names it);
    nothing when the campaigns were not read."""
    if org is None:
        return {}, {}
    problems = check_campaigns(entries, org)
    forms = {p.entry.form_id: str(p) for p in problems if p.entry.index >= 0}
    campaigns = {_campaign_key(p.entry.campaign_id): str(p) if p.entry.index >= 0 else
                 f"campaign {p.entry.campaign_id} (no [[campaigns]] entry names it now): {p.message}"
                 for p in problems}
    return forms, campaigns


def _campaign_key(campaign_id: str) -> str:
    return to_id18(campaign_id) if is_campaign_id(campaign_id) else campaign_id


def set_aside_broken(drift: Drift, forms: Mapping[str, str], campaigns: Mapping[str, str]) -> None:
    """Move what ``--fix`` could not do into ``broken_campaign``: the responses of a form whose
    campaign cannot take members (a run would hold them, every time), the memberships in a
    campaign that cannot take them (a create would fail, every time). ``forms`` maps a form id
    and ``campaigns`` a campaign id to the message naming the ``[[campaigns]]`` entry."""
    for name, key, why in (("missed", "form_id", forms), ("pending", "form_id", forms),
                           ("missing_membership", "campaign_id", campaigns),
                           ("status_differs", "campaign_id", campaigns)):
        keep = []
        for item in drift.items[name]:
            value = item.get(key) or ""
            config = why.get(_campaign_key(value) if key == "campaign_id" else value)
            if config is None:
                keep.append(item)
            else:
                drift.items["broken_campaign"].append({**item, "would_be": name, "config": config})
        drift.items[name] = keep
    drift.items["broken_campaign"].sort(key=lambda i: (i.get("submitted_at") or "",
                                                       i.get("conversion_id") or ""))


def plan_fixes(drift: Drift, available: Iterable[str]) -> FixPlan:
    """What ``--fix`` may do: only the safe categories, and only with the submission in hand."""
    have = set(available)
    apply = [i["conversion_id"] for i in drift.items["missed"]]
    apply += [i["conversion_id"] for i in drift.items["pending"] if i["conversion_id"] in have]
    return FixPlan(tuple(c for c in apply if c in have), tuple(drift.items["missing_membership"]),
                   tuple(drift.items["status_differs"]), tuple(drift.items["merged"]))


# -- words --------------------------------------------------------------------------------------


