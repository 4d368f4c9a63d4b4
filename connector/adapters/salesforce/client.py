"""Salesforce adapter: batched lookups and sObject Collections writes, nothing more.

A thin shell over simple-salesforce with an injected ``requests`` session (the same code
runs against a real org, the sandbox and ``responses``). It knows the wire (SOQL built with
``format_soql``, 200-record collections, the ``Sforce-Auto-Assign`` header, the usage
header) and none of the method rules. Building and chunking the SOQL it sends lives in
``soql.py``, and what a reply or an error means in ``replies.py``; this module holds the
session, the calls (retries, renewal, usage) and the shape of each read and write.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable, Sequence, TypeVar
from urllib.parse import quote_plus

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceError

from connector.adapters.salesforce import login
from connector.adapters.salesforce.replies import (api_error, collection_items, failed_item,
                                                   result_error, sf_exception)
from connector.core.ids import API_NAME, to_id18   # a field name spliced into SOQL is checked against it
from connector.adapters.salesforce.soql import (ACCOUNT_FIELDS, CONTACT_LOOKUP_FIELDS,
                                                CONTACT_PREFIX, LEAD_LOOKUP_FIELDS, LEAD_PREFIX,
                                                MEMBER_FIELDS, chunk_for_query, chunks_by_size,
                                                encode_soql, merged_fields, or_chunks)
from connector.adapters.transport import (RetryPolicy, Verdict, classify, error_code, session_for,
                                         with_retries)
from connector.config.settings import SalesforceSettings
from connector.errors import AmbiguousWrite, TransientError

T = TypeVar("T")
COLLECTION_LIMIT = 200          # records per sObject Collections call (Salesforce's cap)
COMPOSITE_HEAVY_LIMIT = 5       # queries or collections per composite call (REST guide)


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, *, session: requests.Session | None = None,
                 retry: RetryPolicy = RetryPolicy(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.session = session or session_for(settings.instance_url)
        self.retry = retry
        self.calls = 0
        self.usage: Usage | None = None   # from the newest reply's Sforce-Limit-Info
        self._sf: Salesforce | None = None
        self.clock = clock                # monotonic seconds: the session's age (renewal)
        self._logged_in_at = 0.0

    # -- connection ----------------------------------------------------------------------
    @property
    def sf(self) -> Salesforce:
        self._renew_if_old()
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    def _connect(self) -> Salesforce:
        # Replies as plain dicts, built by the json decoder itself (no hook): with the
        # library's default hook, OrderedDict, each JSON object is built as a list of pairs
        # and then copied (3.2 ms against 2.0 ms for a 1,000-record composite reply), and
        # even ``dict`` as the hook costs a third more than none on a reply of 1,000 results
        # (0.47 against 0.31 ms). Nothing here relies on the order of keys.
        common: dict[str, Any] = {"session": self.session, "version": self.settings.api_version,
                                  "object_pairs_hook": None}
        if login.mode_of(self.settings) != "access_token":
            self.calls += 1
        sf = login.connect(self.settings, self.session, common)
        self._logged_in_at = self.clock()
        return sf

    @property
    def can_renew(self) -> bool:
        """A login leadsync can repeat by itself (all but a given access token)."""
        return login.mode_of(self.settings) in login.RENEWABLE

    def _renew_if_old(self) -> None:
        """Log in again once a renewable session is :data:`login.RENEW_AFTER` old: Salesforce
        says nothing of a session's lifetime, and an org may end one after 15 minutes."""
        if self._sf is not None and self.can_renew and \
                self.clock() - self._logged_in_at >= login.RENEW_AFTER:
            self._sf = None

    # -- calls ---------------------------------------------------------------------------
    def _call(self, name: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        renewed = False

        def attempt() -> T:
            nonlocal renewed
            self.calls += 1
            try:
                result = fn(self.sf)
            except SalesforceError as exc:
                verdict = classify(exc.status, exc.content)
                if verdict is Verdict.RETRY:
                    code = error_code(exc.content)
                    raise TransientError(f"Salesforce {name}: {exc.status} {code or ''}".strip(),
                                         status=exc.status) from None
                if verdict is Verdict.EXPIRED and self.can_renew and not renewed:
                    renewed = True
                    self._sf = None
                    raise TransientError("Salesforce session expired; logging in again",
                                         retry_after=0) from None
                raise api_error(name, exc.status, exc.content) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not idempotent:
                    raise AmbiguousWrite(f"Salesforce {name}: connection lost after the write was sent",
                                         service="salesforce") from None
                raise TransientError(f"Salesforce {name}: {type(exc).__name__}") from None
            self._note_usage()
            return result

        return with_retries(attempt, self.retry)

    def _note_usage(self) -> None:
        usage = (self._sf.api_usage or {}).get("api-usage") if self._sf else None
        if usage is not None:
            self.usage = Usage(int(usage.used), int(usage.total))

    def _write_headers(self, assign: bool) -> dict[str, str]:
        """Always explicit: Salesforce runs the org's assignment rules on creates *and
        updates* without it, so filling a blank could hand a rep's Lead to someone else.
        Only creates (and upserts) may ask for the rules, when configured.

        The duplicate rule header too: ``duplicate_rules = "allow"`` saves a record the
        org's duplicate rules would block (``allowSave=true``); ``"respect"`` lets them
        refuse it (``DUPLICATES_DETECTED``, parked with Salesforce's reason). Sent either
        way, so what happens is written in the request, not left to the org's default."""
        allow = "true" if self.settings.duplicate_rules == "allow" else "false"
        return {"Sforce-Auto-Assign": "TRUE" if assign and self.settings.auto_assign else "FALSE",
                "Sforce-Duplicate-Rule-Header": f"allowSave={allow}"}

    # -- composite -----------------------------------------------------------------------
    def _composite(self, name: str, subs: Sequence[Sub], *, write: bool, idempotent: bool,
                   assign: bool = False) -> list[SubReply]:
        """Send ``subs`` in as few ``POST /composite`` calls as Salesforce allows.

        One composite call counts once toward the org's daily allowance whatever it carries,
        so this is where the call floor is reached. Salesforce caps a composite at 25
        subrequests, at most 5 of them queries or sObject Collections; every subrequest we
        send is one of those, so groups of 5. Replies come back in request order.
        """
        replies: list[SubReply] = []
        for start in range(0, len(subs), COMPOSITE_HEAVY_LIMIT):
            group = subs[start:start + COMPOSITE_HEAVY_LIMIT]
            send = partial(self._send_composite, group=group, write=write, assign=assign)
            replies += self._call(name, send, idempotent=idempotent)
        return replies

    def _send_composite(self, sf: Salesforce, group: Sequence[Sub], write: bool, assign: bool
                        ) -> list[SubReply]:
        base = f"/services/data/v{sf.sf_version}/"
        headers = self._write_headers(assign) if write else {}
        body = {"allOrNone": False, "compositeRequest": [
            {"method": sub.method, "url": base + sub.path, "referenceId": f"r{i}",
             **({"body": sub.body} if sub.body is not None else {}),
             **({"httpHeaders": headers} if headers else {})}
            for i, sub in enumerate(group)]}
        reply = sf.restful("composite", method="POST", json=body, headers=headers) or {}
        by_ref = {item.get("referenceId"): item for item in reply.get("compositeResponse") or []}
        out: list[SubReply] = []
        for i, sub in enumerate(group):
            item = by_ref.get(f"r{i}")
            if item is None:  # a reply without our subrequest: the request was not what we sent
                raise sf_exception(base + "composite", 500,
                                   [{"errorCode": "UNKNOWN_EXCEPTION",
                                     "message": f"composite reply lacks subrequest r{i}"}])
            out.append(SubReply(int(item.get("httpStatusCode") or 0), item.get("body")))
        if not write:
            # A failed lookup raises exactly what the same query sent alone raises, so the
            # caller's mapping (retry, budget, fatal) is unchanged; reads are safe to repeat.
            for sub, rep in zip(group, out):
                if rep.status >= 300:
                    raise sf_exception(base + sub.path, rep.status, rep.body)
        return out

    # -- reads ---------------------------------------------------------------------------
    def reset_usage(self) -> None:
        """Forget the last usage reading: one from an earlier run says nothing about now."""
        self.usage = None

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a query, following ``nextRecordsUrl`` page by page (each a call)."""
        page = self._call("query", lambda sf: sf.query(soql))
        return self._rest_of_pages(page)

    def query_all_rows(self, soql: str) -> list[dict[str, Any]]:
        """Like :meth:`query_all`, through the ``queryAll`` resource: deleted and merged rows
        too (``IsDeleted``, ``MasterRecordId``), as long as they sit in the recycle bin."""
        page = self._call("query", lambda sf: sf.query(soql, include_deleted=True))
        return self._rest_of_pages(page)

    def _rest_of_pages(self, page: dict[str, Any]) -> list[dict[str, Any]]:
        rows = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            url = page["nextRecordsUrl"]
            page = self._call("query", lambda sf: sf.query_more(url, identifier_is_url=True))
            rows.extend(page.get("records", []))
        return rows

    def query_many(self, statements: Sequence[str], *, include_deleted: bool = False
                   ) -> list[list[dict[str, Any]]]:
        """Rows of each statement, in order; up to 5 statements per API call (composite).

        Each statement must keep its encoded URL under :data:`MAX_SUBREQUEST_URL` (the
        chunkers below see to that). A result longer than one page (2,000 rows) is followed
        with ``query_more`` calls, as a lone query would be. ``include_deleted`` sends them
        to ``queryAll`` (a composite subrequest may), as :meth:`query_all_rows` does.
        """
        if not statements:
            return []
        resource = "queryAll/?q=" if include_deleted else "query/?q="
        subs = [Sub("GET", resource + encode_soql(s)) for s in statements]
        replies = self._composite("query", subs, write=False, idempotent=True)
        return [self._rest_of_pages(r.body or {}) for r in replies]

    def find_people(self, emails: Iterable[str], *, external_id_field: str | None = None,
                    lead_fields: Sequence[str] = (), contact_fields: Sequence[str] = ()
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Leads (converted or not) and Contacts whose Email is one of ``emails``.

        Both objects' lookups travel in the same composite call(s): about 400 people per
        query, so one call covers a 1,000-response batch in the common case. ``lead_fields``
        and ``contact_fields`` add the fields whose current values the mapping's rules and
        routing compare against (so filling blanks costs no extra read).
        """
        emails = sorted(set(emails))
        if not emails:
            return [], []
        lead_select = merged_fields(LEAD_LOOKUP_FIELDS, (external_id_field,) if external_id_field else (),
                              lead_fields)
        contact_select = merged_fields(CONTACT_LOOKUP_FIELDS, contact_fields)
        lead_q = list(chunk_for_query("SELECT {fields} FROM Lead WHERE Email IN {values}",
                                      lead_select, emails))
        contact_q = list(chunk_for_query("SELECT {fields} FROM Contact WHERE Email IN {values}",
                                         contact_select, emails))
        results = self.query_many(lead_q + contact_q)
        leads = [row for rows in results[:len(lead_q)] for row in rows]
        contacts = [row for rows in results[len(lead_q):] for row in rows]
        return leads, contacts

    def find_members(self, campaign_ids: Iterable[str], record_ids: Iterable[str]) -> list[dict[str, Any]]:
        """CampaignMembers of these campaigns on these Leads/Contacts, scoped to the campaigns.

        Ids are split by key prefix (Lead ``00Q``, Contact ``003``) so each id is written once
        per statement rather than in both halves of an ``OR``: twice the ids per query.
        """
        campaigns = sorted(set(campaign_ids))
        records = sorted(set(record_ids))
        if not campaigns or not records:
            return []
        prefix = format_soql("SELECT {:literal} FROM CampaignMember WHERE CampaignId IN {} AND ",
                             ", ".join(MEMBER_FIELDS), campaigns)
        leads = [r for r in records if r.startswith(LEAD_PREFIX)]
        contacts = [r for r in records if r.startswith(CONTACT_PREFIX)]
        others = [r for r in records if not r.startswith((LEAD_PREFIX, CONTACT_PREFIX))]
        statements = [*chunks_by_size(leads, prefix, "LeadId IN {ids}"),
                      *chunks_by_size(contacts, prefix, "ContactId IN {ids}"),
                      *chunks_by_size(others, prefix, "(LeadId IN {ids} OR ContactId IN {ids})")]
        rows: list[dict[str, Any]] = []
        seen: set[str | None] = set()
        for part in self.query_many(statements):
            for row in part:
                if row.get("Id") not in seen:
                    seen.add(row.get("Id"))
                    rows.append(row)
        return rows

    def find_accounts(self, domains: Iterable[str], name_prefixes: Iterable[str] = ()
                      ) -> list[dict[str, Any]]:
        """Accounts whose Website contains one of ``domains`` or whose Name starts with one
        of ``name_prefixes``: candidates only (``LIKE`` also finds "notacme.com"); the pure
        room ``accounts`` decides what really matches. One composite call for a batch.
        """
        likes = [format_soql("Website LIKE '%{:like}%'", d) for d in sorted(set(domains))]
        likes += [format_soql("Name LIKE '{:like}%'", p) for p in sorted(set(name_prefixes))]
        if not likes:
            return []
        prefix = format_soql("SELECT {:literal} FROM Account WHERE ", ", ".join(ACCOUNT_FIELDS))
        rows: dict[str, dict[str, Any]] = {}
        for part in self.query_many(list(or_chunks(prefix, likes))):
            for row in part:
                rows.setdefault(row["Id"], row)
        return list(rows.values())

    def find_owners(self, usernames: Iterable[str], queues: Iterable[str],
                    user_ids: Iterable[str] = ()) -> dict[str, str]:
        """Ids of active Users by Username and of Queues by DeveloperName, as
        ``{"user:<name>": id, "queue:<name>": id}``, and ``{"id:<Id>": Id}`` for each of
        ``user_ids`` that is an active User; one call for all."""
        users, queue_names = sorted(set(usernames)), sorted(set(queues))
        statements, kinds = [], []
        ids = sorted(set(user_ids))
        if ids:
            statements.append(format_soql("SELECT Id FROM User WHERE IsActive = true AND Id IN {}", ids))
            kinds.append(("id", "Id"))
        if users:
            statements.append(format_soql("SELECT Id, Username FROM User WHERE IsActive = true "
                                          "AND Username IN {}", users))
            kinds.append(("user", "Username"))
        if queue_names:
            statements.append(format_soql("SELECT Id, DeveloperName FROM Group WHERE Type = 'Queue' "
                                          "AND DeveloperName IN {}", queue_names))
            kinds.append(("queue", "DeveloperName"))
        found: dict[str, str] = {}
        for (kind, key), rows in zip(kinds, self.query_many(statements)):
            if kind == "id":
                found.update({f"id:{to_id18(row['Id'])}": to_id18(row["Id"]) for row in rows})
                continue
            wanted = {n.lower(): n for n in (users if kind == "user" else queue_names)}
            for row in rows:
                name = wanted.get(str(row.get(key) or "").lower())
                if name is not None:
                    found[f"{kind}:{name}"] = row["Id"]
        return found

    def find_tasks(self, field_name: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Tasks whose ``field_name`` is one of ``values`` (``Id`` and that field): the
        follow-up Tasks replayed responses may already have. One composite call for a batch.
        """
        values = sorted(set(values))
        if not values:
            return []
        if not API_NAME.fullmatch(field_name):
            raise ValueError(f"not a field's API name: {field_name!r}")
        template = f"SELECT {{fields}} FROM Task WHERE {field_name} IN {{values}}"
        statements = list(chunk_for_query(template, ("Id", field_name), values))
        return [row for rows in self.query_many(statements) for row in rows]

    def describe(self, sobjects: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The describe of each sObject (fields, lengths, picklists), in one composite call.

        ``mappings check`` validates a mapping against it, and the sync reads the org's
        lengths and picklist values from it (cached in the state, so a scheduled run does
        not pay for it every cycle).
        """
        names = list(dict.fromkeys(sobjects))
        if not names:
            return {}
        subs = [Sub("GET", f"sobjects/{quote_plus(name)}/describe") for name in names]
        replies = self._composite("describe", subs, write=False, idempotent=True)
        return {name: reply.body or {} for name, reply in zip(names, replies)}

    # -- writes --------------------------------------------------------------------------
    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create through sObject Collections, 200 a chunk, each record failing alone."""
        return self._collections("POST", "composite/sobjects", sobject, records, idempotent=False,
                                 assign=True)

    def create_members(self, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create CampaignMembers; one that exists already is a success, not an error.

        Salesforce allows one member per (campaign, record) and answers ``DUPLICATE_VALUE``
        otherwise: a crashed run, a person or another tool put it there. Those come back as
        ``{"success": True, "id": <the existing member>, "existed": True}``, looked up in one
        read scoped to their campaigns (never another campaign's membership).
        """
        return self.mark_existing_members(records, self.create("CampaignMember", records))

    def mark_existing_members(self, records: Sequence[dict[str, Any]],
                              results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``results`` of creating ``records`` with each ``DUPLICATE_VALUE`` turned into the
        existing member (``existed``), whichever API wrote them (collections or Bulk)."""
        taken = [i for i, r in enumerate(results)
                 if not r.get("success") and result_error(r)[0] == "DUPLICATE_VALUE"]
        if taken:
            wanted = [records[i] for i in taken]
            people: set[Any] = {r.get("LeadId") or r.get("ContactId") for r in wanted}
            rows = self.find_members({r["CampaignId"] for r in wanted}, people)
            found = {(row["CampaignId"], row[key]): row["Id"]
                     for row in rows for key in ("LeadId", "ContactId") if row.get(key)}
            for i, record in zip(taken, wanted):
                member_id = found.get((record["CampaignId"], record.get("LeadId") or record.get("ContactId")))
                results[i] = {"id": member_id, "success": True, "errors": [], "existed": True}
        return results

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]
               ) -> list[dict[str, Any]]:
        """Upsert by an external id: repeating it cannot create a second record."""
        return self._collections("PATCH", f"composite/sobjects/{sobject}/{external_id_field}",
                                 sobject, records, idempotent=True, assign=True)

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._collections("PATCH", "composite/sobjects", sobject, records, idempotent=True)

    def update_mixed(self, records: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Update records of several sObjects (members' statuses, Leads' and Contacts' filled
        blanks) in the same collections calls; one result per record, in the given order.

        Salesforce processes a mixed list in chunks, a new chunk each time the type changes
        along the array, and refuses a request of more than 10 chunks as a whole ("Cannot
        have more than 10 chunks in a single operation", REST guide, sObject Collections).
        A batch's fills interleave Leads and Contacts, so the records are sent grouped by
        type (stable within a type) and the results put back in the caller's order.
        """
        order = sorted(range(len(records)), key=lambda i: (records[i][0].lower(), i))
        typed = [{"attributes": {"type": records[i][0]}, **records[i][1]} for i in order]
        sent = self._typed_collections("PATCH", "composite/sobjects", typed, idempotent=True)
        results: list[dict[str, Any]] = [{} for _ in records]
        for i, result in zip(order, sent):
            results[i] = result
        return results

    def _collections(self, method: str, path: str, sobject: str, records: Sequence[dict[str, Any]],
                     *, idempotent: bool, assign: bool = False) -> list[dict[str, Any]]:
        typed = [{"attributes": {"type": sobject}, **r} for r in records]
        return self._typed_collections(method, path, typed, idempotent=idempotent, assign=assign)

    def _typed_collections(self, method: str, path: str, records: Sequence[dict[str, Any]],
                           *, idempotent: bool, assign: bool = False) -> list[dict[str, Any]]:
        """One result per record, in order: one collections call for up to 200 records, else
        composite calls carrying 5 collections (1,000 records) each.

        A composite reply is definite for each subrequest: one that failed was rolled back
        by Salesforce and applied nothing, so a retryable failure (5xx, row lock) is sent
        again alone, with the usual retries, even for a create. A failure that is the
        request's fault fails that chunk's records in the collections item shape, unless
        every chunk failed alike: then it is raised, as the lone call would have raised it.
        Only a composite whose own reply is lost is ambiguous (``AmbiguousWrite``).
        """
        chunks = [list(records[i:i + COLLECTION_LIMIT]) for i in range(0, len(records), COLLECTION_LIMIT)]
        if len(chunks) <= 1:
            return [item for chunk in chunks
                    for item in self._collection_call(method, path, chunk, idempotent=idempotent,
                                                      assign=assign)]
        subs = [Sub(method, path, {"allOrNone": False, "records": chunk}) for chunk in chunks]
        replies = self._composite(f"{method} {path}", subs, write=True, idempotent=idempotent,
                                  assign=assign)
        failed = [rep for rep in replies if rep.status >= 300]
        if failed and len(failed) == len(replies):
            first = failed[0]
            if classify(first.status, first.body) is not Verdict.RETRY:
                raise api_error(f"{method} {path}", first.status, first.body)
        results: list[dict[str, Any]] = []
        for chunk, rep in zip(chunks, replies):
            if rep.status < 300:
                results.extend(collection_items(rep.body, len(chunk)))
                continue
            verdict = classify(rep.status, rep.body)
            if verdict is Verdict.RETRY:
                results.extend(self._collection_call(method, path, chunk, idempotent=idempotent,
                                                     assign=assign))
            elif verdict in (Verdict.LIMIT, Verdict.EXPIRED):
                raise api_error(f"{method} {path}", rep.status, rep.body)
            else:
                results.extend([failed_item(rep.status, rep.body)] * len(chunk))
        return results

    def _collection_call(self, method: str, path: str, chunk: list[dict[str, Any]], *,
                         idempotent: bool, assign: bool = False) -> list[dict[str, Any]]:
        body = {"allOrNone": False, "records": chunk}
        reply = self._call(f"{method} {path}", lambda sf: sf.restful(
            path, method=method, json=body, headers=self._write_headers(assign)), idempotent=idempotent)
        return collection_items(reply, len(chunk))


@dataclass(frozen=True)
class Sub:
    """One composite subrequest: a path under ``/services/data/vXX.X/`` and a JSON body."""

    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class SubReply:
    """One composite subrequest's reply, in request order: its HTTP status and parsed body."""

    status: int
    body: Any

