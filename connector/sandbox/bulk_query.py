"""Bulk API 2.0 query jobs of the sandbox: ``/services/data/vXX.X/jobs/query``.

The wire is what simple-salesforce's ``bulk2.<Object>.query`` and jsforce's ``bulk2.query``
drive ("Bulk API 2.0 Query" in the Bulk API 2.0 guide): ``POST`` a job with a SOQL query (state
``UploadComplete``), poll ``GET .../{id}`` until ``JobComplete`` (``InProgress`` between, one
state per poll, like the ingest jobs of :mod:`bulk_api`), then page ``GET .../{id}/results``
with ``maxRecords`` and ``locator``: CSV with every value quoted, the ``Sforce-NumberOfRecords``
header, and ``Sforce-Locator`` (an opaque string, ``null`` on the last page). ``PATCH``
``{"state": "Aborted"}`` aborts, ``DELETE`` removes, ``GET /jobs/query`` lists.

The query runs through the REST API's own SOQL engine (:mod:`soql`) on the same store, so a
bulk query answers exactly what ``query/`` would; the rows are taken when the job starts
processing, as a snapshot. Every request is one API call, metered like the REST API; each job
counts against ``DailyBulkV2QueryJobs``.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import soql
from .bulk_api import DELIMITERS, _now
from .http import BadJson, Request, Response
from .sf_schema import make_id
from .sf_store import SfError

if TYPE_CHECKING:
    from .rest_host import RestHost as SalesforceApi

_V = r"/services/data/v(?P<version>\d+\.\d+)"
DAILY_QUERY_JOBS = 10_000
MAX_SOQL = 100_000
TERMINAL = ("JobComplete", "Failed", "Aborted")

# Run a SOQL text the way the REST query resource does, given the API version and whether
# deleted rows count (queryAll): (records as dicts, column names), or raise SfError.
QueryRunner = Callable[[str, str, bool], tuple[list[dict[str, Any]], list[str]]]


@dataclass
class QueryJob:
    id: str
    operation: str
    object: str
    query: str
    api_version: str
    line_ending: str
    delimiter: str
    created: str
    state: str = "UploadComplete"
    modstamp: str = ""
    polls: int = 0
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    error_message: str | None = None
    created_by: str = ""

    def info(self, *, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "operation": self.operation, "object": self.object,
            "createdById": self.created_by, "createdDate": self.created,
            "systemModstamp": self.modstamp,
            "state": self.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(self.api_version), "lineEnding": self.line_ending,
            "columnDelimiter": next(k for k, v in DELIMITERS.items() if v == self.delimiter),
        }
        if full:
            out.update({"jobType": "V2Query", "numberRecordsProcessed": len(self.rows),
                        "retries": 0, "totalProcessingTime": 0, "isPkChunkingSupported": True})
            if self.error_message:
                out["errorMessage"] = self.error_message
        return out


def _err(status: int, code: str, message: str) -> Response:
    return Response.json(status, [{"errorCode": code, "message": message}])


class BulkQueryApi:
    """Registers the query-job routes (metered like the REST API) and keeps the jobs."""

    def __init__(self, sf: "SalesforceApi", run: QueryRunner) -> None:
        self.sf = sf
        self.run = run
        self.jobs: dict[str, QueryJob] = {}
        self.jobs_used = 0
        self._seq = 0
        # Polls from UploadComplete to JobComplete (the first moves the job to InProgress and
        # takes the rows). At least 1.
        self.polls_to_complete = 2
        r = sf.app.router
        base = _V + "/jobs/query"
        routes = [
            ("POST", "/?", self._create),
            ("GET", "/?", self._list),
            ("GET", "/{job}/results/?", self._results),
            ("GET", "/{job}/?", self._info),
            ("PATCH", "/{job}/?", self._set_state),
            ("DELETE", "/{job}/?", self._delete),
        ]
        for method, path, handler in routes:
            r.add(method, base + path, sf._metered(handler), family="salesforce.bulk",
                  auth="salesforce")

    def reset(self) -> None:
        self.jobs.clear()
        self.jobs_used = 0
        self.polls_to_complete = 2

    def _job(self, req: Request) -> QueryJob:
        job = self.jobs.get(req.params["job"])
        if job is None:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return job

    # -- lifecycle --------------------------------------------------------------------------
    def _create(self, req: Request) -> Response:
        try:
            body = req.json()
        except BadJson as exc:
            return _err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")
        if not isinstance(body, Mapping):
            return _err(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            return _err(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
        text = body.get("query")
        if not isinstance(text, str) or not text.strip():
            return _err(400, "INVALIDJOB", "InvalidJob : query is required for a query job")
        if len(text) > MAX_SOQL:
            return _err(400, "MALFORMED_QUERY", "SOQL statements can not be longer than "
                        f"{MAX_SOQL} characters")
        if (body.get("contentType") or "CSV") != "CSV":
            return _err(400, "INVALIDJOB", "InvalidJob : contentType must be CSV")
        line_ending = body.get("lineEnding") or "LF"
        delimiter = DELIMITERS.get(body.get("columnDelimiter") or "COMMA")
        if line_ending not in ("LF", "CRLF") or delimiter is None:
            return _err(400, "INVALIDJOB", "InvalidJob : invalid lineEnding or columnDelimiter")
        try:
            parsed = soql.parse(text)
        except soql.SoqlError as exc:
            return _err(400, exc.code, exc.message)
        if parsed.count or parsed.offset is not None:
            # "Bulk API 2.0 doesn't support SOQL queries that include ... OFFSET ... Aggregate
            # Functions such as COUNT()" (Understanding Bulk API 2.0 Query); [U] the wording.
            what = "COUNT()" if parsed.count else "OFFSET"
            return _err(400, "INVALIDJOB", f"InvalidJob : Bulk API 2.0 query jobs do not "
                        f"support {what}")
        if self.jobs_used >= DAILY_QUERY_JOBS:
            return _err(400, "LIMIT_EXCEEDED", "Daily limit of Bulk API 2.0 query jobs exceeded")
        # Validate now, as Salesforce refuses a job over an unknown object or field at create.
        try:
            self.run(req.params["version"], text, operation == "queryAll")
        except SfError as exc:
            return Response.json(400, [exc.as_error()])
        self._seq += 1
        self.jobs_used += 1
        now = _now()
        sobject = self.sf.store.sobject_name(parsed.sobject) or parsed.sobject
        job = QueryJob(make_id("750", 10_000 + self._seq), operation, sobject, text,
                       req.params["version"], line_ending, delimiter, now, modstamp=now,
                       created_by=self.sf.store.api_user_id)
        self.jobs[job.id] = job
        return Response.json(200, job.info(full=False))

    def _list(self, req: Request) -> Response:
        records = [j.info(full=False) for j in self.jobs.values()]
        return Response.json(200, {"done": True, "records": records, "nextRecordsUrl": None})

    def _info(self, req: Request) -> Response:
        job = self._job(req)
        if job.state in ("UploadComplete", "InProgress"):
            job.polls += 1
            if job.state == "UploadComplete":
                job.state = "InProgress"
                self._execute(job)
            if job.state == "InProgress" and job.polls >= max(1, self.polls_to_complete):
                job.state = "JobComplete"
            job.modstamp = _now()
        return Response.json(200, job.info(full=True))

    def _execute(self, job: QueryJob) -> None:
        """Take the job's rows now, through the REST query's engine."""
        try:
            records, columns = self.run(job.api_version, job.query, job.operation == "queryAll")
        except SfError as exc:
            job.state = "Failed"
            job.error_message = f"InvalidBatch : Failed to process query: {exc.code}: {exc.message}"
            return
        job.header = columns
        job.rows = [[_csv_value(_path(rec, col)) for col in columns] for rec in records]

    def _set_state(self, req: Request) -> Response:
        job = self._job(req)
        try:
            body = req.json()
        except BadJson as exc:
            return _err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")
        wanted = body.get("state") if isinstance(body, Mapping) else None
        if wanted != "Aborted":
            raise SfError("INVALIDJOBSTATE", f"Invalid state for a query job: {wanted}")
        if job.state in TERMINAL:
            raise SfError("INVALIDJOBSTATE", f"Aborting already {job.state} job not allowed")
        job.state = "Aborted"
        job.modstamp = _now()
        return Response.json(200, job.info(full=False))

    def _delete(self, req: Request) -> Response:
        job = self._job(req)
        if job.state not in TERMINAL:
            raise SfError("INVALIDJOBSTATE", f"Job {job.id} cannot be deleted in state "
                          f"{job.state}")
        del self.jobs[job.id]
        return Response.empty(204)

    # -- results ----------------------------------------------------------------------------
    def _results(self, req: Request) -> Response:
        job = self._job(req)
        if req.params["version"] != job.api_version:
            return _err(409, "API_VERSION_MISMATCH", "Use the same API version to get query "
                        f"results that you used to create the query ({job.api_version})")
        if job.state != "JobComplete":
            current = {"UploadComplete": "UPLOAD_COMPLETE", "InProgress": "IN_PROGRESS",
                       "Aborted": "ABORTED", "Failed": "FAILED"}.get(job.state, job.state)
            return _err(412, "JOB_NOT_COMPLETE", "can only download query results of "
                        "successfully completed bulk job with status: JOB_COMPLETE. Current "
                        f"status: {current}")
        start = _decode_locator(req.arg("locator"))
        if start is None or start > len(job.rows):
            return _err(400, "INVALID_LOCATOR", f"Invalid locator: {req.arg('locator')}")
        raw_max = req.arg("maxRecords")
        size = len(job.rows) - start
        if raw_max:
            if not raw_max.isdigit() or int(raw_max) < 1:
                return _err(400, "INVALIDREQUEST", f"Invalid maxRecords: {raw_max}")
            size = min(size, int(raw_max))
        page = job.rows[start:start + size]
        end = start + len(page)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=job.delimiter, quoting=csv.QUOTE_ALL,
                            lineterminator="\r\n" if job.line_ending == "CRLF" else "\n")
        writer.writerow(job.header)
        writer.writerows(page)
        locator = _encode_locator(end) if end < len(job.rows) else "null"
        return Response(200, out.getvalue().encode("utf-8"), {
            "Content-Type": "text/csv", "Sforce-Locator": locator,
            "Sforce-NumberOfRecords": str(len(page))})


def _encode_locator(offset: int) -> str:
    """Opaque, like Salesforce's since API 49.0 (``MTAwMDA`` is base64 of ``10000``)."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(raw: str | None) -> int | None:
    if raw in (None, "", "null"):
        return 0
    assert raw is not None
    try:
        text = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _path(record: Mapping[str, Any], column: str) -> Any:
    """A column's value; ``Owner.Name`` follows the nested relationship object."""
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _csv_value(value: Any) -> str:
    """Booleans as ``true``/``false``, null as an empty field, the rest as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    if isinstance(value, (dict, list)):
        return ""
    return str(value)
