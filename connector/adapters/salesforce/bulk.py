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

Results, as Salesforce's *Bulk API 2.0 and Bulk API Developer Guide* documents them:

- **Not paged.** "Get Job Successful Record Results" (``successfulResults/``), "Get Job
  Failed Record Results" (``failedResults/``) and "Get Job Unprocessed Record Results"
  (``unprocessedrecords/``) each take "Parameters: None" and answer "a CSV file" of *all*
  the records of that kind. Only query jobs page: "Get Results for a Query Job" takes
  ``locator`` and ``maxRecords`` and answers an ``Sforce-Locator`` header. So each result is
  one GET, read whole; it is *streamed* (:func:`csv_lines`): parsed as it arrives, keeping
  only each row's key and ``sf__`` cells, never the whole body (a 50,000-row batch's CSV
  echoes every uploaded column).
- "The order of records in the response is not guaranteed to match the ordering of records
  in the original job data" (hence the key columns), and "Results are not recorded for
  batches that exceed the daily batch allocation".
- A job that ends ``Failed`` or ``Aborted`` may stop part way: "If the batch still can't be
  processed after 20 retries, the entire ingest job is moved to the Failed state and
  remaining job data isn't processed", and likewise when the daily allocation runs out
  ("Understanding Bulk API 2.0 Ingest"). Processed rows are not rolled back. The rows it
  never processed are read from ``unprocessedrecords/`` and each fails with
  ``BULK_UNPROCESSED`` (nothing was written for it). A row in no result file at all fails
  with ``BULK_NO_RESULT``: it may have been written, which a later ``leadsync retry`` settles
  (an upsert by the external id, or "already a member"). Neither is ever recorded as applied.
- ``sf__Error`` is ``CODE:message:Fields --`` (see :func:`parse_bulk_error`).

Jobs are never deleted: "Delete a Job" would remove it from Setup > Bulk Data Load Jobs,
where admins audit loads, and "All jobs and batches older than 7 days are deleted" by
Salesforce itself ("Job and Batch Lifespan"). Their ids are kept in ``stats.job_ids`` and
reported, so an admin can find each one there.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, NoReturn, Sequence

import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceOperationError
from simple_salesforce.util import call_salesforce

from connector.core.bulk_plan import DEFAULT_THRESHOLD, through_bulk
from connector.core.ids import FIELD_PATH as _FIELD
from connector.errors import AmbiguousWrite, ApiError, AuthError, BudgetExhausted, TransientError
from connector.adapters.salesforce.client import SalesforceClient

TERMINAL = ("JobComplete", "Failed", "Aborted")
MEMBER_KEY = ("CampaignId", "LeadId", "ContactId")
UNPROCESSED = "unprocessedrecords"   # the docs' spelling (simple-salesforce: unprocessedRecords)
# Row failures that say nothing about the row: sent again once (see BulkWriter._again).
RETRY_ROW_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
READ_CHUNK = 64 * 1024               # bytes per read of a streamed result file

Result = dict[str, Any]
Jobs = Callable[[Salesforce], Any]
ResultRow = tuple[tuple[str, ...], tuple[str, ...]]   # (key cells, sf__ cells) of one row


@dataclass
class BulkStats:
    jobs: int = 0
    records: int = 0
    polls: int = 0
    # Every job opened, in order, finished or aborted: none is deleted (see the module doc).
    job_ids: list[str] = field(default_factory=list)


# (job id, sObject, state, records processed so far), each time a job's state is seen.
JobWatch = Callable[[str, str, str, int], None]


