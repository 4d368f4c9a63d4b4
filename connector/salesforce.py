"""Salesforce adapter: batched lookups and sObject Collections writes, nothing more.

A thin shell over simple-salesforce with an injected ``requests`` session (the same code
runs against a real org, the sandbox and ``responses``). It knows the wire (SOQL built with
``format_soql``, 200-record collections, the ``Sforce-Auto-Assign`` header, the usage
header) and none of the method rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar
from urllib.parse import quote_plus, urlsplit

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from .config import SalesforceSettings
from .errors import ApiError, AuthError, BudgetExhausted
from .transport import (RetryPolicy, TransientError, Verdict, classify, error_code,
                        session_for, with_retries)

T = TypeVar("T")
COLLECTION_LIMIT = 200          # records per sObject Collections call (Salesforce's cap)
MAX_QUERY_URL = 8000            # bytes of the encoded query string; the hard limit is 16,384
LEAD_LOOKUP_FIELDS = ("Id", "Email", "CreatedDate", "IsConverted", "ConvertedContactId", "ConvertedDate")
CONTACT_LOOKUP_FIELDS = ("Id", "Email", "CreatedDate")
MEMBER_FIELDS = ("Id", "CampaignId", "LeadId", "ContactId", "Status", "HasResponded")


class AmbiguousWrite(ApiError):
    """The connection dropped after a non-idempotent write was sent: it may have applied.

    Not retried blindly (that is how duplicates are born); the ledger's pending intent is
    resolved by the next run, which looks in Salesforce before it writes again.
    """


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, *, session: requests.Session | None = None,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self.settings = settings
        self.session = session or session_for(settings.instance_url)
        self.retry = retry
        self.calls = 0
        self.usage: Usage | None = None
        self._sf: Salesforce | None = None

    # -- connection ----------------------------------------------------------------------
    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    def _connect(self) -> Salesforce:
        s = self.settings
        common = {"session": self.session, "version": s.api_version}
        try:
            if s.access_token:
                return Salesforce(instance_url=s.instance_url, session_id=s.access_token.reveal(), **common)
            self.calls += 1
            if s.consumer_key and s.consumer_secret:
                return Salesforce(consumer_key=s.consumer_key, consumer_secret=s.consumer_secret.reveal(),
                                  domain=_login_domain(s.instance_url), **common)
            return Salesforce(username=s.username, password=s.password.reveal() if s.password else "",
                              security_token=s.security_token.reveal() if s.security_token else "",
                              domain=_login_domain(s.instance_url), **common)
        except SalesforceAuthenticationFailed as exc:
            # simple-salesforce's message holds the server's words, never our password.
            raise AuthError(f"Salesforce login refused: {exc.code}", service="salesforce",
                            code=str(exc.code)) from None
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach Salesforce at {s.instance_url}: {type(exc).__name__}",
                           service="salesforce") from None

    @property
    def can_renew(self) -> bool:
        s = self.settings
        return not s.access_token and bool(s.consumer_key or s.username)

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
                code = error_code(exc.content)
                if verdict is Verdict.RETRY:
                    raise TransientError(f"Salesforce {name}: {exc.status} {code or ''}".strip(),
                                         status=exc.status) from None
                if verdict is Verdict.LIMIT:
                    raise BudgetExhausted("Salesforce API request limit exceeded; stopped with state intact",
                                          service="salesforce", status=exc.status, code=code) from None
                if verdict is Verdict.EXPIRED:
                    if self.can_renew and not renewed:
                        renewed = True
                        self._sf = None
                        raise TransientError("Salesforce session expired; logging in again",
                                             retry_after=0) from None
                    raise AuthError("Salesforce refused the session (401 INVALID_SESSION_ID): "
                                    "renew the access token", service="salesforce",
                                    status=exc.status, code=code) from None
                raise ApiError(f"Salesforce {name} failed: {_first_message(exc.content)}",
                               service="salesforce", status=exc.status, code=code) from None
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

    def _write_headers(self) -> dict[str, str]:
        return {"Sforce-Auto-Assign": "TRUE" if self.settings.auto_assign else "FALSE"}

    # -- reads ---------------------------------------------------------------------------
    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every row of a query, following ``nextRecordsUrl`` page by page (each a call)."""
        page = self._call("query", lambda sf: sf.query(soql))
        rows = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            url = page["nextRecordsUrl"]
            page = self._call("query", lambda sf: sf.query_more(url, identifier_is_url=True))
            rows.extend(page.get("records", []))
        return rows

    def find_people(self, emails: Iterable[str], *, external_id_field: str | None = None
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Leads (converted or not) and Contacts whose Email is one of ``emails``."""
        emails = sorted(set(emails))
        lead_fields = LEAD_LOOKUP_FIELDS + ((external_id_field,) if external_id_field else ())
        leads: list[dict[str, Any]] = []
        contacts: list[dict[str, Any]] = []
        for chunk in chunk_for_query("SELECT {fields} FROM Lead WHERE Email IN {values}",
                                     lead_fields, emails):
            leads += self.query_all(chunk)
        for chunk in chunk_for_query("SELECT {fields} FROM Contact WHERE Email IN {values}",
                                     CONTACT_LOOKUP_FIELDS, emails):
            contacts += self.query_all(chunk)
        return leads, contacts

    def find_members(self, campaign_ids: Iterable[str], record_ids: Iterable[str]) -> list[dict[str, Any]]:
        """CampaignMembers of these campaigns on these Leads/Contacts, scoped to the campaigns."""
        campaigns = sorted(set(campaign_ids))
        records = sorted(set(record_ids))
        if not campaigns or not records:
            return []
        rows: list[dict[str, Any]] = []
        prefix = format_soql("SELECT {:literal} FROM CampaignMember WHERE CampaignId IN {} AND ",
                             ", ".join(MEMBER_FIELDS), campaigns)
        for part in _chunks_by_size(records, prefix, "(LeadId IN {ids} OR ContactId IN {ids})"):
            rows += self.query_all(part)
        return rows

    # -- writes --------------------------------------------------------------------------
    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create through sObject Collections, 200 a call, each record failing alone."""
        return self._collections("POST", "composite/sobjects", sobject, records, idempotent=False)

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]
               ) -> list[dict[str, Any]]:
        """Upsert by an external id: repeating it cannot create a second record."""
        return self._collections("PATCH", f"composite/sobjects/{sobject}/{external_id_field}",
                                 sobject, records, idempotent=True)

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._collections("PATCH", "composite/sobjects", sobject, records, idempotent=True)

    def _collections(self, method: str, path: str, sobject: str, records: Sequence[dict[str, Any]],
                     *, idempotent: bool) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), COLLECTION_LIMIT):
            body = {"allOrNone": False, "records": [
                {"attributes": {"type": sobject}, **r} for r in records[start:start + COLLECTION_LIMIT]]}
            reply = self._call(f"{method} {path}", lambda sf: sf.restful(
                path, method=method, json=body, headers=self._write_headers()), idempotent=idempotent)
            results.extend(reply or [])
        return results


