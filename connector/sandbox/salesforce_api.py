"""The Salesforce REST API of the sandbox: login, query, sObjects, collections, composite.

This module speaks the wire protocol (paths, headers, status codes, JSON shapes) and
leaves every data rule to :mod:`sf_store`. Each authenticated ``/services/data`` call is
metered like an org's daily allowance: it counts once (a composite call too, whatever
its subrequests), every reply carries ``Sforce-Limit-Info`` and, past the limit, every
call gets ``403 REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import time
from collections import OrderedDict
from html import escape, unescape
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import parse_qs, unquote

from . import sf_limits, sf_oauth, soql, soql_agg, soql_rel
from .bulk_api import BulkApi
from .http import BadJson, Request, Response, Router
from .sf_schema import ObjectDef, make_id, to_id18
from .sf_store import (ROLLED_BACK_MESSAGE, DatasetError, Row, SfError, Store, WriteOptions)

__all__ = ["SalesforceApi", "SfError", "DatasetError"]

DEFAULT_API_LIMIT = 100_000
MAX_COLLECTION = 200
MAX_COMPOSITE = 25
ORG_ID = "00D8c0000000001EAA"
_V = r"/services/data/v(?P<version>\d+\.\d+)"
_MAX_CURSORS = 100
_REF_RE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_HALTED = ("The transaction was rolled back since another operation in the same transaction "
           "failed.")

Handler = Callable[[Request], Response]


def _release(version: int) -> str:
    k = version - 59
    season = ("Winter", "Spring", "Summer")[k % 3]
    return f"{season} '{24 + k // 3:02d}"


def _err(status: int, code: str, message: str, **extra: Any) -> Response:
    body = {"message": message, "errorCode": code}
    body.update(extra)
    return Response.json(status, [body])


class _RefError(Exception):
    pass


class SalesforceApi:
    """Registers the Salesforce routes on ``app.router`` and owns the org's store."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.store = Store()
        self.api_limit = DEFAULT_API_LIMIT
        self.api_used = 0
        self.credentials: dict[str, str] = {}
        self._cursors: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cursor_seq = 0
        self.query_page_bytes = sf_limits.DEFAULT_PAGE_BYTES  # see sf_limits.page_end
        self._sub = Router()   # the same data routes, unmetered, for composite subrequests
        self._register()
        self.bulk = BulkApi(self)  # Bulk API 2.0 ingest jobs, on the same store and meter
        # Identity (userinfo, the id URL, Organization), the query front (columns=true, the
        # SOQL length limit) and Bulk API 2.0 query jobs: see those modules.
        from .bulk_query import BulkQueryApi
        from .query_front import QueryFront
        from .sf_identity import Identity
        self.identity = Identity(self, ORG_ID)
        self.front = QueryFront(self, self.identity)
        self.bulk_query = BulkQueryApi(self, self.front.run_all)
        self.grants = sf_oauth.TokenGrants(self)   # the JWT bearer and refresh-token grants

    # -- routes -------------------------------------------------------------------------
    def _register(self) -> None:
        r = self.app.router
        r.add("POST", "/services/oauth2/token/?", self._token, family="salesforce.auth", auth=None)
        r.add("POST", r"/services/Soap/u/(?P<version>\d+\.\d+)/?", self._soap_login,
              family="salesforce.auth", auth=None)
        r.add("GET", "/services/data/?", self._versions, family="salesforce.versions", auth=None)
        data = [
            ("GET", "/?", self._resources, "versions"),
            ("GET", "/limits/?", self._limits, "limits"),
            ("GET", "/query/?", lambda q: self.front.query(q, False), "query"),
            ("GET", "/queryAll/?", lambda q: self.front.query(q, True), "query"),
            ("GET", "/query/{locator}/?", self._query_more, "query"),
            ("GET", "/queryAll/{locator}/?", self._query_more, "query"),
            ("GET", "/sobjects/?", self._global_describe, "describe"),
            ("GET", "/sobjects/{sobject}/describe/?", self._describe, "describe"),
            ("GET", "/sobjects/{sobject}/?", self._basic_info, "describe"),
            ("POST", "/sobjects/{sobject}/?", self._create, "sobjects"),
            ("GET", "/sobjects/{sobject}/{id}/?", self._get, "sobjects"),
            ("PATCH", "/sobjects/{sobject}/{id}/?", self._update, "sobjects"),
            ("DELETE", "/sobjects/{sobject}/{id}/?", self._delete, "sobjects"),
            ("POST", "/sobjects/{sobject}/{id}/?", self._create_by_id_field, "sobjects"),
            ("GET", "/sobjects/{sobject}/{field}/{value}/?", self._get_by_ext, "sobjects"),
            ("PATCH", "/sobjects/{sobject}/{field}/{value}/?", self._upsert, "sobjects"),
            ("DELETE", "/sobjects/{sobject}/{field}/{value}/?", self._delete_by_ext, "sobjects"),
            ("POST", "/composite/sobjects/?", lambda q: self._collection(q, "create"),
             "collections"),
            ("PATCH", "/composite/sobjects/?", lambda q: self._collection(q, "update"),
             "collections"),
            ("DELETE", "/composite/sobjects/?", self._collection_delete, "collections"),
            ("GET", "/composite/sobjects/{sobject}/?", self._collection_retrieve, "collections"),
            ("POST", "/composite/sobjects/{sobject}/?", self._collection_retrieve, "collections"),
            ("PATCH", "/composite/sobjects/{sobject}/{field}/?",
             lambda q: self._collection(q, "upsert"), "collections"),
            ("POST", "/composite/?", self._composite, "composite"),
        ]
        for method, path, handler, family in data:
            r.add(method, _V + path, self._metered(handler), family=f"salesforce.{family}",
                  auth="salesforce")
            if family != "composite":
                self._sub.add(method, _V + path, handler, family=family, auth=None)

    def _metered(self, handler: Handler) -> Handler:
        def run(req: Request) -> Response:
            with self.app.lock:
                if self.api_used >= self.api_limit:
                    resp = _err(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                else:
                    self.api_used += 1
                    self.store.clear_journal()
                    resp = self._safely(handler, req)
                resp.headers["Sforce-Limit-Info"] = self.limit_info()
                return resp
        return run

    def _safely(self, handler: Handler, req: Request) -> Response:
        try:
            return handler(req)
        except SfError as exc:
            return self._error(exc, req)
        except BadJson as exc:
            return _err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")

    def _error(self, exc: SfError, req: Request) -> Response:
        if exc.status == 300:
            version = req.params.get("version", "59.0")
            sobject = req.params.get("sobject", "")
            return Response.json(300, [f"/services/data/v{version}/sobjects/{sobject}/{i}"
                                       for i in exc.extra.get("ids", [])])
        return Response.json(exc.status, [e.as_error() for e in exc.errors()])

    def limit_info(self) -> str:
        return f"api-usage={self.api_used}/{self.api_limit}"

    # -- vendor-shaped fallbacks --------------------------------------------------------
    def unauthorized(self) -> Response:
        return _err(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def not_found(self, req: Request, path_known: bool) -> Response:
        if path_known:
            allowed = sorted({route.method for route in self.app.router.routes
                              if route.pattern.match(req.path)})
            return _err(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. "
                        f"Allowed are {','.join(allowed)}")
        return _err(404, "NOT_FOUND", "The requested resource does not exist")

    # -- dataset ------------------------------------------------------------------------
    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the org with a dataset; atomic: a bad dataset leaves the org untouched."""
        store = Store()
        store.load(data)
        limit = data.get("api_limit", DEFAULT_API_LIMIT)
        if not isinstance(limit, int) or limit < 0:
            raise DatasetError("api_limit: expected a non-negative integer")
        creds = data.get("credentials") or {}
        if not isinstance(creds, Mapping):
            raise DatasetError("credentials: expected an object")
        if creds.get("jwt_certificate") is not None:
            sf_oauth.public_key(str(creds["jwt_certificate"]))   # refused here, not at login
        with self.app.lock:
            self.store = store
            self.api_limit = limit
            self.api_used = int(data.get("api_used", 0))
            self.credentials = {k: str(v) for k, v in creds.items()}
            self._cursors.clear()
            self.bulk.reset()
            self.bulk_query.reset()

    def dump(self) -> dict[str, Any]:
        with self.app.lock:
            out = {"api_limit": self.api_limit, **self.store.dump()}
            if self.credentials:
                out["credentials"] = dict(self.credentials)
            return out

    def reset(self) -> None:
        with self.app.lock:
            self.store = Store()
            self.api_limit = DEFAULT_API_LIMIT
            self.api_used = 0
            self.credentials = {}
            self._cursors.clear()
            self.bulk.reset()
            self.bulk_query.reset()

    # -- Python helpers (tests, demo) ---------------------------------------------------
    def records(self, sobject: str) -> list[dict[str, Any]]:
        """Copies of the live records of an sObject, every field present, in creation order."""
        with self.app.lock:
            table = self.store.table(sobject)
            return [self.store.full(table.obj.name, r) for r in table.rows.values()]

    def get(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        with self.app.lock:
            row = self.store.get(sobject, record_id)
            return None if row is None else self.store.full(sobject, row)

    def insert(self, sobject: str, fields: Mapping[str, Any], *, auto_assign: bool = False,
               allow_duplicates: bool = False) -> str:
        """Create a record with the REST create's validation; raise SfError when invalid."""
        with self.app.lock:
            self.store.clear_journal()
            return self.store.create(sobject, fields, WriteOptions(
                auto_assign=auto_assign, allow_duplicates=allow_duplicates))

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any], *,
               auto_assign: bool = False) -> None:
        with self.app.lock:
            self.store.clear_journal()
            self.store.update(sobject, record_id, fields, WriteOptions(auto_assign=auto_assign))

    def delete(self, sobject: str, record_id: str) -> None:
        with self.app.lock:
            self.store.clear_journal()
            self.store.delete(sobject, record_id)

    def convert_lead(self, lead_id: str, contact_id: str | None = None,
                     account_id: str | None = None, opportunity_name: str | None = None
                     ) -> dict[str, Any]:
        """Convert a Lead (admin operation; Salesforce has no REST call for it); with
        ``opportunity_name`` an Opportunity too, as convertLead makes one."""
        with self.app.lock:
            self.store.clear_journal()
            return self.store.convert_lead(lead_id, contact_id, account_id, opportunity_name)

    def merge(self, sobject: str, master_id: str, loser_ids: list[str]) -> dict[str, Any]:
        """Merge up to two records into a master (admin operation; REST has no merge call)."""
        with self.app.lock:
            self.store.clear_journal()
            return self.store.merge(sobject, master_id, loser_ids)

    def add_user(self, last_name: str, **kw: Any) -> str:
        """Add a User (see ``Store.add_user``): ``first_name, email, username, active, user_id``."""
        with self.app.lock:
            self.store.clear_journal()
            return self.store.add_user(last_name, **kw)

    def add_queue(self, name: str, **kw: Any) -> str:
        """Add a queue (see ``Store.add_queue``): ``developer_name, sobjects, email, queue_id``."""
        with self.app.lock:
            self.store.clear_journal()
            return self.store.add_queue(name, **kw)

    def setup(self, data: Mapping[str, Any]) -> None:
        """Add users, queues, settings and picklist values to the live org (``Store.setup``)."""
        with self.app.lock:
            self.store.clear_journal()
            self.store.setup(data)

    def add_validation_rule(self, sobject: str, name: str, error_condition: str,
                            error_message: str, error_field: str | None = None,
                            active: bool = True) -> None:
        """Add (or replace, by name) a validation rule; DatasetError when the formula is bad."""
        spec: dict[str, Any] = {"sobject": sobject, "name": name, "active": active,
                                "error_condition": error_condition, "error_message": error_message}
        if error_field:
            spec["error_field"] = error_field
        self.setup({"validation_rules": [spec]})

    def set_duplicate_rule(self, sobject: str, active: bool = True,
                           action_on_insert: str = "block", **more: Any) -> None:
        """Turn the standard duplicate rule of Lead or Contact on or off, blocking or allowing."""
        self.setup({"duplicate_rules": [{"sobject": sobject, "active": active,
                                         "action_on_insert": action_on_insert, **more}]})

    def set_state_country_picklists(self, on: bool = True) -> None:
        """Turn the org's State and Country/Territory Picklists on or off."""
        with self.app.lock:
            self.store.set_state_country_picklists(on)

    def set_picklist(self, sobject: str, field_name: str, values: Any) -> None:
        """Replace a picklist's values, e.g. the org's own Lead Status list."""
        with self.app.lock:
            self.store.set_picklist(sobject, field_name, values)

    def set_api_limit(self, limit: int, used: int | None = None) -> None:
        with self.app.lock:
            self.api_limit = int(limit)
            if used is not None:
                self.api_used = int(used)

    @property
    def api_usage(self) -> tuple[int, int]:
        return self.api_used, self.api_limit

    # -- login --------------------------------------------------------------------------
    def _check_login(self, **given: str | None) -> bool:
        for key, value in given.items():
            expected = self.credentials.get(key)
            if expected is None:
                if not value:
                    return False
            elif key == "password":
                # the password grant and SOAP login append the security token
                if not value or not value.startswith(expected):
                    return False
            elif value != expected:
                return False
        return True

    def _token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace"),
                                              keep_blank_values=True).items()}
        grant = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = req.header("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        if grant == "client_credentials":
            if not self._check_login(client_id=client_id, client_secret=client_secret):
                return Response.json(400, {"error": "invalid_client",
                                           "error_description": "invalid client credentials"})
        elif grant in (sf_oauth.JWT_BEARER, "refresh_token"):
            refused = self.grants.handle(grant, form, (client_id, client_secret))
            if refused is not None:
                return refused
        elif grant == "password":
            if not self._check_login(client_id=client_id, client_secret=client_secret,
                                     username=form.get("username"), password=form.get("password")):
                return Response.json(400, {"error": "invalid_grant",
                                           "error_description": "authentication failure"})
        else:
            return Response.json(400, {"error": "unsupported_grant_type",
                                       "error_description": "grant type not supported"})
        issued = str(int(time.time() * 1000))
        ident = f"{self.app.base_url}/id/{ORG_ID}/{self.store.api_user_id}"
        signature = base64.b64encode(hmac.new(self.app.token.encode(), (ident + issued).encode(),
                                              hashlib.sha256).digest()).decode()
        return Response.json(200, {"access_token": self.app.token,
                                   "instance_url": self.app.base_url, "id": ident,
                                   "token_type": "Bearer", "issued_at": issued,
                                   "signature": signature})

    def _soap_login(self, req: Request) -> Response:
        text = req.body.decode("utf-8", "replace")

        def element(name: str) -> str | None:
            m = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", text, re.S)
            return unescape(m.group(1)) if m else None

        username, password = element("username"), element("password")
        if username is None or not self._check_login(username=username, password=password):
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
                '<soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: '
                'Invalid username, password, security token; or user locked out.</faultstring>'
                '<detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN'
                '</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security '
                'token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail>'
                '</soapenv:Fault></soapenv:Body></soapenv:Envelope>')
            return Response.text(500, body, "text/xml;charset=UTF-8")
        version = req.params.get("version", "59.0")
        base = self.app.base_url
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse>'
            f'<result><metadataServerUrl>{base}/services/Soap/m/{version}/{ORG_ID}'
            '</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>'
            f'<serverUrl>{base}/services/Soap/u/{version}/{ORG_ID}</serverUrl>'
            f'<sessionId>{escape(self.app.token)}</sessionId>'
            f'<userId>{self.store.api_user_id}</userId><userInfo><organizationId>{ORG_ID}'
            f'</organizationId><userName>{escape(username)}</userName></userInfo></result>'
            '</loginResponse></soapenv:Body></soapenv:Envelope>')
        return Response.text(200, body, "text/xml;charset=UTF-8")

    # -- discovery ----------------------------------------------------------------------
    def _versions(self, req: Request) -> Response:
        return Response.json(200, [{"label": _release(v), "url": f"/services/data/v{v}.0",
                                    "version": f"{v}.0"} for v in range(31, 63)])

    def _resources(self, req: Request) -> Response:
        base = f"/services/data/v{req.params['version']}"
        # Only what the sandbox answers (search/ and recent/ are not emulated); identity is the
        # absolute id URL, as in "List Available REST Resources".
        out = {name: f"{base}/{name}" for name in (
            "sobjects", "query", "queryAll", "limits", "composite")}
        out["identity"] = self.identity.identity_url()
        return Response.json(200, out)

    def _limits(self, req: Request) -> Response:
        def pair(mx: int, remaining: int) -> dict[str, int]:
            return {"Max": mx, "Remaining": max(0, remaining)}
        return Response.json(200, {
            "DailyApiRequests": pair(self.api_limit, self.api_limit - self.api_used),
            "DailyAsyncApexExecutions": pair(250000, 250000),
            "DailyBulkApiBatches": pair(15000, 15000 - self.bulk.batches_used),
            "DailyBulkV2QueryJobs": pair(10000, 10000 - self.bulk_query.jobs_used),
            "DataStorageMB": pair(5, 5),
            "SingleEmail": pair(5000, 5000),
        })

    def _sobject_summary(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        return {"activateable": False, "createable": True, "custom": False, "customSetting": False,
                "deletable": True, "keyPrefix": obj.key_prefix, "label": obj.label,
                "labelPlural": obj.label_plural, "layoutable": True, "mergeable": obj.name in (
                    "Lead", "Contact", "Account"), "name": obj.name, "queryable": True,
                "replicateable": True, "retrieveable": True, "searchable": True,
                "triggerable": True, "undeletable": True, "updateable": True,
                "urls": {"sobject": base, "describe": f"{base}/describe",
                         "rowTemplate": f"{base}/{{ID}}"}}

    def _global_describe(self, req: Request) -> Response:
        version = req.params["version"]
        return Response.json(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            self._sobject_summary(o, version) for o in self.store.objects.values()] + [
            self.front.summary(version)]})

    def _basic_info(self, req: Request) -> Response:
        obj = self.store.schema(self._param(req, "sobject"))
        return Response.json(200, {"objectDescribe": self._sobject_summary(
            obj, req.params["version"]), "recentItems": []})

    def _describe(self, req: Request) -> Response:
        obj = self.store.schema(self._param(req, "sobject"))
        out = self._sobject_summary(obj, req.params["version"])
        children = [{"cascadeDelete": lookup in ("CampaignId", "LeadId", "ContactId", "WhoId"),
                     "childSObject": child, "deprecatedAndHidden": False, "field": lookup,
                     "junctionIdListNames": [], "junctionReferenceTo": [],
                     "relationshipName": rel, "restrictedDelete": False}
                    for (parent, rel), (child, lookup) in soql_rel.CHILDREN.items()
                    if parent == obj.name]
        out.update({"childRelationships": children, "recordTypeInfos": [],
                    "fields": [f.describe() for f in obj.fields.values()]})
        return Response.json(200, out)

    # -- query --------------------------------------------------------------------------
    def _query(self, req: Request, include_deleted: bool) -> Response:
        text = req.arg("q")
        if not text:
            return _err(400, "MALFORMED_QUERY", "A query string has to be specified")
        if soql_rel.wanted(text):
            return self._query_rel(req, text, include_deleted)
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            return _err(400, exc.code, exc.message)
        sobject = self.store.sobject_name(query.sobject)
        if sobject is None:
            return _err(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported. "
                        "If you are attempting to use a custom object, be sure to append the "
                        "'__c' after the entity name. Please reference your WSDL or the describe "
                        "call for the appropriate names.")
        schema = self.store.schema(sobject).types()
        added_id = not query.count and "id" not in {f.lower() for f in query.fields}
        run = query
        if added_id:
            positions = query.field_positions + (0,) if query.field_positions else ()
            run = dataclasses.replace(query, fields=query.fields + ("Id",),
                                      field_positions=positions)
        constraints = soql.equality_constraints(run, schema)
        records = self.store.candidates(sobject, constraints, include_deleted)
        try:
            rows, total = soql.execute(run, records, schema)
        except soql.SoqlError as exc:
            if exc.code == "INVALID_FIELD" and "Didn't understand relationship" in exc.message:
                return self._query_rel(req, text, include_deleted)   # a parent path in WHERE
            return _err(400, exc.code, exc.message)
        if query.count:
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        version = req.params["version"]
        out = []
        for row in rows:
            rid = row.pop("Id") if added_id else row.get("Id")
            out.append({"attributes": {"type": sobject,
                                       "url": f"/services/data/v{version}/sobjects/{sobject}/{rid}"},
                        **row})
        return self._page(req, out, total, self._batch_size(req), 0, None,
                          cap=self._batch_cap(sobject, query.fields))

    def _query_rel(self, req: Request, text: str, include_deleted: bool) -> Response:
        """Relationship paths, subqueries and aggregates (``soql_rel``, ``soql_agg``)."""
        try:
            sel = soql_rel.parse(text)
            if soql_rel.is_aggregate(sel):
                result = soql_agg.run_aggregate(sel, self.store, include_deleted)
            else:
                result = soql_rel.run(sel, self.store, req.params["version"], include_deleted)
        except soql.SoqlError as exc:
            return _err(400, exc.code, exc.message)
        if result.count_only:
            return Response.json(200, {"totalSize": result.total, "done": True, "records": []})
        if result.aggregate:     # aggregate results come whole (no query locator)
            return Response.json(200, {"totalSize": result.total, "done": True,
                                       "records": result.rows})
        sobject = self.store.sobject_name(sel.sobject) or sel.sobject
        return self._page(req, result.rows, result.total, self._batch_size(req), 0, None,
                          cap=self._batch_cap(sobject, result.fields))

    def _batch_cap(self, sobject: str, fields: Any) -> int:
        """2,000 a page, or 200 when two or more custom long text fields are selected."""
        obj = self.store.schema(sobject)
        described = []
        for name in fields:
            fd = obj.field(name) if isinstance(name, str) else None
            if fd is not None:
                described.append((fd.name, fd.type, fd.length, fd.custom))
        return (sf_limits.LONG_TEXT_BATCH if sf_limits.long_text_fields(described) >= 2
                else 2000)

    @staticmethod
    def _batch_size(req: Request) -> int | None:
        options = req.header("Sforce-Query-Options") or ""
        m = re.search(r"batchSize\s*=\s*(\d+)", options, re.I)
        if not m:
            return None
        return min(2000, max(200, int(m.group(1))))

    def _page(self, req: Request, rows: list[dict[str, Any]], total: int, batch: int | None,
              start: int, locator: str | None, cap: int = 2000) -> Response:
        """One page of a result: at most ``batch`` records (children count), fewer when rows
        are wide (``sf_limits.page_end``); ``nextRecordsUrl`` carries the next row's index."""
        size = min(batch or 2000, cap)
        end = sf_limits.page_end(rows, start, size, self.query_page_bytes)
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(rows)}
        if end < len(rows):
            if locator is None:
                self._cursor_seq += 1
                locator = make_id("01g", self._cursor_seq)
                self._cursors[locator] = {"rows": rows, "total": total, "batch": size, "cap": cap}
                while len(self._cursors) > _MAX_CURSORS:
                    self._cursors.popitem(last=False)
            # A queryAll's next page is under query/ too (REST guide, "Execute a SOQL Query
            # that Includes Deleted Items"): the locator carries the deleted rows.
            body["nextRecordsUrl"] = (f"/services/data/v{req.params['version']}/query/"
                                      f"{locator}-{end}")
        elif locator is not None:
            self._cursors.pop(locator, None)
        body["records"] = rows[start:end]
        return Response.json(200, body)

    def _query_more(self, req: Request) -> Response:
        locator, _, offset = self._param(req, "locator").rpartition("-")
        cursor = self._cursors.get(locator)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor["rows"]):
            return _err(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self._cursors.move_to_end(locator)
        return self._page(req, cursor["rows"], cursor["total"],
                          self._batch_size(req) or cursor["batch"], int(offset), locator,
                          cap=cursor.get("cap", 2000))

    # -- sObject rows -------------------------------------------------------------------
    @staticmethod
    def _param(req: Request, name: str) -> str:
        return unquote(req.params[name])

    @staticmethod
    def _opts(req: Request) -> WriteOptions:
        assign = (req.header("Sforce-Auto-Assign") or "TRUE").strip().lower()
        dup = {}
        for part in re.split(r"[;,]", req.header("Sforce-Duplicate-Rule-Header") or ""):
            key, _, value = part.partition("=")
            dup[key.strip().lower()] = value.strip().lower() == "true"
        return WriteOptions(auto_assign=assign not in ("false", "0", "no"),
                            allow_duplicates=dup.get("allowsave", False),
                            record_details=dup.get("includerecorddetails", False),
                            api_version=req.params.get("version", "59.0"))

    def _record(self, sobject: str, row: Row, version: str,
                fields: list[str] | None = None) -> dict[str, Any]:
        obj = self.store.schema(sobject)
        names: Iterable[str] = obj.fields
        if fields is not None:
            chosen: list[str] = []
            for f in fields:
                fd = obj.field(f)
                if fd is None:
                    raise SfError("INVALID_FIELD", f"No such column '{f}' on entity "
                                  f"'{obj.name}'. If you are attempting to use a custom field, "
                                  "be sure to append the '__c' after the custom field name. "
                                  "Please reference your WSDL or the describe call for the "
                                  "appropriate names.")
                chosen.append(fd.name)
            names = chosen
        out: dict[str, Any] = {"attributes": {"type": obj.name, "url": (
            f"/services/data/v{version}/sobjects/{obj.name}/{row['Id']}")}}
        out.update(self.store.full(obj.name, row, names))
        return out

    def _fields_arg(self, req: Request) -> list[str] | None:
        raw = req.arg("fields")
        return [f.strip() for f in raw.split(",") if f.strip()] if raw else None

    def _create(self, req: Request) -> Response:
        sobject = self.store.schema(self._param(req, "sobject")).name
        rid = self.store.create(sobject, req.json(), self._opts(req))
        return Response.json(201, {"id": rid, "success": True, "errors": []}, {
            "Location": f"/services/data/v{req.params['version']}/sobjects/{sobject}/{rid}"})

    def _create_by_id_field(self, req: Request) -> Response:
        if self._param(req, "id").lower() == "id":   # POST .../sobjects/Lead/Id (API 37.0+)
            return self._create(req)
        return self.not_found(req, True)

    def _get(self, req: Request) -> Response:
        sobject = self._param(req, "sobject")
        row = self.store.live(sobject, self._param(req, "id"))
        return Response.json(200, self._record(sobject, row, req.params["version"],
                                               self._fields_arg(req)))

    def _update(self, req: Request) -> Response:
        self.store.update(self._param(req, "sobject"), self._param(req, "id"), req.json(),
                          self._opts(req))
        return Response.empty(204)

    def _delete(self, req: Request) -> Response:
        self.store.delete(self._param(req, "sobject"), self._param(req, "id"))
        return Response.empty(204)

    def _ext_match(self, req: Request) -> Row:
        sobject = self._param(req, "sobject")
        obj = self.store.schema(sobject)
        fd = self.store.external_id_field(obj, self._param(req, "field"))
        value = self._param(req, "value")
        if fd.name == "Id":
            return self.store.live(obj.name, value)
        matches = self.store.find(obj.name, fd.name, value)
        if len(matches) > 1:
            raise SfError("MULTIPLE_CHOICES", "", status=300,
                          extra={"ids": [m["Id"] for m in matches]})
        if not matches:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return matches[0]

    def _get_by_ext(self, req: Request) -> Response:
        row = self._ext_match(req)
        return Response.json(200, self._record(self._param(req, "sobject"), row,
                                               req.params["version"], self._fields_arg(req)))

    def _delete_by_ext(self, req: Request) -> Response:
        row = self._ext_match(req)
        self.store.delete(self._param(req, "sobject"), row["Id"])
        return Response.empty(204)

    def _upsert(self, req: Request) -> Response:
        sobject = self.store.schema(self._param(req, "sobject")).name
        rid, created = self.store.upsert(sobject, self._param(req, "field"),
                                         self._param(req, "value"), req.json(), self._opts(req))
        body: dict[str, Any] = {"id": rid, "success": True, "errors": []}
        if float(req.params["version"]) >= 46.0:
            body["created"] = created
        if created:
            return Response.json(201, body, {
                "Location": f"/services/data/v{req.params['version']}/sobjects/{sobject}/{rid}"})
        # API 46.0+ answers an update through upsert with 200 and a body; older versions 204
        return Response.json(200, body) if "created" in body else Response.empty(204)

    # -- sObject Collections ------------------------------------------------------------
    def _collection_body(self, req: Request) -> tuple[list[Any], bool]:
        body = req.json()
        if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
            raise SfError("JSON_PARSER_ERROR", "The request body must be an object with a "
                          "'records' array")
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise SfError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                          f"{MAX_COLLECTION} records into this call")
        return records, bool(body.get("allOrNone", False))

    def _collection(self, req: Request, op: str) -> Response:
        records, all_or_none = self._collection_body(req)
        if op != "upsert":   # an upsert names one sObject in its URL: one chunk
            sf_limits.check_chunks(records)
        opts = self._opts(req)
        ext_field = None
        seen: dict[str, int] = {}
        if op == "upsert":
            obj = self.store.schema(self._param(req, "sobject"))
            ext_field = self.store.external_id_field(obj, self._param(req, "field")).name
            for rec in records:
                value = rec.get(ext_field) if isinstance(rec, Mapping) else None
                if value is not None:
                    key = str(value).lower()
                    seen[key] = seen.get(key, 0) + 1
        start = self.store.mark()
        results: list[dict[str, Any]] = []
        failed = False
        self.store.same_save = set()   # one save: its records are not each other's duplicates
        for rec in records:
            mark = self.store.mark()
            result: dict[str, Any]
            rid: Any   # the id the store gave, or whatever JSON value the request sent
            try:
                if not isinstance(rec, Mapping):
                    raise SfError("JSON_PARSER_ERROR", "each record must be an object", [])
                attrs = rec.get("attributes")
                if not isinstance(attrs, Mapping):
                    attrs = {}
                sobject = attrs.get("type")
                if op == "upsert" and not sobject:
                    sobject = self._param(req, "sobject")
                if not sobject or self.store.sobject_name(sobject) is None:
                    raise SfError("INVALID_TYPE", "Must specify a valid type in the attributes "
                                  "field of each record", [])
                fields = {k: v for k, v in rec.items() if k != "attributes"}
                if op == "create":
                    rid = self.store.create(sobject, fields, opts)
                    result = {"id": rid, "success": True, "errors": []}
                elif op == "update":
                    rid = next((v for k, v in fields.items() if k.lower() == "id"), None)
                    fields = {k: v for k, v in fields.items() if k.lower() != "id"}
                    result = {"id": rid, "success": False, "errors": []}
                    self._collection_update(sobject, rid, fields, opts)
                    result["success"] = True
                else:
                    assert ext_field is not None
                    value = next((v for k, v in fields.items() if k.lower() == ext_field.lower()),
                                 None)
                    if value in (None, ""):
                        raise SfError("MISSING_ARGUMENT", f"{ext_field} not specified", [])
                    if seen.get(str(value).lower(), 0) > 1:
                        raise SfError("DUPLICATE_EXTERNAL_ID",
                                      f"Duplicate external id specified: {value}", [ext_field])
                    rid, created = self.store.upsert(sobject, ext_field, value, fields, opts)
                    result = {"id": rid, "success": True, "errors": [], "created": created}
            except SfError as exc:
                self.store.rollback(mark)
                failed = True
                message = ("Use one of these records?" if exc.code == "DUPLICATES_DETECTED"
                           else None)
                result = {"success": False, "errors": [e.as_item(message) for e in exc.errors()]}
                rid = rec.get("id", rec.get("Id")) if isinstance(rec, Mapping) else None
                if op == "update" and rid:
                    result = {"id": rid, **result}
                if op == "upsert":
                    result["created"] = False
            results.append(result)
        self.store.same_save = None
        if all_or_none and failed:
            self.store.rollback(start)
            rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                      "message": ROLLED_BACK_MESSAGE, "fields": []}
            for i, result in enumerate(results):
                if result["success"]:
                    keep_id = op != "create" and not result.get("created")
                    new = {"id": result["id"]} if keep_id else {}
                    new.update({"success": False, "errors": [dict(rolled)]})
                    if op == "upsert":
                        new["created"] = False
                    results[i] = new
        return Response.json(200, results)

    def _collection_update(self, sobject: str, rid: Any, fields: Mapping[str, Any],
                           opts: WriteOptions) -> None:
        if not rid:
            raise SfError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        table = self.store.table(sobject)
        id18 = to_id18(rid) if isinstance(rid, str) else None
        if id18 is None or id18[:3] != table.obj.key_prefix:
            raise SfError("MALFORMED_ID", f"Record ID: id value of incorrect type: {rid}", ["Id"])
        if id18 in table.deleted:
            raise SfError("ENTITY_IS_DELETED", "entity is deleted", [])
        if id18 not in table.rows:
            raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        self.store.update(sobject, id18, fields, opts)

    def _collection_delete(self, req: Request) -> Response:
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        if not ids:
            raise SfError("MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > MAX_COLLECTION:
            raise SfError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                          f"{MAX_COLLECTION} records into this call")
        all_or_none = (req.arg("allOrNone") or "false").lower() == "true"
        start = self.store.mark()
        results, failed = [], False
        for raw in ids:
            id18 = to_id18(raw)
            sobject = next((o.name for o in self.store.objects.values()
                            if id18 and o.key_prefix == id18[:3]), None)
            try:
                if id18 is None or sobject is None:
                    raise SfError("MALFORMED_ID", f"malformed id {raw}", [])
                table = self.store.table(sobject)
                if id18 in table.deleted:
                    raise SfError("ENTITY_IS_DELETED", "entity is deleted", [])
                if id18 not in table.rows:
                    raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                self.store.delete(sobject, id18)
                results.append({"id": id18, "success": True, "errors": []})
            except SfError as exc:
                failed = True
                results.append({"id": raw, "success": False, "errors": [exc.as_item()]})
        if all_or_none and failed:
            self.store.rollback(start)
            for r in results:
                if r["success"]:
                    r["success"] = False
                    r["errors"] = [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                    "message": ROLLED_BACK_MESSAGE, "fields": []}]
        return Response.json(200, results)

    def _collection_retrieve(self, req: Request) -> Response:
        sobject = self.store.schema(self._param(req, "sobject")).name
        if req.method == "POST":
            body = req.json()
            ids, fields = body.get("ids") or [], body.get("fields") or []
        else:
            ids = [i for i in (req.arg("ids") or "").split(",") if i]
            fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if not fields:
            raise SfError("MISSING_ARGUMENT", "fields parameter is required")
        if len(ids) > 2000:
            raise SfError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                          "2000 records into this call")
        out: list[Any] = []
        for raw in ids:
            row = self.store.get(sobject, raw)
            out.append(None if row is None else self._record(sobject, row, req.params["version"],
                                                             fields))
        return Response.json(200, out)

    # -- composite ----------------------------------------------------------------------
    def _composite(self, req: Request) -> Response:
        body = req.json()
        subs = body.get("compositeRequest") if isinstance(body, Mapping) else None
        if not isinstance(subs, list) or not subs:
            raise SfError("JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
        if len(subs) > MAX_COMPOSITE:
            raise SfError("LIMIT_EXCEEDED", f"Limit Exceeded. A composite request can contain "
                          f"at most {MAX_COMPOSITE} subrequests.")
        sf_limits.check_composite(subs)
        refs = [s.get("referenceId") if isinstance(s, Mapping) else None for s in subs]
        for ref in refs:
            if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ref):
                raise SfError("INVALID_INPUT", f"Invalid referenceId: {ref!r}. A referenceId "
                              "must start with a letter and contain only letters, numbers and "
                              "underscores.")
        if len(set(refs)) != len(refs):
            raise SfError("INVALID_INPUT", "Duplicate referenceId provided in the request")
        all_or_none = bool(body.get("allOrNone", False))
        start = self.store.mark()
        bodies: dict[str, Any] = {}
        responses: list[dict[str, Any]] = []
        failed = False
        for sub in subs:
            ref = sub["referenceId"]
            if failed and all_or_none:
                responses.append(self._halted(ref))
                continue
            try:
                url = self._resolve(sub.get("url") or "", bodies, in_url=True)
                sub_body = self._resolve(sub.get("body"), bodies)
            except _RefError as exc:
                failed = True
                responses.append({"body": [{"errorCode": "PROCESSING_HALTED",
                                            "message": str(exc)}], "httpHeaders": {},
                                  "httpStatusCode": 400, "referenceId": ref})
                continue
            resp = self._subrequest(req, str(sub.get("method") or "GET").upper(), url, sub_body,
                                    sub.get("httpHeaders") or {})
            parsed = json.loads(resp.body) if resp.body else None
            if resp.status < 300:
                bodies[ref] = parsed
            else:
                failed = True
            headers = {"Location": resp.headers["Location"]} if "Location" in resp.headers else {}
            responses.append({"body": parsed, "httpHeaders": headers,
                              "httpStatusCode": resp.status, "referenceId": ref})
        if all_or_none and failed:
            self.store.rollback(start)
            responses = [r if r["httpStatusCode"] >= 400 else self._halted(r["referenceId"])
                         for r in responses]
        return Response.json(200, {"compositeResponse": responses})

    @staticmethod
    def _halted(ref: str) -> dict[str, Any]:
        return {"body": [{"errorCode": "PROCESSING_HALTED", "message": _HALTED}],
                "httpHeaders": {}, "httpStatusCode": 400, "referenceId": ref}

    def _resolve(self, value: Any, bodies: Mapping[str, Any], in_url: bool = False) -> Any:
        """Replace ``@{ref.path}`` references with values from earlier subrequest responses."""
        if isinstance(value, dict):
            return {k: self._resolve(v, bodies) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolve(v, bodies) for v in value]
        if not isinstance(value, str) or "@{" not in value:
            return value

        def lookup(m: re.Match[str]) -> Any:
            ref, path = m.group(1), m.group(2)
            expr = ref + path
            if ref not in bodies:
                raise _RefError(f"Invalid reference specified. No value for {expr} found in "
                                f"{ref}. Provided referenceId ({ref}) must be a previous "
                                "successful subrequest.")
            current = bodies[ref]
            for step in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
                key, index = step
                try:
                    current = current[key] if key else current[int(index)]
                except (KeyError, IndexError, TypeError):
                    raise _RefError(f"Invalid reference specified. No value for {expr} found "
                                    f"in {ref}.") from None
            return current

        whole = _REF_RE.fullmatch(value)
        if whole and not in_url:
            return lookup(whole)
        return _REF_RE.sub(lambda m: str(lookup(m)), value)

    def _subrequest(self, outer: Request, method: str, url: str, body: Any,
                    headers: Mapping[str, str]) -> Response:
        merged = {k: v for k, v in outer.headers.items()}
        merged.update(headers)
        raw = b"" if body is None else json.dumps(body).encode("utf-8")
        sub = Request.build(method, url, merged, raw)
        route, params, known = self._sub.match(method, sub.path)
        if route is None:
            if re.match(_V + r"/composite/?$", sub.path):
                return _err(400, "INVALID_INPUT", "A composite subrequest cannot be a composite "
                            "request")
            return self.not_found(sub, known)
        sub.params = params
        mark = self.store.mark()
        resp = self._safely(route.handler, sub)
        if resp.status >= 400:
            self.store.rollback(mark)
        return resp