class BulkWriter:
    """Writes like :class:`SalesforceClient`, through Bulk API 2.0 above ``threshold`` records."""

    def __init__(self, client: SalesforceClient, *, threshold: int = DEFAULT_THRESHOLD,
                 poll_interval: float = 2.0, timeout: float = 1800.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 on_state: JobWatch | None = None) -> None:
        self.client = client
        self.on_state = on_state        # each job's state as it is seen (a progress display)
        self.threshold = threshold
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self.stats = BulkStats()
        self.leads_in_bulk = BulkWriter.lead_refusal(client) is None

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
        allowed = sobject != "Lead" or self.leads_in_bulk
        if not through_bulk(len(records), self.threshold, allowed=allowed):
            return self.client.upsert(sobject, external_id_field, records)
        results = self._write(sobject, Operation.upsert, records, key=(external_id_field,),
                              external_id_field=external_id_field)
        return self._again(records, results,
                           lambda again: self.client.upsert(sobject, external_id_field, again))

    def create_members(self, records: Sequence[dict[str, Any]]) -> list[Result]:
        if not through_bulk(len(records), self.threshold):
            return self.client.create_members(records)
        results = self._write("CampaignMember", Operation.insert, records, key=MEMBER_KEY,
                              external_id_field=None)
        results = self._again(records, results,
                              lambda again: self.client.create("CampaignMember", again))
        return self.client.mark_existing_members(records, results)

    def _again(self, records: Sequence[dict[str, Any]], results: list[Result],
               send: Callable[[list[dict[str, Any]]], list[Result]]) -> list[Result]:
        """Rows a job failed for a passing reason (``UNABLE_TO_LOCK_ROW``: another save held
        the row) were not written; send them once more, through collections (few rows, and
        the client's retries), instead of parking a response an admin can do nothing about.
        Safe to repeat: Leads are upserts by the external id, members meet
        ``DUPLICATE_VALUE`` at worst, which reads as "already a member"."""
        locked = [i for i, r in enumerate(results)
                  if not r.get("success") and (r.get("errors") or [{}])[0].get("statusCode")
                  in RETRY_ROW_CODES]
        if locked:
            for i, result in zip(locked, send([records[i] for i in locked])):
                results[i] = result
        return results

    # -- one job ------------------------------------------------------------------------
    def _write(self, sobject: str, operation: Operation, records: Sequence[dict[str, Any]], *,
               key: Sequence[str], external_id_field: str | None) -> list[Result]:
        rows = [{name: _cell(value) for name, value in r.items()} for r in records]
        data = to_csv(rows)
        hook = self._usage_hook()
        self.client.session.hooks["response"].append(hook)
        try:
            job_id, info = self._run_job(sobject, operation, data, external_id_field)
            del data  # the upload is done: free it before the result files are read
            return self._results(sobject, job_id, info, rows=rows, key=key)
        finally:
            self.client.session.hooks["response"].remove(hook)

    def _run_job(self, sobject: str, operation: Operation, data: str,
                 external_id_field: str | None) -> tuple[str, dict[str, Any]]:
        jobs = _jobs(sobject)
        # Creating an empty job is harmless to repeat (an Open job without data does nothing).
        job = self._step("create job", lambda sf: jobs(sf).create_job(
            operation, external_id_field=external_id_field), idempotent=True)
        job_id = str(job.get("id") or "")
        if not job_id or job.get("state") != "Open":
            raise ApiError(f"Salesforce Bulk job was not opened (state {job.get('state')})",
                           service="salesforce")
        self.stats.jobs += 1
        self.stats.job_ids.append(job_id)
        self._seen(job_id, sobject, "Open", 0)
        try:
            self._step("upload", lambda sf: jobs(sf).upload_job_data(job_id, data),
                       idempotent=False)
            self._step("close job", lambda sf: jobs(sf).close_job(job_id), idempotent=False)
            self._seen(job_id, sobject, "UploadComplete", 0)
            info = self._wait(job_id, jobs, sobject)
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

    def _seen(self, job_id: str, sobject: str, state: str, processed: int) -> None:
        if self.on_state is not None:
            self.on_state(job_id, sobject, state, processed)

    def _wait(self, job_id: str, jobs: Jobs, sobject: str = "") -> dict[str, Any]:
        deadline = self.clock() + self.timeout
        while True:
            self.stats.polls += 1
            info = self._step("poll", lambda sf: jobs(sf).get_job(job_id, False), idempotent=True)
            self._seen(job_id, sobject, str(info.get("state") or "?"),
                       int(info.get("numberRecordsProcessed") or 0))
            if info.get("state") in TERMINAL:
                return dict(info)
            if self.clock() >= deadline:
                raise _Timeout
            self.sleep(self.poll_interval)

    def _settle(self, job_id: str, jobs: Jobs, exc: Exception) -> NoReturn:
        """After a failed step: make the job's effects final, then let the batch be resolved
        again (``AmbiguousWrite``); if that cannot be made sure, stop the run."""
        if self._abort(job_id, jobs):
            raise AmbiguousWrite(f"Salesforce Bulk job {job_id} was interrupted ({exc}) and "
                                 "is settled; the batch is resolved again", service="salesforce")
        raise ApiError(f"Salesforce Bulk job {job_id} was interrupted ({exc}) and its state is "
                       "unknown; the batch's responses stay pending and the next run resumes "
                       "them", service="salesforce", code="BULK_UNSETTLED") from None

    def _abort(self, job_id: str, jobs: Jobs) -> bool:
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

    # -- results --------------------------------------------------------------------------
    def _results(self, sobject: str, job_id: str, info: dict[str, Any], *,
                 rows: list[dict[str, str]], key: Sequence[str]) -> list[Result]:
        """One result per uploaded row, in upload order, matched by the key columns.

        Each result file is read only when the job's counts say it can hold rows, so a
        clean job costs one read; ``unprocessedrecords/`` only for a job that stopped part
        way (``Failed``/``Aborted`` with fewer rows processed than uploaded).
        """
        jobs = _jobs(sobject)
        state = str(info.get("state") or "")
        processed = int(info.get("numberRecordsProcessed") or 0)
        failed = int(info.get("numberRecordsFailed") or 0)
        slots: dict[tuple[str, ...], list[int]] = {}
        for i, row in enumerate(rows):
            slots.setdefault(tuple(row.get(k, "") for k in key), []).append(i)
        results: list[Result | None] = [None] * len(rows)

        def place(cells: tuple[str, ...], result: Result) -> None:
            waiting = slots.get(cells)
            if waiting:
                results[waiting.pop(0)] = result

        if processed > failed:
            for cells, (rid, created) in self._read(jobs, job_id, "successfulResults", key=key,
                                                    wanted=("sf__Id", "sf__Created")):
                place(cells, {"id": rid or None, "success": True, "errors": [],
                              "created": created.lower() == "true"})
        if failed > 0:
            for cells, (error,) in self._read(jobs, job_id, "failedResults", key=key,
                                              wanted=("sf__Error",)):
                code, message, fields = parse_bulk_error(error)
                place(cells, _failure(code, message, fields))
        why = str(info.get("errorMessage") or "").strip()
        ended = f"ended {state}" + (f" ({why})" if why else "")
        if state in ("Failed", "Aborted") and processed < len(rows):
            for cells, _ in self._read(jobs, job_id, UNPROCESSED, key=key, wanted=()):
                place(cells, _failure("BULK_UNPROCESSED", f"Salesforce Bulk job {job_id} {ended} "
                                      "before processing this record; nothing was written for "
                                      "it, and `leadsync retry` sends it again"))
        return [r if r is not None else _failure(
                    "BULK_NO_RESULT", f"Salesforce Bulk job {job_id} {ended} and returned no "
                    "result for this record (Salesforce records none for batches past the daily "
                    "Bulk batch allocation); it may have been written, and `leadsync retry` "
                    "settles it")
                for r in results]

    def _read(self, jobs: Jobs, job_id: str, name: str, *, key: Sequence[str],
              wanted: Sequence[str]) -> list[ResultRow]:
        """A result file, streamed: each row's key cells and ``wanted`` cells, nothing more.

        The request is simple-salesforce's own ``get_ingest_results`` (URL, headers, error
        mapping), asked with ``stream=True``: that method returns ``response.text``, the
        whole body at once. The file is read to its end inside one step, so a connection
        lost part way is retried from the start like any other idempotent read.
        """
        def fetch(sf: Salesforce) -> list[ResultRow]:
            client = jobs(sf)
            url = f"{client._construct_request_url(job_id, False)}/{name}"
            headers = client._get_headers(client.JSON_CONTENT_TYPE, client.CSV_CONTENT_TYPE)
            reply = call_salesforce(url=url, method="GET", session=client.session,
                                    headers=headers, stream=True)
            with closing(reply):
                try:
                    return [(tuple(row.get(k) or "" for k in key),
                             tuple(row.get(w) or "" for w in wanted))
                            for row in csv.DictReader(csv_lines(reply.iter_content(READ_CHUNK)))]
                except requests.exceptions.ChunkedEncodingError as exc:
                    raise requests.ConnectionError(f"result file cut short: {exc}") from None
        return self._step(f"read {name}", fetch, idempotent=True)

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


