"""Salesforce discovery routes: versions, resources, limits and describe.

Split out of ``salesforce_api``: what a client reads before it works (which API versions
exist, what an org's objects and fields are, how much of the daily allowance is left),
shaped as the REST API answers it.
"""

from __future__ import annotations

from typing import Any

from . import soql_rel
from .http import Request, Response
from .sf_rest_common import RouteHost, param
from .sf_schema import ObjectDef

def _release(version: int) -> str:
    k = version - 59
    season = ("Winter", "Spring", "Summer")[k % 3]
    return f"{season} '{24 + k // 3:02d}"


class Discovery:
    """The read-only routes that describe the API and the org."""

    def __init__(self, api: RouteHost) -> None:
        self.api = api

    def versions(self, req: Request) -> Response:
        return Response.json(200, [{"label": _release(v), "url": f"/services/data/v{v}.0",
                                    "version": f"{v}.0"} for v in range(31, 63)])

    def resources(self, req: Request) -> Response:
        base = f"/services/data/v{req.params['version']}"
        # Only what the sandbox answers (search/ and recent/ are not emulated); identity is the
        # absolute id URL, as in "List Available REST Resources".
        out = {name: f"{base}/{name}" for name in (
            "sobjects", "query", "queryAll", "limits", "composite")}
        out["identity"] = self.api.identity.identity_url()
        return Response.json(200, out)

    def limits(self, req: Request) -> Response:
        def pair(mx: int, remaining: int) -> dict[str, int]:
            return {"Max": mx, "Remaining": max(0, remaining)}
        return Response.json(200, {
            "DailyApiRequests": pair(self.api.api_limit, self.api.api_limit - self.api.api_used),
            "DailyAsyncApexExecutions": pair(250000, 250000),
            "DailyBulkApiBatches": pair(15000, 15000 - self.api.bulk.batches_used),
            "DailyBulkV2QueryJobs": pair(10000, 10000 - self.api.bulk_query.jobs_used),
            "DataStorageMB": pair(5, 5),
            "SingleEmail": pair(5000, 5000),
        })

    def sobject_summary(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        return {"activateable": False, "createable": True, "custom": False, "customSetting": False,
                "deletable": True, "keyPrefix": obj.key_prefix, "label": obj.label,
                "labelPlural": obj.label_plural, "layoutable": True, "mergeable": obj.name in (
                    "Lead", "Contact", "Account"), "name": obj.name, "queryable": True,
                "replicateable": True, "retrieveable": True, "searchable": True,
                "triggerable": True, "undeletable": True, "updateable": True,
                "urls": {"sobject": base, "describe": f"{base}/describe",
                         "rowTemplate": f"{base}/{{ID}}"}}

    def global_describe(self, req: Request) -> Response:
        version = req.params["version"]
        return Response.json(200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            self.sobject_summary(o, version) for o in self.api.store.objects.values()] + [
            self.api.front.summary(version)]})

    def basic_info(self, req: Request) -> Response:
        obj = self.api.store.schema(param(req, "sobject"))
        return Response.json(200, {"objectDescribe": self.sobject_summary(
            obj, req.params["version"]), "recentItems": []})

    def describe(self, req: Request) -> Response:
        obj = self.api.store.schema(param(req, "sobject"))
        out = self.sobject_summary(obj, req.params["version"])
        children = [{"cascadeDelete": lookup in ("CampaignId", "LeadId", "ContactId", "WhoId"),
                     "childSObject": child, "deprecatedAndHidden": False, "field": lookup,
                     "junctionIdListNames": [], "junctionReferenceTo": [],
                     "relationshipName": rel, "restrictedDelete": False}
                    for (parent, rel), (child, lookup) in soql_rel.CHILDREN.items()
                    if parent == obj.name]
        out.update({"childRelationships": children, "recordTypeInfos": [],
                    "fields": [f.describe() for f in obj.fields.values()]})
        return Response.json(200, out)
