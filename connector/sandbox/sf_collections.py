"""Salesforce sObject Collections: up to 200 records created, updated, upserted or
deleted in one call, and retrieved by id.

Split out of ``salesforce_api``: per-record results, ``allOrNone`` rollbacks through the
store's journal, and the save that keeps a call's own records from being each other's
duplicates.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import sf_limits
from .http import Request, Response
from .sf_errors import SfError
from .sf_rest_common import MAX_COLLECTION, RouteHost, param, write_options
from .sf_schema import to_id18
from .sf_sobjects import SObjectRoutes
from .sf_store import ROLLED_BACK_MESSAGE, WriteOptions


class Collections:
    """The /composite/sobjects routes."""

    def __init__(self, api: RouteHost, rows: SObjectRoutes) -> None:
        self.api = api
        self.rows = rows

    def _body(self, req: Request) -> tuple[list[Any], bool]:
        body = req.json()
        if not isinstance(body, Mapping) or not isinstance(body.get("records"), list):
            raise SfError("JSON_PARSER_ERROR", "The request body must be an object with a "
                          "'records' array")
        records = body["records"]
        if len(records) > MAX_COLLECTION:
            raise SfError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                          f"{MAX_COLLECTION} records into this call")
        return records, bool(body.get("allOrNone", False))

    def save(self, req: Request, op: str) -> Response:
        records, all_or_none = self._body(req)
        if op != "upsert":   # an upsert names one sObject in its URL: one chunk
            sf_limits.check_chunks(records)
        opts = write_options(req)
        ext_field = None
        seen: dict[str, int] = {}
        if op == "upsert":
            obj = self.api.store.schema(param(req, "sobject"))
            ext_field = self.api.store.external_id_field(obj, param(req, "field")).name
            for rec in records:
                value = rec.get(ext_field) if isinstance(rec, Mapping) else None
                if value is not None:
                    key = str(value).lower()
                    seen[key] = seen.get(key, 0) + 1
        start = self.api.store.mark()
        results: list[dict[str, Any]] = []
        failed = False
        self.api.store.same_save = set()   # one save: its records are not each other's duplicates
        for rec in records:
            mark = self.api.store.mark()
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
                    sobject = param(req, "sobject")
                if not sobject or self.api.store.sobject_name(sobject) is None:
                    raise SfError("INVALID_TYPE", "Must specify a valid type in the attributes "
                                  "field of each record", [])
                fields = {k: v for k, v in rec.items() if k != "attributes"}
                if op == "create":
                    rid = self.api.store.create(sobject, fields, opts)
                    result = {"id": rid, "success": True, "errors": []}
                elif op == "update":
                    rid = next((v for k, v in fields.items() if k.lower() == "id"), None)
                    fields = {k: v for k, v in fields.items() if k.lower() != "id"}
                    result = {"id": rid, "success": False, "errors": []}
                    self._update_one(sobject, rid, fields, opts)
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
                    rid, created = self.api.store.upsert(sobject, ext_field, value, fields, opts=opts)
                    result = {"id": rid, "success": True, "errors": [], "created": created}
            except SfError as exc:
                self.api.store.rollback(mark)
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
        self.api.store.same_save = None
        if all_or_none and failed:
            self.api.store.rollback(start)
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

    def _update_one(self, sobject: str, rid: Any, fields: Mapping[str, Any],
                    opts: WriteOptions) -> None:
        if not rid:
            raise SfError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        table = self.api.store.table(sobject)
        id18 = to_id18(rid) if isinstance(rid, str) else None
        if id18 is None or id18[:3] != table.obj.key_prefix:
            raise SfError("MALFORMED_ID", f"Record ID: id value of incorrect type: {rid}", ["Id"])
        if id18 in table.deleted:
            raise SfError("ENTITY_IS_DELETED", "entity is deleted", [])
        if id18 not in table.rows:
            raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        self.api.store.update(sobject, id18, fields, opts)

    def delete(self, req: Request) -> Response:
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        if not ids:
            raise SfError("MISSING_ARGUMENT", "ids parameter is required")
        if len(ids) > MAX_COLLECTION:
            raise SfError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than "
                          f"{MAX_COLLECTION} records into this call")
        all_or_none = (req.arg("allOrNone") or "false").lower() == "true"
        start = self.api.store.mark()
        results, failed = [], False
        for raw in ids:
            id18 = to_id18(raw)
            sobject = next((o.name for o in self.api.store.objects.values()
                            if id18 and o.key_prefix == id18[:3]), None)
            try:
                if id18 is None or sobject is None:
                    raise SfError("MALFORMED_ID", f"malformed id {raw}", [])
                table = self.api.store.table(sobject)
                if id18 in table.deleted:
                    raise SfError("ENTITY_IS_DELETED", "entity is deleted", [])
                if id18 not in table.rows:
                    raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
                self.api.store.delete(sobject, id18)
                results.append({"id": id18, "success": True, "errors": []})
            except SfError as exc:
                failed = True
                results.append({"id": raw, "success": False, "errors": [exc.as_item()]})
        if all_or_none and failed:
            self.api.store.rollback(start)
            for r in results:
                if r["success"]:
                    r["success"] = False
                    r["errors"] = [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                    "message": ROLLED_BACK_MESSAGE, "fields": []}]
        return Response.json(200, results)

    def retrieve(self, req: Request) -> Response:
        sobject = self.api.store.schema(param(req, "sobject")).name
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
            row = self.api.store.get(sobject, raw)
            out.append(None if row is None
                       else self.rows.record(sobject, row, req.params["version"], fields))
        return Response.json(200, out)