def _jobs(sobject: str) -> Jobs:
    """simple-salesforce's ingest client for ``sobject`` on a given connection."""
    def jobs(sf: Salesforce) -> Any:
        return getattr(sf.bulk2, sobject)._client
    return jobs


def _failure(code: str, message: str, fields: Sequence[str] = ()) -> Result:
    """A failed record in the shape collections answer (a new dict each: callers edit them)."""
    return {"success": False, "errors": [{"statusCode": code, "message": message,
                                          "fields": list(fields)}]}


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


def csv_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Bytes as they arrive -> text lines (newline kept) for :mod:`csv`, lazily.

    Lines end at LF only (a CR stays with its line, which :mod:`csv` accepts), so a quoted
    value spanning lines reaches the reader intact; UTF-8 characters split across chunks
    are decoded whole, and a leading BOM is dropped.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    tail = ""
    for chunk in chunks:
        text = tail + decoder.decode(chunk)
        *lines, tail = text.split("\n")
        for line in lines:
            yield line + "\n"
    tail += decoder.decode(b"", final=True)
    if tail:
        yield tail


_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
# What a bare code in ``sf__Error`` means, in the words Salesforce uses for it elsewhere.
_BARE_MESSAGES = {"UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record"}


def parse_bulk_error(text: str) -> tuple[str, str, list[str]]:
    """``sf__Error`` as (code, message, fields).

    Salesforce writes ``CODE:message:Fields --``, or ``CODE:message:--`` when no field is
    named (its own sample: ``REQUIRED_FIELD_MISSING:Required fields are missing:
    [LastName]:LastName --``). The message may itself hold colons (``Email: invalid email
    address: x``, ``... on record with id: 00Q...``), so the fields are the part after the
    *last* colon, and only when every token there is a field name; how several fields are
    separated is not documented, so commas and spaces are both read. Anything that does not
    start with an upper-case code is kept whole as the message of ``UNKNOWN_EXCEPTION``.
    """
    text = (text or "").strip()
    code, sep, rest = text.partition(":")
    if not sep and _CODE.fullmatch(code):
        # A bare status code (``UNABLE_TO_LOCK_ROW``, as public fixtures show): the code is
        # what decides a retry, so it must not be lost in ``UNKNOWN_EXCEPTION``.
        return code, _BARE_MESSAGES.get(code, "Salesforce rejected the record"), []
    if not sep or not _CODE.fullmatch(code):
        return "UNKNOWN_EXCEPTION", text or "Salesforce rejected the record", []
    rest = rest.strip()
    fields: list[str] = []
    if rest.endswith("--"):
        body = rest[:-2].rstrip()
        message, sep, tail = body.rpartition(":")
        tokens = [t for t in re.split(r"[,\s]+", tail) if t]
        if sep and all(_FIELD.fullmatch(t) for t in tokens):
            rest, fields = message.rstrip(), tokens
        else:
            rest = body
    return code, rest or "Salesforce rejected the record", fields
