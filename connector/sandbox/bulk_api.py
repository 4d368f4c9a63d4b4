"""Bulk API 2.0 ingest jobs of the sandbox: ``/services/data/vXX.X/jobs/ingest``.

The wire is what simple-salesforce's ``bulk2`` drives (api-notes A2, C): create a job
(``Open``), ``PUT`` CSV to ``batches`` (``201``, empty body), ``PATCH`` the state to
``UploadComplete`` (or ``Aborted``), poll ``GET`` until ``JobComplete``/``Failed``/``Aborted``,
then read ``successfulResults/`` (``sf__Id,sf__Created`` + the uploaded columns),
``failedResults/`` (``sf__Id,sf__Error`` + columns) and ``unprocessedrecords/`` as CSV.

Rows go through the org's :class:`~connector.sandbox.sf_store.Store` exactly as sObject
Collections send them (required fields, lengths, email syntax, unique external ids,
duplicate member, converted Lead...), so one bad row fails alone with the same code.
Salesforce's own traits are kept where a client could trip on them: processing is
asynchronous (here it advances one state per poll, so a client that reads the state once
and assumes completion is caught; ``batches_per_poll`` spreads the processing over polls, so
an abort can land part way), the data is cut into internal batches of 10,000 rows (each counts against ``DailyBulkApiBatches``; duplicate
external ids in one batch fail), and result rows do **not** come back in upload order.
Every request is one API call, metered like the REST API.

A job can stop part way, as "Understanding Bulk API 2.0 Ingest" describes: an internal batch
that cannot be processed after its retries moves the whole job to ``Failed`` and "remaining
job data isn't processed" (those rows are listed by ``unprocessedrecords/``; tests force it
with ``fail_after_batches``); when the daily batch allocation runs out the job fails too,
and since "Results are not recorded for batches that exceed the daily batch allocation"
the rows left appear in no result file. Processed rows are never rolled back.

Result files are not paged: the ingest result resources take no parameters and return every
row ("Get Job Successful Record Results" and its siblings); only query jobs page with
``Sforce-Locator`` (see :mod:`bulk_query`).

Empty CSV values leave a field alone, as in Salesforce; ``#N/A`` sets it to null.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from .http import BadJson, Request, Response
from .sf_schema import make_id
from .sf_store import SfError, Store, WriteOptions, format_datetime

_V = r"/services/data/v(?P<version>\d+\.\d+)"
INTERNAL_BATCH = 10_000          # rows per internal batch (Bulk API 2.0 splits uploads so)
DAILY_BATCHES = 15_000           # batch allocation per rolling 24 h, shared with Bulk API 1.0
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
OPERATIONS = ("insert", "upsert", "update", "delete", "hardDelete")
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
              "BACKQUOTE": "`"}
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Job:
    id: str
    object: str
    operation: str
    external_id_field: str | None
    line_ending: str
    delimiter: str
    api_version: str
    assignment_rule_id: str | None
    created: str
    state: str = "Open"
    modstamp: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    polls: int = 0
    processed: int = 0               # rows processed (written or failed)
    cursor: int = 0                  # rows consumed: processed, or dropped unrecorded
    batches_done: int = 0            # internal batches processed
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error_message: str | None = None

    def info(self, *, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": "", "createdDate": self.created, "systemModstamp": self.modstamp,
            "state": self.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.api_version), "lineEnding": self.line_ending,
            "columnDelimiter": next(k for k, v in DELIMITERS.items() if v == self.delimiter),
        }
        if self.external_id_field:
            out["externalIdFieldName"] = self.external_id_field
        if self.assignment_rule_id:
            out["assignmentRuleId"] = self.assignment_rule_id
        if self.state == "Open":
            out["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if full:
            out.update({"jobType": "V2Ingest", "numberRecordsProcessed": self.processed,
                        "numberRecordsFailed": len(self.failures), "retries": 0,
                        "totalProcessingTime": 0, "apiActiveProcessingTime": 0,
                        "apexProcessingTime": 0})
            if self.error_message:
                out["errorMessage"] = self.error_message
        return out


def _err(status: int, code: str, message: str) -> Response:
    return Response.json(status, [{"errorCode": code, "message": message}])


class IngestHost(Protocol):
    """What the ingest jobs need from the REST API that owns them (``SalesforceApi``).

    Declared here, not imported, so the dependency goes one way: ``salesforce_api`` builds
    a :class:`BulkApi` and hands itself over; this module never imports ``salesforce_api``.
    """

    app: Any
    store: Store

    def _metered(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        ...


class BulkApi:
    """Registers the ingest routes (metered like the REST API) and keeps the jobs."""

    def __init__(self, sf: IngestHost) -> None:
        self.sf = sf
        self.jobs: dict[str, Job] = {}
        self.batches_used = 0
        self._seq = 0
        # Polls from UploadComplete to a terminal state: the first starts processing (state
        # InProgress, rows written), the second completes. At least 1. A job completes only
        # once every row is processed.
        self.polls_to_complete = 2
        self.batch_rows = INTERNAL_BATCH
        # Internal batches processed per poll (None: all at the first), so that tests can
        # watch a job part way through (Salesforce processes them in parallel, unseen).
        self.batches_per_poll: int | None = None
        # After this many internal batches of a job, the next one "can't be processed after
        # its retries": the job ends Failed with the rest unprocessed. None: never.
        self.fail_after_batches: int | None = None
        self._register()

    def _register(self) -> None:
        r = self.sf.app.router
        base = _V + "/jobs/ingest"
        routes = [
            ("POST", "/?", self._create),
            ("GET", "/?", self._list),
            ("PUT", "/{job}/batches/?", self._upload),
            ("GET", "/{job}/successfulResults/?", self._successful),
            ("GET", "/{job}/failedResults/?", self._failed),
            ("GET", "/{job}/(?i:unprocessedrecords)/?", self._unprocessed),
            ("GET", "/{job}/?", self._info),
            ("PATCH", "/{job}/?", self._set_state),
            ("DELETE", "/{job}/?", self._delete),
        ]
        for method, path, handler in routes:
            r.add(method, base + path, self.sf._metered(handler), family="salesforce.bulk",
                  auth="salesforce")

    def reset(self) -> None:
        self.jobs.clear()
        self.batches_used = 0
        self.polls_to_complete = 2
        self.batch_rows = INTERNAL_BATCH
        self.batches_per_poll = None
        self.fail_after_batches = None

    def abort(self, job_id: str) -> Job:
        """Abort a job as an admin does from Setup (no API call): what is done stays done."""
        job = self.jobs[job_id]
        if job.state in TERMINAL:
            raise self._state_error(f"Aborting already {job.state} job not allowed")
        job.unprocessed.extend(job.rows[job.cursor:])
        job.cursor = len(job.rows)
        job.state = "Aborted"
        self._touch(job)
        return job

    # -- helpers ------------------------------------------------------------------------
    def _job(self, req: Request) -> Job:
        job = self.jobs.get(req.params["job"])
        if job is None:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return job

    def _touch(self, job: Job) -> None:
        job.modstamp = _now()

    @staticmethod
    def _state_error(message: str) -> SfError:
        # [U] Salesforce's code for a transition the job's state does not allow.
        return SfError("INVALIDJOBSTATE", message)

    # -- job lifecycle ------------------------------------------------------------------
    def _create(self, req: Request) -> Response:
        try:
            body = req.json()
        except BadJson as exc:
            return _err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")
        if not isinstance(body, Mapping):
            return _err(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in OPERATIONS:
            return _err(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        store = self.sf.store
        sobject = store.sobject_name(str(body.get("object") or ""))
        if sobject is None:
            return _err(400, "INVALIDJOB", f"InvalidJob : Invalid object: {body.get('object')}")
        if (body.get("contentType") or "CSV") != "CSV":
            return _err(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        ext = body.get("externalIdFieldName")
        if operation == "upsert":
            fd = store.schema(sobject).field(str(ext or ""))
            if not ext or fd is None or not (fd.external_id or fd.name == "Id"):
                return _err(400, "INVALIDJOB", "InvalidJob : External ID was blank or not an "
                            f"external id field on {sobject}: {ext}")
            ext = fd.name
        elif ext:
            return _err(400, "INVALIDJOB", "InvalidJob : externalIdFieldName is only valid for "
                        "upsert")
        line_ending = body.get("lineEnding") or "LF"
        delimiter = DELIMITERS.get(body.get("columnDelimiter") or "COMMA")
        if line_ending not in ("LF", "CRLF") or delimiter is None:
            return _err(400, "INVALIDJOB", "InvalidJob : invalid lineEnding or columnDelimiter")
        self._seq += 1
        now = _now()
        job = Job(make_id("750", self._seq), sobject, operation, ext, line_ending, delimiter,
                  req.params["version"], body.get("assignmentRuleId") or None, now, modstamp=now)
        self.jobs[job.id] = job
        return Response.json(200, job.info(full=False))

    def _list(self, req: Request) -> Response:
        records = [j.info(full=False) for j in self.jobs.values()]
        return Response.json(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def _upload(self, req: Request) -> Response:
        job = self._job(req)
        if job.state != "Open":
            raise self._state_error(f"Job {job.id} is not open for data upload (state "
                                    f"{job.state})")
        if len(req.body) > MAX_UPLOAD_BYTES:
            raise SfError("INVALIDBATCH", "InvalidBatch : upload exceeds 150 MB")
        try:
            text = req.body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SfError("INVALIDBATCH", "InvalidBatch : the data is not UTF-8") from None
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=job.delimiter))
        rows = [row for row in rows if row != []]
        if not rows:
            raise SfError("INVALIDBATCH", "InvalidBatch : no header row")
        header, data = rows[0], rows[1:]
        if job.header and header != job.header:
            raise SfError("INVALIDBATCH", "InvalidBatch : every upload of a job must have the "
                          "same header")
        first_line = text.split("\n", 1)[0]
        if (job.line_ending == "LF") == first_line.endswith("\r"):
            # Salesforce checks the data's line endings against the job's lineEnding.
            job.error_message = (f"ClientInputError : LineEnding is invalid on user data. "
                                 f"Current LineEnding setting is {job.line_ending}")
        job.header = header
        job.rows.extend(data)
        self._touch(job)
        return Response.empty(201)

    def _set_state(self, req: Request) -> Response:
        job = self._job(req)
        try:
            body = req.json()
        except BadJson as exc:
            return _err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")
        wanted = body.get("state") if isinstance(body, Mapping) else None
        if wanted == "UploadComplete":
            if job.state != "Open":
                raise self._state_error(f"Job {job.id} cannot be closed in state {job.state}")
            job.state = "UploadComplete"
        elif wanted == "Aborted":
            self.abort(job.id)
        else:
            raise SfError("INVALIDJOBSTATE", f"Invalid state for the job: {wanted}")
        self._touch(job)
        return Response.json(200, job.info(full=False))

    def _delete(self, req: Request) -> Response:
        job = self._job(req)
        if job.state not in ("UploadComplete", "JobComplete", "Aborted", "Failed"):
            raise self._state_error(f"Job {job.id} cannot be deleted in state {job.state}")
        del self.jobs[job.id]
        return Response.empty(204)

    def _info(self, req: Request) -> Response:
        job = self._job(req)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.state == "UploadComplete":
                job.state = "InProgress"
                self._check(job)
            batches = self.batches_per_poll
            while job.state == "InProgress" and job.cursor < len(job.rows) and (
                    batches is None or batches > 0):
                self._process_batch(job)
                batches = None if batches is None else batches - 1
            if (job.state == "InProgress" and job.cursor >= len(job.rows)
                    and job.polls >= max(1, self.polls_to_complete)):
                job.state = "JobComplete"
            self._touch(job)
        return Response.json(200, job.info(full=True))

    # -- processing ---------------------------------------------------------------------
    def _check(self, job: Job) -> None:
        """What fails a job whole before any row: no data, an unknown column, line endings."""
        obj = self.sf.store.schema(job.object)
        if job.error_message is None:
            if not job.rows:
                job.error_message = "InvalidBatch : the job has no data"
            unknown = [h for h in job.header if obj.field(h) is None]
            if unknown:
                job.error_message = f"InvalidBatch : Field name not found : {unknown[0]}"
        if job.error_message:
            job.unprocessed = list(job.rows)
            job.cursor = len(job.rows)
            job.state = "Failed"

    def _process_batch(self, job: Job) -> None:
        """Write the next internal batch through the store, each row failing alone."""
        if self.fail_after_batches is not None and job.batches_done >= self.fail_after_batches:
            # [U] Salesforce's wording for a batch that failed all its retries.
            self._fail_rest(job, "InternalServerError : a batch of the job could not be "
                            "processed after 20 retries", recorded=True)
            return
        if self.batches_used >= DAILY_BATCHES:
            # [U] the wording; the behaviour is the docs': the rest is not processed and,
            # past the allocation, no result is recorded for it.
            self._fail_rest(job, "ExceededQuota : the daily Bulk API batch allocation "
                            f"({DAILY_BATCHES}) is used up", recorded=False)
            return
        store = self.sf.store
        obj = store.schema(job.object)
        names = [obj.field(h).name for h in job.header]  # type: ignore[union-attr]
        size = max(1, self.batch_rows)
        chunk = job.rows[job.cursor:job.cursor + size]
        self.batches_used += 1
        seen = self._external_ids(job, names, chunk)
        for row in chunk:
            fields = {n: (None if v == "#N/A" else v) for n, v in zip(names, row) if v != ""}
            mark = store.mark()
            try:
                rid, created = self._write(job, fields, seen)
                job.successes.append((rid, created, row))
            except SfError as exc:
                store.rollback(mark)
                rid = next((v for n, v in fields.items() if n == "Id"), "") or ""
                job.failures.append((rid, _bulk_error(exc), row))
            job.processed += 1
        job.cursor += len(chunk)
        job.batches_done += 1

    def _fail_rest(self, job: Job, message: str, *, recorded: bool) -> None:
        """The job stops here: ``Failed``, what was processed stays, the rest is not."""
        if recorded:
            job.unprocessed.extend(job.rows[job.cursor:])
        job.cursor = len(job.rows)
        job.error_message = message
        job.state = "Failed"

    def _external_ids(self, job: Job, names: list[str], chunk: list[list[str]]) -> dict[str, int]:
        if job.operation != "upsert" or job.external_id_field not in names:
            return {}
        at = names.index(job.external_id_field)
        seen: dict[str, int] = {}
        for row in chunk:
            if at < len(row) and row[at]:
                seen[row[at].lower()] = seen.get(row[at].lower(), 0) + 1
        return seen

    def _write(self, job: Job, fields: dict[str, Any], seen: Mapping[str, int]) -> tuple[str, bool]:
        store = self.sf.store
        opts = WriteOptions(auto_assign=bool(job.assignment_rule_id), api_version=job.api_version)
        if job.operation == "insert":
            return store.create(job.object, fields, opts), True
        if job.operation == "upsert":
            ext = job.external_id_field
            assert ext is not None
            value = fields.get(ext)
            if value in (None, ""):
                raise SfError("MISSING_ARGUMENT", f"{ext} not specified", [ext])
            if seen.get(str(value).lower(), 0) > 1:
                raise SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: "
                              f"{value}", [ext])
            try:
                return store.upsert(job.object, ext, value, fields, opts=opts)
            except SfError as exc:
                if exc.status == 300:
                    raise SfError("DUPLICATE_EXTERNAL_ID", f"{ext}: more than one record found "
                                  f"for external id field: {value}", [ext]) from None
                raise
        rid = fields.pop("Id", None)
        if not rid:
            raise SfError("MISSING_ARGUMENT", f"Id not specified in an {job.operation} call", [])
        row = store.live(job.object, rid)
        if job.operation == "update":
            store.update(job.object, row["Id"], fields, opts)
        else:
            store.delete(job.object, row["Id"], opts)
        return row["Id"], False

    # -- results ------------------------------------------------------------------------
    def _csv(self, head: list[str], rows: list[list[str]], job: Job) -> Response:
        out = io.StringIO()
        quoted = csv.writer(out, delimiter=job.delimiter, lineterminator="",
                            quoting=csv.QUOTE_ALL)
        plain = csv.writer(out, delimiter=job.delimiter, lineterminator="\n")

        def line(sf_values: list[str], original: list[str]) -> None:
            if sf_values:
                quoted.writerow(sf_values)
                if original:
                    out.write(job.delimiter)
            plain.writerow(original) if original else out.write("\n")

        line(head, job.header)
        for row in rows:
            line(row[:len(head)], row[len(head):])
        return Response.text(200, out.getvalue(), "text/csv")

    def _successful(self, req: Request) -> Response:
        job = self._job(req)
        rows = [[rid, "true" if created else "false", *row] for rid, created, row in job.successes]
        return self._csv(["sf__Id", "sf__Created"], _shuffled(rows, job), job)

    def _failed(self, req: Request) -> Response:
        job = self._job(req)
        rows = [[rid, error, *row] for rid, error, row in job.failures]
        return self._csv(["sf__Id", "sf__Error"], _shuffled(rows, job), job)

    def _unprocessed(self, req: Request) -> Response:
        job = self._job(req)
        return self._csv([], _shuffled([list(r) for r in job.unprocessed], job), job)


def _shuffled(rows: list[list[str]], job: Job) -> list[list[str]]:
    """Result rows out of upload order, as Salesforce gives them (the same order each read)."""
    random.Random(job.id).shuffle(rows)
    return rows


def _now() -> str:
    return format_datetime(datetime.now(timezone.utc))


def _bulk_error(exc: SfError) -> str:
    """``sf__Error`` as Salesforce writes it: ``CODE:message:Field --`` (``:--`` without one)."""
    fields = ",".join(exc.fields or [])
    return f"{exc.code}:{exc.message}:{fields + ' ' if fields else ''}--"

