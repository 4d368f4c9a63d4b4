"""``leadsync funnel``: from the ledger to won deals, per campaign (form, owner or method).

The ledger says which responses there were and which records leadsync made or attached; the
org says what happened next. The org is read in two rounds of composite queries, each
chunked by :func:`chunk_for_query` (Ids per statement bounded by the URL limit, five
statements per call), so the call count grows with the window's records / ~500, never one
call per response:

1. Leads (Status, IsConverted, ConvertedDate, ConvertedAccountId, ConvertedOpportunityId),
   follow-up Tasks (CreatedDate, IsClosed, LastModifiedDate) and Contacts (AccountId), by Id;
2. Opportunities by Id (the converted ones) and by AccountId created since the window
   opened, the Accounts' names, and the groups' names (Campaign or User).

Nothing is written; the state is opened read-only. The counting rules are in
:mod:`connector.core.funnel`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from connector.adapters.salesforce.soql import chunk_for_query
from connector.config.settings import Settings
from connector.core.funnel import (BY_CHOICES, Funnel, LeadFacts, Opportunity, Org, Response,
                                   StageRule, TaskFacts, account_of,
                                   build_funnel)
from connector.core.ids import to_id18
from connector.core.reconcile import parse_since
from connector.core.timefmt import iso_ms, parse_ms, to_ms
from connector.engine.wiring import clients, open_state
from connector.errors import ConfigError
from connector.ports import Row

LEAD_FIELDS = ("Id", "Status", "IsConverted", "ConvertedDate", "ConvertedAccountId",
               "ConvertedOpportunityId", "LastModifiedDate")
TASK_FIELDS = ("Id", "CreatedDate", "IsClosed", "LastModifiedDate")
CONTACT_FIELDS = ("Id", "AccountId")
OPPORTUNITY_FIELDS = ("Id", "AccountId", "CreatedDate", "Amount", "IsWon", "CloseDate")


def ledger_responses(rows: Iterable[Mapping[str, Any]], methods: Mapping[str, str]
                     ) -> list[Response]:
    """Ledger rows as the funnel reads them; ``methods`` is run id -> the run's method."""
    return [Response(
        conversion_id=str(r["conversion_id"]), form_id=str(r.get("form_id") or ""),
        submitted_at=int(r.get("submitted_at") or 0), email=str(r.get("email") or ""),
        campaign_id=str(r.get("campaign_id") or ""), action=str(r.get("action") or ""),
        lead_id=_id(r.get("lead_id")), contact_id=_id(r.get("contact_id")),
        owner_id=_id(r.get("owner_id")), account_id=_id(r.get("account_id")),
        task_id=_id(r.get("task_id")), method=methods.get(str(r.get("run_id") or "")))
        for r in rows]


def _id(value: Any) -> str | None:
    return to_id18(str(value)) if value else None


def _ms(value: Any) -> int | None:
    """A Salesforce datetime or date (midnight UTC) in ms."""
    if not value:
        return None
    text = str(value)
    return parse_ms(text if "T" in text else text + "T00:00:00+00:00")


