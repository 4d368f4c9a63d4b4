"""Salesforce sObject rows: create, read, update, delete and upsert one record.

Split out of ``salesforce_api``: ``/sobjects/{type}/{id}`` and the external-id forms, with
the REST API's status codes and bodies; every data rule is the store's.
"""

from __future__ import annotations

from typing import Any, Iterable

from .http import Request, Response
from .sf_errors import SfError
from .sf_rest_common import RouteHost, param, write_options
from .sf_store import Row


class SObjectRoutes:
    """The single-record routes, and the record shape the REST API returns."""

    def __init__(self, api: RouteHost) -> None:
        self.api = api

    def record(self, sobject: str, row: Row, version: str,
               fields: list[str] | None = None) -> dict[str, Any]:
        obj = self.api.store.schema(sobject)
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
        out.update(self.api.store.full(obj.name, row, names))
        return out

    def _fields_arg(self, req: Request) -> list[str] | None:
        raw = req.arg("fields")
        return [f.strip() for f in raw.split(",") if f.strip()] if raw else None

    def create(self, req: Request) -> Response:
        sobject = self.api.store.schema(param(req, "sobject")).name
        rid = self.api.store.create(sobject, req.json(), write_options(req))
        return Response.json(201, {"id": rid, "success": True, "errors": []}, {
            "Location": f"/services/data/v{req.params['version']}/sobjects/{sobject}/{rid}"})

    def create_by_id_field(self, req: Request) -> Response:
        if param(req, "id").lower() == "id":   # POST .../sobjects/Lead/Id (API 37.0+)
            return self.create(req)
        return self.api.not_found(req, True)

    def get(self, req: Request) -> Response:
        sobject = param(req, "sobject")
        row = self.api.store.live(sobject, param(req, "id"))
        return Response.json(200, self.record(sobject, row, req.params["version"],
                                              self._fields_arg(req)))

    def update(self, req: Request) -> Response:
        self.api.store.update(param(req, "sobject"), param(req, "id"), req.json(),
                              write_options(req))
        return Response.empty(204)

    def delete(self, req: Request) -> Response:
        self.api.store.delete(param(req, "sobject"), param(req, "id"))
        return Response.empty(204)

    def _ext_match(self, req: Request) -> Row:
        sobject = param(req, "sobject")
        obj = self.api.store.schema(sobject)
        fd = self.api.store.external_id_field(obj, param(req, "field"))
        value = param(req, "value")
        if fd.name == "Id":
            return self.api.store.live(obj.name, value)
        matches = self.api.store.find(obj.name, fd.name, value)
        if len(matches) > 1:
            raise SfError("MULTIPLE_CHOICES", "", status=300,
                          extra={"ids": [m["Id"] for m in matches]})
        if not matches:
            raise SfError("NOT_FOUND", "The requested resource does not exist", status=404)
        return matches[0]

    def get_by_ext(self, req: Request) -> Response:
        row = self._ext_match(req)
        return Response.json(200, self.record(param(req, "sobject"), row,
                                              req.params["version"], self._fields_arg(req)))

    def delete_by_ext(self, req: Request) -> Response:
        row = self._ext_match(req)
        self.api.store.delete(param(req, "sobject"), row["Id"])
        return Response.empty(204)

    def upsert(self, req: Request) -> Response:
        sobject = self.api.store.schema(param(req, "sobject")).name
        rid, created = self.api.store.upsert(sobject, param(req, "field"),
                                             param(req, "value"), req.json(), opts=write_options(req))
        body: dict[str, Any] = {"id": rid, "success": True, "errors": []}
        if float(req.params["version"]) >= 46.0:
            body["created"] = created
        if created:
            return Response.json(201, body, {
                "Location": f"/services/data/v{req.params['version']}/sobjects/{sobject}/{rid}"})
        # API 46.0+ answers an update through upsert with 200 and a body; older versions 204
        return Response.json(200, body) if "created" in body else Response.empty(204)
