"""The Salesforce REST API of the sandbox: login, query, sObjects, collections, composite.

This module speaks the wire protocol (paths, headers, status codes, JSON shapes) and
leaves every data rule to :mod:`sf_store`. Each authenticated ``/services/data`` call is
metered like an org's daily allowance: it counts once (a composite call too, whatever
its subrequests), every reply carries ``Sforce-Limit-Info`` and, past the limit, every
call gets ``403 REQUEST_LIMIT_EXCEEDED``.

``SalesforceApi`` owns the org (store, meter, credentials), registers the routes and keeps
the Python helpers tests and the demo use; the routes themselves live by resource in
``sf_login``, ``sf_discovery``, ``sf_query_api``, ``sf_sobjects``, ``sf_collections`` and
``sf_composite``, each given this object as its host (``sf_rest_common.RouteHost``).
"""

from __future__ import annotations

from typing import Any, Mapping

from . import sf_limits, sf_oauth
from .bulk_api import BulkApi
from .http import BadJson, Request, Response, Router
from .sf_collections import Collections
from .sf_composite import MAX_COMPOSITE, Composite
from .sf_discovery import Discovery
from .sf_login import Login
from .sf_query_api import QueryRoutes
from .sf_rest_common import MAX_COLLECTION, ORG_ID, Handler, err
from .sf_rest_common import V as _V
from .sf_schema import ObjectDef
from .sf_sobjects import SObjectRoutes
from .sf_store import DatasetError, SfError, Store, WriteOptions

__all__ = ["SalesforceApi", "SfError", "DatasetError", "DEFAULT_API_LIMIT", "MAX_COLLECTION",
           "MAX_COMPOSITE", "ORG_ID", "Handler"]

DEFAULT_API_LIMIT = 100_000


class SalesforceApi:
    """Registers the Salesforce routes on ``app.router`` and owns the org's store."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.store = Store()
        self.api_limit = DEFAULT_API_LIMIT
        self.api_used = 0
        self.credentials: dict[str, str] = {}
        self.query_page_bytes = sf_limits.DEFAULT_PAGE_BYTES  # see sf_limits.page_end
        self._sub = Router()   # the same data routes, unmetered, for composite subrequests
        # The routes, by resource; each reads the org through this object.
        self.login = Login(self)
        self.discovery = Discovery(self)
        self.queries = QueryRoutes(self)
        self.sobjects = SObjectRoutes(self)
        self.collections = Collections(self, self.sobjects)
        self.composite = Composite(self, self._sub)
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
        r.add("POST", "/services/oauth2/token/?", self.login.token, family="salesforce.auth",
              auth=None)
        r.add("POST", r"/services/Soap/u/(?P<version>\d+\.\d+)/?", self.login.soap_login,
              family="salesforce.auth", auth=None)
        r.add("GET", "/services/data/?", self.discovery.versions, family="salesforce.versions",
              auth=None)
        data = [
            ("GET", "/?", self.discovery.resources, "versions"),
            ("GET", "/limits/?", self.discovery.limits, "limits"),
            ("GET", "/query/?", lambda q: self.front.query(q, False), "query"),
            ("GET", "/queryAll/?", lambda q: self.front.query(q, True), "query"),
            ("GET", "/query/{locator}/?", self.queries.query_more, "query"),
            ("GET", "/queryAll/{locator}/?", self.queries.query_more, "query"),
            ("GET", "/sobjects/?", self.discovery.global_describe, "describe"),
            ("GET", "/sobjects/{sobject}/describe/?", self.discovery.describe, "describe"),
            ("GET", "/sobjects/{sobject}/?", self.discovery.basic_info, "describe"),
            ("POST", "/sobjects/{sobject}/?", self.sobjects.create, "sobjects"),
            ("GET", "/sobjects/{sobject}/{id}/?", self.sobjects.get, "sobjects"),
            ("PATCH", "/sobjects/{sobject}/{id}/?", self.sobjects.update, "sobjects"),
            ("DELETE", "/sobjects/{sobject}/{id}/?", self.sobjects.delete, "sobjects"),
            ("POST", "/sobjects/{sobject}/{id}/?", self.sobjects.create_by_id_field, "sobjects"),
            ("GET", "/sobjects/{sobject}/{field}/{value}/?", self.sobjects.get_by_ext, "sobjects"),
            ("PATCH", "/sobjects/{sobject}/{field}/{value}/?", self.sobjects.upsert, "sobjects"),
            ("DELETE", "/sobjects/{sobject}/{field}/{value}/?", self.sobjects.delete_by_ext,
             "sobjects"),
            ("POST", "/composite/sobjects/?", lambda q: self.collections.save(q, "create"),
             "collections"),
            ("PATCH", "/composite/sobjects/?", lambda q: self.collections.save(q, "update"),
             "collections"),
            ("DELETE", "/composite/sobjects/?", self.collections.delete, "collections"),
            ("GET", "/composite/sobjects/{sobject}/?", self.collections.retrieve, "collections"),
            ("POST", "/composite/sobjects/{sobject}/?", self.collections.retrieve, "collections"),
            ("PATCH", "/composite/sobjects/{sobject}/{field}/?",
             lambda q: self.collections.save(q, "upsert"), "collections"),
            ("POST", "/composite/?", self.composite.run, "composite"),
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
                    resp = err(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
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
            return err(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}")

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
        return err(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def not_found(self, req: Request, path_known: bool) -> Response:
        if path_known:
            allowed = sorted({route.method for route in self.app.router.routes
                              if route.pattern.match(req.path)})
            return err(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. "
                        f"Allowed are {','.join(allowed)}")
        return err(404, "NOT_FOUND", "The requested resource does not exist")

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
            self.queries.reset()
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
            self.queries.reset()
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
                            error_message: str, *, error_field: str | None = None,
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

    # -- what the modules around the routes call (rest_host.RestHost, sf_oauth) -------------
    def _check_login(self, **given: str | None) -> bool:
        return self.login.check(**given)

    def _query(self, req: Request, include_deleted: bool) -> Response:
        return self.queries.query(req, include_deleted)

    def _query_more(self, req: Request) -> Response:
        return self.queries.query_more(req)

    def _sobject_summary(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        return self.discovery.sobject_summary(obj, version)