class _Reader:
    """Chunked reads of the org through one client, collected per round."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm
        self.asks: list[tuple[str, str]] = []

    def by_ids(self, kind: str, sobject: str, fields: Sequence[str], *, field_name: str,
               ids: Iterable[str], extra: str = "") -> None:
        values = sorted({i for i in ids if i})
        if values:
            template = f"SELECT {{fields}} FROM {sobject} WHERE {extra}{field_name} IN {{values}}"
            self.asks += [(kind, s) for s in chunk_for_query(template, fields, values)]

    def run(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        if self.asks:
            for (kind, _), rows in zip(self.asks, self.crm.query_many([s for _, s in self.asks])):
                out.setdefault(kind, []).extend(rows)
        self.asks = []
        return out


def read_org(crm: Any, responses: Sequence[Response], since_ms: int, by: str
             ) -> tuple[Org, dict[str, str]]:
    """The org's side of the funnel in two rounds, and the groups' names."""
    first = _Reader(crm)
    first.by_ids("lead", "Lead", LEAD_FIELDS, field_name="Id",
                 ids=(r.lead_id or "" for r in responses))
    first.by_ids("task", "Task", TASK_FIELDS, field_name="Id",
                 ids=(r.task_id or "" for r in responses))
    first.by_ids("contact", "Contact", CONTACT_FIELDS, field_name="Id",
                 ids=(r.contact_id or "" for r in responses))
    got = first.run()
    leads = {to_id18(str(x["Id"])) or "": LeadFacts(
        id=str(x["Id"]), status=x.get("Status"), is_converted=bool(x.get("IsConverted")),
        converted_ms=_ms(x.get("ConvertedDate")), account_id=_id(x.get("ConvertedAccountId")),
        opportunity_id=_id(x.get("ConvertedOpportunityId")),
        modified_ms=_ms(x.get("LastModifiedDate"))) for x in got.get("lead", [])}
    tasks = {to_id18(str(x["Id"])) or "": TaskFacts(
        id=str(x["Id"]), created_ms=_ms(x.get("CreatedDate")), closed=bool(x.get("IsClosed")),
        modified_ms=_ms(x.get("LastModifiedDate"))) for x in got.get("task", [])}
    contacts = {to_id18(str(x["Id"])) or "": _id(x.get("AccountId")) or ""
                for x in got.get("contact", []) if x.get("AccountId")}
    half = Org(leads=leads, tasks=tasks, contact_accounts=contacts)
    accounts = {a for a in (account_of(r, half) for r in responses) if a}
    second = _Reader(crm)
    second.by_ids("opportunity", "Opportunity", OPPORTUNITY_FIELDS, field_name="Id",
                  ids=(lead.opportunity_id or "" for lead in leads.values()))
    since = datetime.fromtimestamp(since_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    second.by_ids("opportunity", "Opportunity", OPPORTUNITY_FIELDS, field_name="AccountId",
                  ids=accounts, extra=f"CreatedDate >= {since} AND ")
    second.by_ids("account", "Account", ("Id", "Name"), field_name="Id", ids=accounts)
    if by == "campaign":
        second.by_ids("name", "Campaign", ("Id", "Name"), field_name="Id",
                      ids=(r.campaign_id for r in responses if _is_sf_id(r.campaign_id)))
    elif by == "owner":
        second.by_ids("user", "User", ("Id", "FirstName", "LastName", "Username"),
                      field_name="Id", ids=(r.owner_id or "" for r in responses
                                            if (r.owner_id or "").startswith("005")))
    more = second.run()
    opps = {to_id18(str(x["Id"])) or "": Opportunity(
        id=to_id18(str(x["Id"])) or "", account_id=_id(x.get("AccountId")),
        created_ms=_ms(x.get("CreatedDate")) or 0, amount=float(x.get("Amount") or 0),
        is_won=bool(x.get("IsWon")), close_ms=_ms(x.get("CloseDate")))
        for x in more.get("opportunity", [])}
    names = {to_id18(str(x["Id"])) or "": str(x.get("Name") or x["Id"])
             for x in more.get("name", [])}
    for x in more.get("user", []):
        full = " ".join(str(x.get(k) or "") for k in ("FirstName", "LastName")).strip()
        names[to_id18(str(x["Id"])) or ""] = full or str(x.get("Username") or x["Id"])
    for r in responses:          # the ledger may keep a 15-character Id: name it too
        if r.campaign_id and to_id18(r.campaign_id) in names:
            names[r.campaign_id] = names[to_id18(r.campaign_id) or ""]
    account_names = {to_id18(str(x["Id"])) or "": str(x.get("Name") or x["Id"])
                     for x in more.get("account", [])}
    return Org(leads, tasks, contacts, opps, account_names), names


def _is_sf_id(value: str) -> bool:
    return len(value) in (15, 18) and value.isalnum()


def stage_rule(settings: Settings) -> StageRule:
    stages = settings.routing.stages
    if stages is None:
        return StageRule()
    return StageRule(stages.sales_ready, frozenset(stages.sales_ready_forms))


def run_funnel(settings: Settings, *, since: str | None, by: str = "campaign",
               now: datetime | None = None) -> tuple[Funnel, int]:
    """The funnel since ``since`` (default: 30 days), and the Salesforce calls it took."""
    if by not in BY_CHOICES:
        raise ConfigError(f"one of {', '.join(BY_CHOICES)}", key="--by")
    start_ms = to_ms(parse_since(since, now=now or datetime.now(timezone.utc)))
    state = open_state(settings, read_only=True)
    try:
        rows = state.rows_since(start_ms)
        methods = ({str(r["id"]): str(r.get("method") or "") for r in state.runs(limit=1 << 30)}
                   if by == "method" else {})
    finally:
        state.close()
    responses = ledger_responses(rows, methods)
    crm = clients(settings).salesforce
    org, names = read_org(crm, responses, start_ms, by)
    if by == "form":
        names = {c.form_id: c.form_id for c in settings.campaigns}
    funnel = build_funnel(responses, org, by=by, since=iso_ms(start_ms) or "",
                          rule=stage_rule(settings), names=names)
    return funnel, crm.calls
