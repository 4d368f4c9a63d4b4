"""Salesforce REST query routes: ``query``, ``queryAll`` and their next pages.

Split out of ``salesforce_api``: running SOQL over the store (``soql``, or ``soql_rel`` and
``soql_agg`` for relationship paths, subqueries and aggregates) and paging the result the
way the REST API does, with query locators kept for the next pages.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from typing import Any

from . import sf_limits, soql, soql_agg, soql_rel
from .http import Request, Response
from .sf_rest_common import RouteHost, err, param
from .sf_schema import make_id

_MAX_CURSORS = 100


class QueryRoutes:
    """The query routes and the cursors of results still being paged."""

    def __init__(self, api: RouteHost) -> None:
        self.api = api
        self.cursors: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.cursor_seq = 0

    def reset(self) -> None:
        """Forget every open cursor (a dataset load or reset)."""
        self.cursors.clear()

    def query(self, req: Request, include_deleted: bool) -> Response:
        text = req.arg("q")
        if not text:
            return err(400, "MALFORMED_QUERY", "A query string has to be specified")
        if soql_rel.wanted(text):
            return self._query_rel(req, text, include_deleted)
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            return err(400, exc.code, exc.message)
        sobject = self.api.store.sobject_name(query.sobject)
        if sobject is None:
            return err(400, "INVALID_TYPE", f"sObject type '{query.sobject}' is not supported. "
                       "If you are attempting to use a custom object, be sure to append the "
                       "'__c' after the entity name. Please reference your WSDL or the describe "
                       "call for the appropriate names.")
        schema = self.api.store.schema(sobject).types()
        added_id = not query.count and "id" not in {f.lower() for f in query.fields}
        run = query
        if added_id:
            positions = query.field_positions + (0,) if query.field_positions else ()
            run = dataclasses.replace(query, fields=query.fields + ("Id",),
                                      field_positions=positions)
        constraints = soql.equality_constraints(run, schema)
        records = self.api.store.candidates(sobject, constraints, include_deleted)
        try:
            rows, total = soql.execute(run, records, schema)
        except soql.SoqlError as exc:
            if exc.code == "INVALID_FIELD" and "Didn't understand relationship" in exc.message:
                return self._query_rel(req, text, include_deleted)   # a parent path in WHERE
            return err(400, exc.code, exc.message)
        if query.count:
            return Response.json(200, {"totalSize": total, "done": True, "records": []})
        version = req.params["version"]
        out = []
        for row in rows:
            rid = row.pop("Id") if added_id else row.get("Id")
            url = f"/services/data/v{version}/sobjects/{sobject}/{rid}"
            out.append({"attributes": {"type": sobject, "url": url}, **row})
        return self._page(req, out, total, self._batch_size(req), start=0, locator=None,
                          cap=self._batch_cap(sobject, query.fields))

    def _query_rel(self, req: Request, text: str, include_deleted: bool) -> Response:
        """Relationship paths, subqueries and aggregates (``soql_rel``, ``soql_agg``)."""
        try:
            sel = soql_rel.parse(text)
            if soql_rel.is_aggregate(sel):
                result = soql_agg.run_aggregate(sel, self.api.store, include_deleted)
            else:
                result = soql_rel.run(sel, self.api.store, req.params["version"], include_deleted)
        except soql.SoqlError as exc:
            return err(400, exc.code, exc.message)
        if result.count_only:
            return Response.json(200, {"totalSize": result.total, "done": True, "records": []})
        if result.aggregate:     # aggregate results come whole (no query locator)
            return Response.json(200, {"totalSize": result.total, "done": True,
                                       "records": result.rows})
        sobject = self.api.store.sobject_name(sel.sobject) or sel.sobject
        return self._page(req, result.rows, result.total, self._batch_size(req), start=0, locator=None,
                          cap=self._batch_cap(sobject, result.fields))

    def _batch_cap(self, sobject: str, fields: Any) -> int:
        """2,000 a page, or 200 when two or more custom long text fields are selected."""
        obj = self.api.store.schema(sobject)
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
              *, start: int, locator: str | None, cap: int = 2000) -> Response:
        """One page of a result: at most ``batch`` records (children count), fewer when rows
        are wide (``sf_limits.page_end``); ``nextRecordsUrl`` carries the next row's index."""
        size = min(batch or 2000, cap)
        end = sf_limits.page_end(rows, start, size, self.api.query_page_bytes)
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(rows)}
        if end < len(rows):
            if locator is None:
                self.cursor_seq += 1
                locator = make_id("01g", self.cursor_seq)
                self.cursors[locator] = {"rows": rows, "total": total, "batch": size, "cap": cap}
                while len(self.cursors) > _MAX_CURSORS:
                    self.cursors.popitem(last=False)
            # A queryAll's next page is under query/ too (REST guide, "Execute a SOQL Query
            # that Includes Deleted Items"): the locator carries the deleted rows.
            body["nextRecordsUrl"] = (f"/services/data/v{req.params['version']}/query/"
                                      f"{locator}-{end}")
        elif locator is not None:
            self.cursors.pop(locator, None)
        body["records"] = rows[start:end]
        return Response.json(200, body)

    def query_more(self, req: Request) -> Response:
        locator, _, offset = param(req, "locator").rpartition("-")
        cursor = self.cursors.get(locator)
        if cursor is None or not offset.isdigit() or int(offset) > len(cursor["rows"]):
            return err(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self.cursors.move_to_end(locator)
        return self._page(req, cursor["rows"], cursor["total"],
                          self._batch_size(req) or cursor["batch"], start=int(offset), locator=locator,
                          cap=cursor.get("cap", 2000))
