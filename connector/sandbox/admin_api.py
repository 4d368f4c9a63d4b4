"""``/_sandbox/``: the sandbox's own control endpoints (not a vendor API).

Reset, load and dump the dataset, add users, queues and org settings to the live org
(``salesforce/setup``), convert a lead and merge records (Salesforce has no REST call for
either), read and reset counters, configure fault injection and the Salesforce API
allowance, all over HTTP so a sandbox started with ``leadsync sandbox serve`` in another
process can be driven by scripts. Same bearer token as the vendor APIs; never counted as API
usage and never subject to injected faults.
"""

from __future__ import annotations

from typing import Any, Callable

from .faults import FaultConfigError
from .http import BadJson, Request, Response
from .sf_store import DatasetError, SfError

Handler = Callable[[Request], Response]


def _error(status: int, message: str, **extra: Any) -> Response:
    return Response.json(status, {"error": message, **extra})


class AdminApi:
    """Registers the ``/_sandbox/`` routes (family ``admin``, auth ``admin``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        app.faults.bind(app)
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/_sandbox/reset", self._reset),
            ("POST", "/_sandbox/load", self._load),
            ("GET", "/_sandbox/dump", self._dump),
            ("POST", "/_sandbox/convert-lead", self._convert_lead),
            ("POST", "/_sandbox/merge", self._merge),
            ("GET", "/_sandbox/counters", self._counters),
            ("POST", "/_sandbox/counters/reset", self._counters_reset),
            ("GET", "/_sandbox/faults", self._faults_get),
            ("POST", "/_sandbox/faults", self._faults_set),
            ("POST", "/_sandbox/salesforce/limit", self._limit),
            ("POST", "/_sandbox/salesforce/setup", self._setup),
            ("POST", "/_sandbox/hubspot/scopes", self._scopes),
        ]
        for method, path, handler in routes:
            app.router.add(method, path + "/?", self._guard(handler), family="admin", auth="admin")

    @staticmethod
    def _guard(handler: Handler) -> Handler:
        def run(req: Request) -> Response:
            try:
                return handler(req)
            except BadJson as exc:
                return _error(400, f"request body is not valid JSON: {exc}")
            except DatasetError as exc:
                return _error(400, str(exc))
            except SfError as exc:
                return _error(400 if exc.status < 500 else exc.status, exc.message,
                              errorCode=exc.code)
            except FaultConfigError as exc:
                return _error(400, str(exc))
        return run

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        if not req.body.strip():
            return {}
        body = req.json()
        if not isinstance(body, dict):
            raise BadJson("expected a JSON object")
        return body

    def _reset(self, req: Request) -> Response:
        self.app.reset()
        return Response.json(200, {"ok": True})

    def _load(self, req: Request) -> Response:
        body = self._body(req)
        try:
            self.app.load(body)
        except (ValueError, TypeError, KeyError) as exc:
            raise DatasetError(str(exc)) from exc
        sf = self.app.salesforce
        with self.app.lock:
            counts = {name: len(t.rows) for name, t in sf.store.tables.items()}
        return Response.json(200, {"ok": True, "salesforce": {"records": counts}})

    def _dump(self, req: Request) -> Response:
        return Response.json(200, self.app.dump())

    def _convert_lead(self, req: Request) -> Response:
        body = self._body(req)
        lead_id = body.get("lead_id") or body.get("leadId")
        if not isinstance(lead_id, str):
            return _error(400, "lead_id is required")
        result = self.app.salesforce.convert_lead(
            lead_id, body.get("contact_id") or body.get("contactId"),
            body.get("account_id") or body.get("accountId"),
            body.get("opportunity_name") or body.get("opportunityName"))
        return Response.json(200, result)

    def _merge(self, req: Request) -> Response:
        """``{"sobject": "Lead", "master": "00Q..", "losers": ["00Q.."]}``: SOAP merge()'s effect."""
        body = self._body(req)
        sobject, master, losers = body.get("sobject"), body.get("master"), body.get("losers")
        if (not isinstance(sobject, str) or not isinstance(master, str) or not isinstance(losers, list)
                or not all(isinstance(x, str) for x in losers)):
            return _error(400, "sobject (a name), master (an id) and losers (a list of ids) are required")
        return Response.json(200, self.app.salesforce.merge(sobject, master, losers))

    def _counters(self, req: Request) -> Response:
        used, limit = self.app.salesforce.api_usage
        with self.app.lock:
            counters = dict(self.app.counters)
        return Response.json(200, {"counters": counters,
                                   "salesforce": {"api_usage": {"used": used, "limit": limit}},
                                   "faults": dict(self.app.faults.stats)})

    def _counters_reset(self, req: Request) -> Response:
        with self.app.lock:
            self.app.counters.clear()
        self.app.faults.stats.clear()
        return Response.json(200, {"ok": True})

    def _faults_get(self, req: Request) -> Response:
        return Response.json(200, {"settings": self.app.faults.settings,
                                   "stats": dict(self.app.faults.stats)})

    def _faults_set(self, req: Request) -> Response:
        settings = self.app.faults.configure(**self._body(req))
        return Response.json(200, {"settings": settings, "stats": dict(self.app.faults.stats)})

    def _scopes(self, req: Request) -> Response:
        """``{"revoked": ["crm.objects.marketing_events.read"]}``: the scopes the sandbox
        token's app lacks from now on (``[]`` grants them all again); ``{"granted": ["forms",
        ...]}``: the only scopes it holds, as a private app holds the ones ticked when it was
        made. To rehearse a private app set up without one (HubSpot then answers 403
        MISSING_SCOPES)."""
        body = self._body(req)
        lists: dict[str, list[str]] = {}
        for key in ("revoked", "granted"):
            names = body.get(key, [])
            if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
                return _error(400, f'"{key}" must be a list of scope names')
            if key in body:
                lists[key] = names
        hubspot = self.app.hubspot
        hubspot.grant_all_scopes()
        if "granted" in lists:
            hubspot.grant_only(*lists["granted"])
        hubspot.revoke_scopes(*lists.get("revoked", []))
        granted = hubspot.granted_scopes
        return Response.json(200, {"revoked": sorted(hubspot.revoked_scopes),
                                   "granted": None if granted is None else sorted(granted)})

    def _setup(self, req: Request) -> Response:
        """Add users, queues, settings, picklist values, validation and duplicate rules without
        reloading the org (a bad formula or rule is a 400 naming the rule and the reason)."""
        sf = self.app.salesforce
        sf.setup(self._body(req))
        with self.app.lock:
            store = sf.store
            return Response.json(200, {"ok": True, "settings": {
                "state_country_picklists": store.state_country},
                "records": {n: len(store.tables[n].rows) for n in ("User", "Group")},
                "validation_rules": store.validation_rules.dump(),
                "duplicate_rules": store.duplicate_rules.dump()})

    def _limit(self, req: Request) -> Response:
        body = self._body(req)
        sf = self.app.salesforce
        limit = body.get("api_limit", sf.api_limit)
        used = body.get("used")
        if not isinstance(limit, int) or limit < 0 or (used is not None and (
                not isinstance(used, int) or used < 0)):
            return _error(400, "api_limit and used must be non-negative integers")
        sf.set_api_limit(limit, used)
        used, limit = sf.api_usage
        return Response.json(200, {"used": used, "limit": limit})