def chunk_for_query(template: str, fields: Sequence[str], values: Sequence[str]) -> Iterator[str]:
    """SOQL statements ``template`` with ``values`` split so each URL stays under the limit."""
    prefix = format_soql(template.split("{values}")[0].replace("{fields}", "{:literal}"), ", ".join(fields))
    yield from _chunks_by_size(values, prefix, "{ids}")


def _chunks_by_size(values: Sequence[str], prefix: str, tail: str) -> Iterator[str]:
    """Greedy chunking by encoded length: Salesforce rejects URIs over 16 KB (414)."""
    chunk: list[str] = []
    size = len(quote_plus(prefix)) + 40
    per_use = tail.count("{ids}")
    for value in values:
        cost = (len(quote_plus(format_soql("{}", value))) + 3) * per_use
        if chunk and size + cost > MAX_QUERY_URL:
            yield prefix + tail.replace("{ids}", format_soql("{}", chunk))
            chunk, size = [], len(quote_plus(prefix)) + 40
        chunk.append(value)
        size += cost
    if chunk:
        yield prefix + tail.replace("{ids}", format_soql("{}", chunk))


def _login_domain(instance_url: str) -> str:
    host = urlsplit(instance_url).hostname or ""
    return host[: -len(".salesforce.com")] if host.endswith(".salesforce.com") else "login"


def _first_message(content: Any) -> str:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return f"{first.get('errorCode') or first.get('statusCode')}: {first.get('message')}"
    return str(content)[:300]
