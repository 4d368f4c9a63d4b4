"""Bulk API 2.0 writes for a backfill: the engine's Lead and CampaignMember writer, past a size.

A first sync of a long history writes tens of thousands of Leads and members. sObject
Collections carry 1,000 records per API call (5 x 200 in a composite); one Bulk API 2.0
ingest job carries any number for a fixed handful of calls (create, upload, close, a few
polls, two result reads: 8 against the sandbox, more polls against a busy org) and
Salesforce processes it server-side in parallel. Below a threshold collections are cheaper
and synchronous, so :class:`BulkWriter` sends a write through Bulk only when it holds more
than ``threshold`` records, and otherwise hands it to :class:`SalesforceClient` unchanged.

Either way it answers what ``SalesforceClient.create/upsert/create_members`` answer: one
``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}`` per record, in input
order, so the engine's result handling (ledger, parking, memory) is the same code.

Exactly once:

- Bulk result rows do not come back in upload order, so each is matched to its record by
  a key column it echoes: Leads by the external id (the response's conversion id, unique
  per row), members by (CampaignId, LeadId, ContactId), unique per batch by the plan.
- **Leads go through Bulk only as an upsert on ``lead_external_id_field``**, under every
  method. Upsert by the external id is idempotent (a replayed job updates, never doubles)
  and gives every row a key; an insert without it has neither, and under ``poi`` a lost
  job could not be told from an older Lead of the same person. Without the field (or with
  ``auto_assign``, which Bulk can only honour through an assignment rule id that
  simple-salesforce does not send) Leads are written through collections as ``sync``
  writes them, and only members use Bulk.
- Members are inserted; a replay meets ``DUPLICATE_VALUE`` and reads as "already a
  member" (:meth:`SalesforceClient.mark_existing_members`), as in ``sync``.
- A job is asynchronous: if its upload, close or polls fail, the job is aborted (or found
  already finished) before anything else happens, so its effects are final; the engine is
  then told the write was ambiguous (:class:`AmbiguousWrite`) and resolves the batch again
  against Salesforce, which finds what the job did. If the job's fate cannot be settled, or
  it does not finish within ``timeout``, the run stops with the batch ``pending`` for the
  next run (the intents are recorded before any write).

The job steps are simple-salesforce's own ``bulk2`` client calls (the exact requests of
api-notes A2), driven one by one rather than through ``SFBulk2Type.upsert``: that helper
loses the job id when it raises and polls for up to 24 hours, and both matter here.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Sequence

import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceOperationError

from .errors import ApiError, AuthError, BudgetExhausted
from .salesforce import AmbiguousWrite, SalesforceClient
from .transport import TransientError

DEFAULT_THRESHOLD = 10_000     # records in one write before it goes through Bulk (see README)
TERMINAL = ("JobComplete", "Failed", "Aborted")
MEMBER_KEY = ("CampaignId", "LeadId", "ContactId")

Result = dict[str, Any]


@dataclass
class BulkStats:
    jobs: int = 0
    records: int = 0
    polls: int = 0


class BulkWriter:
    """Writes like :class:`SalesforceClient`, through Bulk API 2.0 above ``threshold`` records."""

    def __init__(self, client: SalesforceClient, *, threshold: int = DEFAULT_THRESHOLD,
                 poll_interval: float = 2.0, timeout: float = 1800.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.threshold = threshold
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.stats = BulkStats()
        s = client.settings
        self.leads_in_bulk = bool(s.lead_external_id_field) and not s.auto_assign

    @staticmethod
    def lead_refusal(client: SalesforceClient) -> str | None:
        """Why Leads will not go through Bulk with these settings (``None``: they will)."""
        s = client.settings
        if not s.lead_external_id_field:
            return ("Leads are written through sObject Collections, not Bulk: Bulk needs "
                    "salesforce.lead_external_id_field to write them exactly once")
        if s.auto_assign:
            return ("Leads are written through sObject Collections, not Bulk: auto_assign "
                    "(routing.mode = \"assignment_rules\") needs an assignment rule id that "
                    "the Bulk path does not send")
        return None

    # -- the writer interface the engine uses ------------------------------------------
    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[Result]:
        """Plain creates stay on collections: no key to match results, no safe replay."""
        return self.client.create(sobject, records)

    def upsert(self, sobject: str, external_id_field: str, records: Sequence[dict[str, Any]]
               ) -> list[Result]:
        if len(records) <= self.threshold or (sobject == "Lead" and not self.leads_in_bulk):
            return self.client.upsert(sobject, external_id_field, records)
        return self._write(sobject, Operation.upsert, records, (external_id_field,),
                           external_id_field)

    def create_members(self, records: Sequence[dict[str, Any]]) -> list[Result]:
        if len(records) <= self.threshold:
            return self.client.create_members(records)
        results = self._write("CampaignMember", Operation.insert, records, MEMBER_KEY, None)
        return self.client.mark_existing_members(records, results)

    # -- one job ------------------------------------------------------------------------
    def _write(self, sobject: str, operation: Operation, records: Sequence[dict[str, Any]],
               key: Sequence[str], external_id_field: str | None) -> list[Result]:
        rows = [{name: _cell(value) for name, value in r.items()} for r in records]
        data = to_csv(rows)
        hook = self._usage_hook()
        self.client.session.hooks["response"].append(hook)
        try:
            job_id, info = self._run_job(sobject, operation, data, external_id_field)
            return self._results(sobject, job_id, info, rows, key)
        finally:
            self.client.session.hooks["response"].remove(hook)

    def _run_job(self, sobject: str, operation: Operation, data: str,
                 external_id_field: str | None) -> tuple[str, dict[str, Any]]:
        def jobs(sf: Salesforce) -> Any:
            return getattr(sf.bulk2, sobject)._client

        # Creating an empty job is harmless to repeat (an Open job without data does nothing).
        job = self._step("create job", lambda sf: jobs(sf).create_job(
            operation, external_id_field=external_id_field), idempotent=True)
        job_id = str(job.get("id") or "")
        if not job_id or job.get("state") != "Open":
            raise ApiError(f"Salesforce Bulk job was not opened (state {job.get('state')})",
                           service="salesforce")
        self.stats.jobs += 1
        try:
            self._step("upload", lambda sf: jobs(sf).upload_job_data(job_id, data),
                       idempotent=False)
            self._step("close job", lambda sf: jobs(sf).close_job(job_id), idempotent=False)
            info = self._wait(job_id, jobs)
        except (TransientError, AmbiguousWrite) as exc:
            self._settle(job_id, jobs, exc)
        except (BudgetExhausted, AuthError):
            raise  # nothing more may be sent; the next run resolves the pending batch
        except ApiError:
            self._abort(job_id, jobs)  # a definite refusal: tidy the job away, then stop
            raise
        except _Timeout:
            settled = self._abort(job_id, jobs)
            raise ApiError(f"Salesforce Bulk job {job_id} did not finish within "
                           f"{self.timeout:.0f}s and was {'aborted' if settled else 'left running'}; "
                           "the batch's responses stay pending and the next run resumes them",
                           service="salesforce", code="BULK_TIMEOUT") from None
        self.stats.records += int(info.get("numberRecordsProcessed") or 0)
        return job_id, info

    def _wait(self, job_id: str, jobs: Callable[[Salesforce], Any]) -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            self.stats.polls += 1
            info = self._step("poll", lambda sf: jobs(sf).get_job(job_id, False), idempotent=True)
            if info.get("state") in TERMINAL:
                return dict(info)
            if self.clock() >= deadline:
                raise _Timeout
            self.sleep(self.poll_interval)

    def _settle(self, job_id: str, jobs: Callable[[Salesforce], Any], exc: Exception) -> NoReturn:
        """After a failed step: make the job's effects final, then let the batch be resolved
        again (``AmbiguousWrite``); if that cannot be made sure, stop the run."""
        if self._abort(job_id, jobs):
            raise AmbiguousWrite(f"Salesforce Bulk job {job_id} was interrupted ({exc}) and "
                                 "is settled; the batch is resolved again", service="salesforce")
        raise ApiError(f"Salesforce Bulk job {job_id} was interrupted ({exc}) and its state is "
                       "unknown; the batch's responses stay pending and the next run resumes "
                       "them", service="salesforce", code="BULK_UNSETTLED") from None

    def _abort(self, job_id: str, jobs: Callable[[Salesforce], Any]) -> bool:
        """Abort the job; True when it is certainly done processing (aborted or finished)."""
        try:
            self._step("abort", lambda sf: jobs(sf).abort_job(job_id, False), idempotent=True)
            return True
        except (BudgetExhausted, AuthError, TransientError, AmbiguousWrite):
            return False
        except ApiError:
            pass  # e.g. INVALIDJOBSTATE: it reached a final state first; look
        try:
            info = self._step("poll", lambda sf: jobs(sf).get_job(job_id, False), idempotent=True)
        except (TransientError, AmbiguousWrite, ApiError):
            return False
        return info.get("state") in TERMINAL

    def _results(self, sobject: str, job_id: str, info: dict[str, Any],
                 rows: list[dict[str, str]], key: Sequence[str]) -> list[Result]:
        def jobs(sf: Salesforce) -> Any:
            return getattr(sf.bulk2, sobject)._client

        processed = int(info.get("numberRecordsProcessed") or 0)
        failed = int(info.get("numberRecordsFailed") or 0)
        text = {}
        for name, wanted in (("successfulResults", processed > failed), ("failedResults", failed > 0)):
            text[name] = self._step(f"read {name}", lambda sf, n=name: jobs(sf).get_ingest_results(
                job_id, n), idempotent=True) if wanted else ""
        slots: dict[tuple[str, ...], list[int]] = {}
        for i, row in enumerate(rows):
            slots.setdefault(tuple(row.get(k, "") for k in key), []).append(i)
        results: list[Result | None] = [None] * len(rows)

        def place(row: dict[str, str], result: Result) -> None:
            waiting = slots.get(tuple(row.get(k, "") for k in key))
            if waiting:
                results[waiting.pop(0)] = result

        for row in csv.DictReader(io.StringIO(text["successfulResults"])):
            place(row, {"id": row.get("sf__Id") or None, "success": True, "errors": [],
                        "created": (row.get("sf__Created") or "").lower() == "true"})
        for row in csv.DictReader(io.StringIO(text["failedResults"])):
            code, message, fields = parse_bulk_error(row.get("sf__Error") or "")
            place(row, {"success": False, "errors": [{"statusCode": code, "message": message,
                                                      "fields": fields}]})
        why = info.get("errorMessage") or f"the Bulk job ended {info.get('state')} without a result for it"
        missing = {"success": False, "errors": [{"statusCode": "BULK_NOT_PROCESSED",
                                                 "message": f"job {job_id}: {why}", "fields": []}]}
        return [r if r is not None else dict(missing) for r in results]

    # -- plumbing -----------------------------------------------------------------------
    def _step(self, name: str, fn: Callable[[Salesforce], Any], *, idempotent: bool) -> Any:
        """One request through the client's metering, classification and retries."""
        def call(sf: Salesforce) -> Any:
            try:
                return fn(sf)
            except SalesforceOperationError as exc:  # raised by bulk2 itself, not by a reply
                raise ApiError(f"Salesforce Bulk {name} failed: {exc}"[:300],
                               service="salesforce", code="BULK") from None
        return self.client._call(f"Bulk {name}", call, idempotent=idempotent)

    def _usage_hook(self) -> Callable[..., Any]:
        """bulk2 does not read ``Sforce-Limit-Info``; read it so the budget check sees Bulk."""
        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
            header = response.headers.get("Sforce-Limit-Info")
            if header:
                self.client.sf.api_usage = Salesforce.parse_api_usage(header)
            return response
        return hook


class _Timeout(Exception):
    pass


def _cell(value: Any) -> str:
    """A CSV cell as Bulk reads it: empty leaves the field alone, booleans in lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Sequence[dict[str, str]]) -> str:
    """Rows as Bulk CSV (comma, LF, a header of every column, in a stable order)."""
    columns = sorted({name for row in rows for name in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def parse_bulk_error(text: str) -> tuple[str, str, list[str]]:
    """``sf__Error`` (``CODE:message:Field1,Field2 --``) as (code, message, fields)."""
    code, sep, rest = text.partition(":")
    if not sep:
        return "UNKNOWN_EXCEPTION", text or "Salesforce rejected the record", []
    rest = rest.strip()
    if rest.endswith("--"):
        message, sep, fields = rest[:-2].rstrip().rpartition(":")
        if sep:
            return code, message, [f.strip() for f in fields.split(",") if f.strip()]
        return code, rest[:-2].rstrip(), []
    return code, rest, []
