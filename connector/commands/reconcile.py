"""Reconciliation, the adapter: fetch the three sources in batches, and apply safe fixes.

Reads are what make a reconcile affordable on a busy org: per thousand responses it spends
one HubSpot page per 50 submissions (the API's cap, forms read concurrently) and, on
Salesforce, one composite call holding CampaignMembers by Id and open Leads by email (a few
hundred values a statement, five statements a call); Leads/Contacts by Id are read only for
rows whose membership was not found. Deleting a Lead or Contact deletes its memberships, so a
membership found proves its record exists: a clean month of 1,000 responses is 1 Salesforce
call and about 21 HubSpot calls.

Those Leads/Contacts are read through ``queryAll``, which still sees a record in the recycle
bin: deleted, or merged away with ``MasterRecordId`` naming the record it went into. Masters
not read yet are read the same way (a record merged twice names the first), then the
survivors' memberships in those campaigns: one more call per step, only for merged records.

The first call also reads the configured campaigns (and any a ledger row names that no entry
does any more) with their member statuses: what a fix would put into a campaign that cannot
take members is set aside as ``broken_campaign``, the admin's to fix, not offered to ``--fix``.

Fixes go through the sync's own idempotent paths: missed and pending responses through
``Engine.process`` (which re-resolves each person, so it attaches to what exists instead of
doubling it); a lost membership is created again on the surviving record, where
``DUPLICATE_VALUE`` means someone put it back already; a status goes back the way the sync
would move it. A row whose record was merged away is re-pointed at the survivor and its
membership there. The comparison itself is :func:`connector.core.reconcile.compare`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from connector.config.settings import Settings
from connector.engine.report import RunReport
from connector.engine.run import Engine
from connector.adapters.hubspot.forms import HubSpotClient
from connector.core.keys import keyed
from connector.core.model import Submission
from connector.core.reconcile import (Drift, FixPlan, Sources, broken_campaigns,
                                      campaign_entries_for, compare, member_ids, merge_targets,
                                      parse_since, plan_fixes, record_of, set_aside_broken,
                                      unmatched, unread_masters, window_emails)
from connector.core.timefmt import iso_ms, to_ms
from connector.render.reconcile import describe_plan, render
from connector.adapters.salesforce.campaigns import (campaign_entries, campaign_statements,
                                                     campaigns_from)
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.replies import result_error
from connector.adapters.salesforce.soql import MEMBER_FIELDS, chunk_for_query
from connector.adapters.sqlite.ledger import State

LEAD_FIELDS = ("Id", "Email", "IsConverted", "ConvertedContactId", "IsDeleted", "MasterRecordId")
CONTACT_FIELDS = ("Id", "Email", "IsDeleted", "MasterRecordId")
RECORD_FIELDS = {"Lead": LEAD_FIELDS, "Contact": CONTACT_FIELDS}
MAX_MERGE_STEPS = 5    # masters of masters read before a chain is reported as gone
OPEN_LEAD_FIELDS = ("Id", "Email", "CreatedDate")


@dataclass
class Scan:
    since_ms: int
    drift: Drift
    submissions: dict[str, Submission]
    sf_calls: int
    hs_calls: int

    @property
    def calls(self) -> dict[str, int]:
        return {"salesforce": self.sf_calls, "hubspot": self.hs_calls}


@dataclass
class FixResult:
    run: RunReport | None = None
    memberships: int = 0
    statuses: int = 0
    relinked: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"applied_run": None if self.run is None else {
                    "run_id": self.run.run_id, "status": self.run.status, "counts": dict(self.run.counts)},
                "memberships_recreated": self.memberships, "statuses_set": self.statuses,
                "ledger_rows_relinked": self.relinked, "errors": self.errors or []}


class Reconciler:
    def __init__(self, settings: Settings, *, salesforce: SalesforceClient, hubspot: HubSpotClient,
                 state: State, engine: Callable[[], Engine] | None = None) -> None:
        self.settings = settings
        self.sf = salesforce
        self.hs = hubspot
        self.state = state
        self.engine = engine

    # -- reads ---------------------------------------------------------------------------
    def scan(self, since_ms: int) -> Scan:
        sf0, hs0 = self.sf.calls, self.hs.calls
        subs = self.hs.submissions_many({c.form_id: since_ms for c in self.settings.campaigns})
        # Keyed as a sync keys them, so a submission meets its own ledger row, not the row of
        # another form's submission with the same conversion id (connector.core.keys).
        subs = keyed(subs, self.state.owner_forms(s.conversion_id for s in subs))
        ledger = self.state.rows_since(since_ms)

        # Round 1, one batch of composite calls: memberships by Id, open Leads by email.
        by_id = list(chunk_for_query("SELECT {fields} FROM CampaignMember WHERE Id IN {values}",
                                     MEMBER_FIELDS, member_ids(ledger)))
        by_email = list(chunk_for_query(
            "SELECT {fields} FROM Lead WHERE IsConverted = false AND Email IN {values}",
            OPEN_LEAD_FIELDS, window_emails(subs, ledger)))
        # With them, the campaigns a --fix would write into: one that cannot take members
        # is the admin's to fix, not --fix's (read here, the statements cost no call of
        # their own unless they tip the composite over five).
        entries = campaign_entries_for(campaign_entries(self.settings.campaigns), ledger)
        by_campaign = campaign_statements(entries) if by_id or by_email else []
        results = self.sf.query_many(by_id + by_email + by_campaign)
        members = [row for rows in results[:len(by_id)] for row in rows]
        open_leads = [row for rows in results[len(by_id):len(by_id) + len(by_email)] for row in rows]
        org_campaigns = campaigns_from(entries, results[len(by_id) + len(by_email):]) \
            if by_campaign else None

        # Round 2, only for rows whose membership was not found by Id: by campaign + record
        # (re-added by hand gets a new Id), then whether the record itself still exists.
        lost = unmatched(ledger, members)
        if lost:
            members += self.sf.find_members({r["campaign_id"] for r in lost if r.get("campaign_id")},
                                            {_record_id(r) for r in lost})
            lost = unmatched(ledger, members)
        records: dict[str, dict[str, Any]] = {}
        if lost:
            records = self._records_and_masters({located for r in lost if (located := record_of(r))})
            campaigns, survivors = merge_targets(lost, records)
            if survivors:
                members += self.sf.find_members(campaigns, survivors)
        created = self.state.created_lead_ids(lead["Id"] for lead in open_leads)

        drift = compare(Sources(
            submissions=subs, ledger=ledger, members=members, records=records, open_leads=open_leads,
            created_by_leadsync=frozenset(created), watermarks=self.state.watermarks(),
            # an event's members move through its statuses (core.progression): no one status
            # is expected of them, and --fix must never set one back
            member_status={c.campaign_id: c.member_status for c in self.settings.campaigns
                           if c.statuses is None}))
        set_aside_broken(drift, *broken_campaigns(entries, org_campaigns))
        return Scan(since_ms, drift, {s.conversion_id: s for s in subs},
                    self.sf.calls - sf0, self.hs.calls - hs0)

    def _records_and_masters(self, wanted: set[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        """Leads/Contacts by Id through ``queryAll`` (deleted and merged ones too), then the
        records merged ones went into, until every chain ends or :data:`MAX_MERGE_STEPS`."""
        records: dict[str, dict[str, Any]] = {}
        asked: set[tuple[str, str]] = set()
        for _ in range(1 + MAX_MERGE_STEPS):
            statements: list[str] = []
            for sobject, fields in RECORD_FIELDS.items():
                ids = sorted(rid for kind, rid in wanted if kind == sobject)
                statements += chunk_for_query("SELECT {fields} FROM " + sobject + " WHERE Id IN {values}",
                                              fields, ids)
            if not statements:
                break
            for rows in self.sf.query_many(statements, include_deleted=True):
                records.update((row["Id"], row) for row in rows)
            asked |= wanted
            wanted = set(unread_masters(records)) - asked
        return records

    # -- writes --------------------------------------------------------------------------
    def fix(self, scan: Scan, plan: FixPlan) -> FixResult:
        """Apply ``plan`` (see :func:`connector.core.reconcile.plan_fixes`); the state must be locked."""
        self.state.lock()
        result = FixResult()
        if plan.apply:
            if self.engine is None:
                raise RuntimeError("Reconciler.fix needs an engine factory to apply responses")
            result.run = self.engine().process([scan.submissions[cid] for cid in plan.apply])
            if result.run.error:
                result.errors.append(f"applying missed responses: {result.run.error}")
        if plan.memberships:
            self._recreate_memberships(list(plan.memberships), result)
        for item in plan.relinks:
            self.state.relink(item["conversion_id"], item["sobject"], item["merged_into"], item["member_id"])
            result.relinked += 1
        if plan.statuses:
            replies = self.sf.update("CampaignMember", [{"id": s["member_id"], "Status": s["expected"]}
                                                        for s in plan.statuses])
            for item, reply in zip(plan.statuses, replies):
                if reply.get("success"):
                    result.statuses += 1
                else:
                    result.errors.append(f"status of {item['member_id']}: {_error(reply)}")
        return result

    def _recreate_memberships(self, items: list[dict[str, Any]], result: FixResult) -> None:
        records = [{"CampaignId": m["campaign_id"],
                    ("LeadId" if m["target_sobject"] == "Lead" else "ContactId"): m["target_id"],
                    "Status": m["status"]} for m in items]
        for item, reply in zip(items, self.sf.create_members(records)):
            if reply.get("success") and reply.get("id"):   # created, or put back already
                if item.get("merged_into"):
                    self.state.relink(item["conversion_id"], item["sobject"], item["merged_into"], reply["id"])
                else:
                    self.state.set_member_id(item["conversion_id"], reply["id"])
                result.memberships += 1
            else:
                result.errors.append(f"membership for {item['conversion_id']}: {_error(reply)}")


def _record_id(row: Mapping[str, Any]) -> str:
    located = record_of(row)
    assert located is not None  # unmatched() only returns rows that name a record
    return located[1]


def _error(reply: dict[str, Any]) -> str:
    code, message = result_error(reply)
    return f"{code}: {message}"


def open_session(settings: Settings, *, fix: bool) -> tuple[Reconciler, State]:
    """Build a Reconciler on the configured org; a fixing one holds the state lock first."""
    from connector.engine.wiring import build_engine, clients, open_state

    state = open_state(settings, read_only=not fix)
    try:
        if fix:   # a daemon's run in progress is waited for (commands/parked.py)
            from connector.commands.parked import LOCK_WAIT_SECONDS

            state.lock(wait=LOCK_WAIT_SECONDS)
        vendors = clients(settings)

        def engine() -> Engine:
            return build_engine(settings, state=state, vendors=vendors)

        return Reconciler(settings, salesforce=vendors.salesforce, hubspot=vendors.hubspot,
                          state=state, engine=engine), state
    except BaseException:
        state.close()
        raise



def reconcile(settings: Settings, *, since: str | None, fix: bool, yes: bool,
              confirm: Callable[[str], bool] | None, echo: Callable[[str], None], as_json: bool,
              now: datetime | None = None) -> int:
    """The ``leadsync reconcile`` flow; returns the exit code (0 clean, 3 drift remains).

    ``confirm`` is None when there is no terminal to ask: then ``--fix`` without ``--yes``
    previews and changes nothing, because an unattended job must not repair by surprise.
    """
    window = parse_since(since, now=now or datetime.now(timezone.utc))
    reconciler, state = open_session(settings, fix=fix)
    try:
        first = reconciler.scan(to_ms(window))
        out: dict[str, Any] = {"since": iso_ms(first.since_ms), "responses": len(first.submissions),
                               "calls": first.calls, **first.drift.to_json()}
        lines = [render(first.drift, since=out["since"] or "", responses=len(first.submissions),
                        calls=first.calls)]
        final = first
        if fix:
            plan = plan_fixes(first.drift, first.submissions)
            preview = describe_plan(plan)
            out["fix"] = {"planned": len(preview), "applied": False}
            if plan.empty:
                lines.append("Nothing safe to fix; what remains is the admin's call.")
            else:
                lines += ["Fix plan:"] + preview
                go = yes
                if not yes and not as_json:
                    echo("\n".join(lines))
                    lines = []
                if not yes:
                    if confirm is None:
                        lines.append("No terminal to confirm the fix: nothing changed (use --yes).")
                        out["fix"]["reason"] = "no terminal to confirm; use --yes"
                    else:
                        go = confirm(f"Apply these {len(preview)} change(s)?")
                        if not go:
                            lines.append("Nothing changed.")
                if go:
                    result = reconciler.fix(first, plan)
                    final = reconciler.scan(first.since_ms)
                    out["fix"].update({"applied": True, **result.to_json()})
                    out["after"] = {"calls": final.calls, **final.drift.to_json()}
                    lines.append(f"Fixed: {len(plan.apply)} response(s) through the sync"
                                 + (f" ({result.run.status})" if result.run else "")
                                 + f", {result.memberships} membership(s) recreated, "
                                   f"{result.statuses} status(es) set"
                                 + (f", {result.relinked} ledger row(s) pointed at a merge survivor"
                                    if result.relinked else "") + ".")
                    lines += [f"  error: {e}" for e in result.errors or []]
                    lines.append("After the fix:")
                    lines.append(render(final.drift, since=out["since"] or "",
                                        responses=len(final.submissions), calls=final.calls))
        code = 0 if final.drift.total == 0 else 3
        out["exit_code"] = code
        if as_json:
            echo(json.dumps(out, indent=2, default=str))
        elif lines:
            echo("\n".join(lines))
        return code
    finally:
        state.close()
