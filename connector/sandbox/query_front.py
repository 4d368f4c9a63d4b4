"""What the ``query/`` resource does before and around running SOQL.

The SOQL engine (:mod:`soql`) and the record shaping of ``SalesforceApi._query`` answer a
query. This module adds what real clients also send to the same resource:

* ``columns=true`` (the ``sf`` CLI's ``sf data query`` asks it after every query, and reads
  ``columnMetadata``): the selected columns described, relationship paths as ``joinColumns``,
  without running the query (``@salesforce/plugin-data``, ``retrieveColumns``);
* Salesforce's statement limit: over 100,000 characters is ``MALFORMED_QUERY``;
* ``Organization``, the read-only one-row object of :mod:`sf_identity`, which the store does not
  hold (simple-salesforce's ``is_sandbox()``; the ``sf`` CLI's org checks);
* :meth:`QueryFront.run_all`, the whole result of a query through the same path, for the Bulk
  API 2.0 query jobs.

Sources for each fact are in ``docs/sandbox-wire-facts.md``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import soql
from .http import Request, Response
from .sf_schema import STRING_TYPES, FieldDef, ObjectDef
from .sf_store import SfError

if TYPE_CHECKING:
    from .rest_host import RestHost as SalesforceApi
    from .sf_identity import Identity

MAX_SOQL = 100_000
_V = r"/services/data/v(?P<version>\d+\.\d+)"
_APEX_TYPES = {"id": "Id", "reference": "Id", "boolean": "Boolean", "int": "Integer",
               "double": "Double", "currency": "Decimal", "percent": "Decimal", "date": "Date",
               "datetime": "Datetime"}
_NUMBER_TYPES = {"int", "double", "currency", "percent"}


def _err(status: int, code: str, message: str) -> Response:
    return Response.json(status, [{"message": message, "errorCode": code}])


class QueryFront:
    """The ``query/`` and ``queryAll/`` front, and ``Organization``'s describe and read."""

    def __init__(self, sf: "SalesforceApi", identity: "Identity") -> None:
        self.sf = sf
        self.identity = identity
        # Ahead of the generic sObject routes, which look objects up in the store.
        org = "/sobjects/(?i:Organization)"
        routes = [("GET", org + "/describe/?", self._describe),
                  ("GET", org + "/?", self._basic_info),
                  ("GET", org + "/{id}/?", self._get)]
        for method, path, handler in reversed(routes):
            sf.app.router.add(method, _V + path, sf._metered(handler),
                              family="salesforce.describe", auth="salesforce", first=True)

    # -- query/ and queryAll/ ---------------------------------------------------------------
    def query(self, req: Request, include_deleted: bool) -> Response:
        text = req.arg("q")
        if text and len(text) > MAX_SOQL:
            return _err(400, "MALFORMED_QUERY",
                        f"SOQL statements can not be longer than {MAX_SOQL} characters")
        columns = (req.arg("columns") or "").lower() == "true"
        if not text or not (columns or self._is_organization(text)):
            return self.sf._query(req, include_deleted)
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            return _err(400, exc.code, exc.message)
        obj = self._object(query.sobject)
        if obj is None:
            return self.sf._query(req, include_deleted)   # its INVALID_TYPE error
        try:
            if columns:
                return Response.json(200, self.columns(query, obj))
            return self._organization(req, query)
        except soql.SoqlError as exc:
            return _err(400, exc.code, exc.message)
        except SfError as exc:
            return Response.json(exc.status, [exc.as_error()])

    def _is_organization(self, text: str) -> bool:
        try:
            return soql.parse(text).sobject.lower() == "organization"
        except soql.SoqlError:
            return False

    def _object(self, name: str) -> ObjectDef | None:
        if name.lower() == "organization":
            return self.identity.organization
        canonical = self.sf.store.sobject_name(name)
        return None if canonical is None else self.sf.store.schema(canonical)

    def _organization(self, req: Request, query: soql.Query) -> Response:
        obj = self.identity.organization
        row = self.identity.organization_row()
        rows, total = soql.execute(query, [row], obj.types())
        if query.count:
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        version = req.params["version"]
        url = f"/services/data/v{version}/sobjects/Organization/{row['Id']}"
        records = [{"attributes": {"type": "Organization", "url": url}, **r} for r in rows]
        return Response.json(200, {"totalSize": len(records), "done": True, "records": records})

    # -- columns=true -----------------------------------------------------------------------
    def columns(self, query: soql.Query, obj: ObjectDef) -> dict[str, Any]:
        """``columnMetadata`` for the selected columns, in SELECT order, and ``entityName``.

        A ``COUNT()`` query selects no column. Fields are checked as the query itself would
        check them, so an unknown one fails with the same ``INVALID_FIELD``.
        """
        names = [f for f in query.fields if isinstance(f, str)]
        if not any("." in n for n in names):
            soql.execute(query, [], obj.types())      # validates every field named
        out = [self._column(obj, name) for name in names] if not query.count else []
        return {"columnMetadata": out, "entityName": obj.name}

    def _column(self, obj: ObjectDef, path: str) -> dict[str, Any]:
        head, _, rest = path.partition(".")
        if not rest:
            fd = obj.field(head)
            if fd is None:
                raise SfError("INVALID_FIELD", f"No such column '{head}' on entity "
                              f"'{obj.name}'. If you are attempting to use a custom field, be "
                              "sure to append the '__c' after the custom field name. Please "
                              "reference your WSDL or the describe call for the appropriate "
                              "names.")
            return _field_column(fd)
        ref = _relationship(obj, head)
        target = self._object(ref.reference_to[0]) if ref and ref.reference_to else None
        if ref is None or target is None:
            # [U] the wording, Salesforce's for an unknown relationship in a field path.
            raise SfError("INVALID_FIELD", f"Didn't understand relationship '{head}' in field "
                          "path. If you are attempting to use a custom relationship, be sure "
                          "to append the '__r' after the custom relationship name. Please "
                          "reference your WSDL or the describe call for the appropriate names.")
        name = ref.name[:-3] + "__r" if ref.name.endswith("__c") else ref.name[:-2]
        return {"aggregate": False, "apexType": None, "booleanType": False, "columnName": name,
                "custom": ref.custom, "displayName": name, "foreignKeyName": ref.name,
                "insertable": False, "joinColumns": [self._column(target, rest)],
                "numberType": False, "textType": False, "updatable": False}

    # -- Organization's describe and read -------------------------------------------------------
    def _summary(self, version: str) -> dict[str, Any]:
        out = self.sf._sobject_summary(self.identity.organization, version)
        out.update({"createable": False, "deletable": False, "undeletable": False,
                    "updateable": False, "mergeable": False, "triggerable": False,
                    "searchable": False, "layoutable": False})
        return out

    def summary(self, version: str) -> dict[str, Any]:
        """Organization's entry in the global describe."""
        return self._summary(version)

    def _describe(self, req: Request) -> Response:
        out = self._summary(req.params["version"])
        out.update({"childRelationships": [], "recordTypeInfos": [], "fields": [
            f.describe() for f in self.identity.organization.fields.values()]})
        return Response.json(200, out)

    def _basic_info(self, req: Request) -> Response:
        return Response.json(200, {"objectDescribe": self._summary(req.params["version"]),
                                   "recentItems": []})

    def _get(self, req: Request) -> Response:
        row = self.identity.organization_row()
        if req.params["id"] not in (row["Id"], row["Id"][:15]):
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        version = req.params["version"]
        wanted = req.arg("fields")
        obj = self.identity.organization
        names = list(obj.fields)
        if wanted:
            names = []
            for f in wanted.split(","):
                fd = obj.field(f.strip())
                if fd is None:
                    raise SfError("INVALID_FIELD", f"No such column '{f.strip()}' on entity "
                                  "'Organization'.")
                names.append(fd.name)
        return Response.json(200, {"attributes": {"type": "Organization", "url": (
            f"/services/data/v{version}/sobjects/Organization/{row['Id']}")},
            **{n: row.get(n) for n in names}})

    # -- the whole result, for Bulk API 2.0 query jobs ----------------------------------------
    def run_all(self, version: str, text: str,
                include_deleted: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Every record of a query, through ``query/`` and its ``nextRecordsUrl`` pages.

        Returns the records (nested relationship objects kept) and the column names in
        SELECT order; raises :class:`SfError` with the query resource's error.
        """
        resource = "queryAll" if include_deleted else "query"
        req = Request.build("GET", f"/services/data/v{version}/{resource}/?q={quote(text)}",
                            {"Sforce-Query-Options": "batchSize=2000"})
        req.params = {"version": version}
        body = self._checked(self.query(req, include_deleted))
        records = list(body.get("records") or [])
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            locator = str(body["nextRecordsUrl"]).rstrip("/").rsplit("/", 1)[-1]
            more = Request.build("GET", str(body["nextRecordsUrl"]), {})
            more.params = {"version": version, "locator": locator}
            body = self._checked(self.sf._query_more(more))
            records.extend(body.get("records") or [])
        for rec in records:
            rec.pop("attributes", None)
        fields = [f for f in soql.parse(text).fields if isinstance(f, str)]
        obj = self._object(soql.parse(text).sobject)
        columns = [_canonical_path(self, obj, f) for f in fields] if obj else fields
        return records, columns

    @staticmethod
    def _checked(resp: Response) -> dict[str, Any]:
        body = json.loads(resp.body) if resp.body else {}
        if resp.status >= 400:
            first = body[0] if isinstance(body, list) and body else {}
            raise SfError(str(first.get("errorCode", "UNKNOWN_EXCEPTION")),
                          str(first.get("message", "")), status=resp.status)
        return body


def _field_column(fd: FieldDef) -> dict[str, Any]:
    """One column's metadata, keyed as ``@salesforce/plugin-data``'s fixtures show it."""
    return {"aggregate": False, "apexType": _APEX_TYPES.get(fd.type, "String"),
            "booleanType": fd.type == "boolean", "columnName": fd.name, "custom": fd.custom,
            "displayName": fd.name, "foreignKeyName": None, "insertable": fd.createable,
            "joinColumns": [], "numberType": fd.type in _NUMBER_TYPES,
            "textType": fd.type in STRING_TYPES, "updatable": fd.updateable}


def _relationship(obj: ObjectDef, name: str) -> FieldDef | None:
    """The reference field behind a relationship name (``Owner`` -> ``OwnerId``)."""
    lowered = name.lower()
    for fd in obj.fields.values():
        if fd.type != "reference":
            continue
        rel = fd.name[:-3] + "__r" if fd.name.endswith("__c") else (
            fd.name[:-2] if fd.name.endswith("Id") else None)
        if rel is not None and rel.lower() == lowered:
            return fd
    return None


def _canonical_path(front: QueryFront, obj: ObjectDef, path: str) -> str:
    """A selected path with the schema's spelling (``owner.name`` -> ``Owner.Name``)."""
    column: dict[str, Any] | None
    try:
        column = front._column(obj, path)
    except SfError:
        return path
    parts = []
    while column:
        parts.append(column["columnName"])
        column = column["joinColumns"][0] if column["joinColumns"] else None
    return ".".join(parts)
