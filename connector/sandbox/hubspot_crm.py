"""HubSpot CRM v3 contact writes and contact properties, with HubSpot's wire shapes and errors.

Shapes follow HubSpot's public OpenAPI specs (HubSpot-public-api-spec-collection,
``CRM/Contacts/Rollouts/424/v3/contacts.json`` and ``CRM/Properties/Rollouts/145899/v3/
properties.json``; docs/sandbox-wire-facts.md section "HubSpot CRM v3 write-back"):

* ``POST /crm/v3/objects/contacts/batch/update``: ``{"inputs": [{"id", "properties",
  "idProperty"?}]}`` -> 200 ``BatchResponseSimplePublicObject``, or 207 ``...WithErrors``
  when some ids name no contact (the others are still written);
* ``POST .../batch/upsert``: the same inputs with ``idProperty`` a unique property
  (``email``): existing contacts are updated, missing ones created; each result says
  ``new``. Never a duplicate: that is why leadsync creates through it;
* ``POST .../batch/create``: ``{"inputs": [{"properties", "associations"}]}`` -> 201; an
  email that already has a contact is HubSpot's 409 ``CONFLICT`` ("Contact already exists.
  Existing ID: N");
* ``GET /crm/v3/properties/contacts`` (``{"results": [Property]}``), ``GET .../{name}``
  and ``POST /crm/v3/properties/contacts`` (create, 201; 409 when the name is taken).

Every write is validated before anything is applied, as HubSpot does: an unknown property
(``PROPERTY_DOESNT_EXIST``), a read-only one (``READ_ONLY_VALUE``), a value outside an
enumeration's options (``INVALID_OPTION``) or a non-number for a number property
(``INVALID_FLOAT``) refuses the whole request with a 400 ``VALIDATION_ERROR`` whose message
is "Property values were not valid: [...]" (the compact JSON list real replies carry).
At most 100 inputs a call. Rate limiting (429) is the shared limiter's, as for every route.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Callable

from .http import BadJson, Request, Response
from .hubspot_requests import CONTACTS_WRITE
from .hubspot_scopes import PROPERTIES_READ, PROPERTIES_WRITE
from .hubspot_store import CONTACT_PROPERTIES, Contact, iso_ms

BATCH_MAX = 100
READ_ONLY = ("hs_object_id", "createdate", "lastmodifieddate")
ALWAYS = ("createdate", "lastmodifieddate", "hs_object_id")
PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
NON_UNIQUE_ID_MESSAGE = "Unable to perform update/upsert by non-unique 0-1 property"

Handler = Callable[[Request], Response]


def _error(status: int, message: str, category: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": str(uuid.uuid4()), "category": category}
    body.update(extra)
    return Response.json(status, body)


def _property(name: str, label: str, ptype: str, field_type: str, *, group: str = "contactinformation",
              options: list[dict[str, Any]] | None = None, read_only: bool = False,
              hubspot_defined: bool = True, created: str = "2019-08-06T02:41:52.000Z",
              unique: bool = False, description: str = "") -> dict[str, Any]:
    """A Property as the properties API returns it (required: name, label, type, fieldType,
    groupName, description, options)."""
    return {"name": name, "label": label, "type": ptype, "fieldType": field_type,
            "groupName": group, "description": description, "options": options or [],
            "displayOrder": -1, "calculated": False, "externalOptions": False,
            "hasUniqueValue": unique, "hidden": False, "hubspotDefined": hubspot_defined,
            "formField": not read_only, "archived": False, "createdAt": created, "updatedAt": created,
            "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                     "readOnlyValue": read_only}}


def _options(*values: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"label": label, "value": value, "displayOrder": n, "hidden": False}
            for n, (value, label) in enumerate(values)]


DEFAULT_PROPERTIES: dict[str, dict[str, Any]] = {p["name"]: p for p in (
    _property("email", "Email", "string", "text"),
    _property("firstname", "First Name", "string", "text"),
    _property("lastname", "Last Name", "string", "text"),
    _property("company", "Company Name", "string", "text"),
    _property("phone", "Phone Number", "string", "phonenumber"),
    _property("jobtitle", "Job Title", "string", "text"),
    _property("country", "Country/Region", "string", "text"),
    _property("createdate", "Create Date", "datetime", "date", read_only=True),
    _property("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    _property("hs_object_id", "Record ID", "number", "number", read_only=True, unique=True),
    _property("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=_options(
        ("subscriber", "Subscriber"), ("lead", "Lead"), ("marketingqualifiedlead", "Marketing Qualified Lead"),
        ("salesqualifiedlead", "Sales Qualified Lead"), ("opportunity", "Opportunity"),
        ("customer", "Customer"), ("evangelist", "Evangelist"), ("other", "Other"))),
    _property("hs_lead_status", "Lead Status", "enumeration", "radio", options=_options(
        ("NEW", "New"), ("OPEN", "Open"), ("IN_PROGRESS", "In Progress"), ("OPEN_DEAL", "Open Deal"),
        ("UNQUALIFIED", "Unqualified"), ("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
        ("CONNECTED", "Connected"), ("BAD_TIMING", "Bad Timing"))),
)}


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


class HubSpotCrm:
    """Registers the CRM v3 contact-write and property routes on the HubSpot API's router."""

    def __init__(self, api: Any) -> None:
        self.api = api
        add = api.app.router.add
        for op in ("update", "upsert", "create"):    # CRM/Contacts v3 spec: the write scope
            add("POST", f"/crm/v3/objects/contacts/batch/{op}",
                api.scoped(self._guarded(getattr(self, f"_batch_{op}")), CONTACTS_WRITE),
                family="hubspot.crm.contacts", auth="hubspot", first=True)
        # CRM/Properties v3 spec: any one of its read (or write) alternatives (hubspot_scopes)
        add("GET", "/crm/v3/properties/{objectType}",
            api.scoped(self._guarded(self._list_properties), *PROPERTIES_READ),
            family="hubspot.crm.properties", auth="hubspot")
        add("POST", "/crm/v3/properties/{objectType}",
            api.scoped(self._guarded(self._create_property), *PROPERTIES_WRITE),
            family="hubspot.crm.properties", auth="hubspot")
        add("GET", "/crm/v3/properties/{objectType}/{propertyName}",
            api.scoped(self._guarded(self._get_property), *PROPERTIES_READ),
            family="hubspot.crm.properties", auth="hubspot")

    # -- helpers for tests and demos ------------------------------------------------------
    def create_property(self, name: str, ptype: str = "string", *, options: list[str] | None = None,
                        label: str | None = None) -> None:
        """Define a custom contact property, as an admin would in HubSpot's settings."""
        with self.api.app.lock:
            self._store().custom_properties[name] = _property(
                name, label or name, ptype, "select" if ptype == "enumeration" else "text",
                group="leadsync", options=_options(*((o, o) for o in options or [])),
                hubspot_defined=False, created=iso_ms(self._store().now_ms()))

    def contact(self, email: str) -> dict[str, str] | None:
        """A contact's properties by email (written ones included), or None."""
        with self.api.app.lock:
            found = self._store().contacts.get(email.strip().lower())
            return None if found is None else found.properties()

    def contact_count(self) -> int:
        with self.api.app.lock:
            return len(self._store().contacts_by_id)

    # -- plumbing -------------------------------------------------------------------------
    def _store(self) -> Any:
        return self.api.store

    def _definitions(self) -> dict[str, dict[str, Any]]:
        return {**DEFAULT_PROPERTIES, **self._store().custom_properties}

    @staticmethod
    def _guarded(handler: Handler) -> Handler:
        def run(req: Request) -> Response:
            try:
                return handler(req)
            except _Refused as exc:
                return exc.response
        run.__name__ = handler.__name__
        return run

    @staticmethod
    def _body(req: Request) -> dict[str, Any]:
        try:
            body = req.json()
        except BadJson as exc:
            raise _Refused(_error(400, f"Invalid input JSON on line 1: {exc}", "VALIDATION_ERROR"))
        if not isinstance(body, dict):
            raise _Refused(_error(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR"))
        return body

    def _inputs(self, req: Request, *, need_id: bool) -> list[dict[str, Any]]:
        inputs = self._body(req).get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise _Refused(_error(400, "inputs must be a list of objects", "VALIDATION_ERROR"))
        if len(inputs) > BATCH_MAX:
            raise _Refused(_error(400, f"Batch input limit exceeded: at most {BATCH_MAX} inputs, "
                                       f"got {len(inputs)}", "VALIDATION_ERROR"))
        for item in inputs:
            if need_id and not isinstance(item.get("id"), str):
                raise _Refused(_error(400, "Some required fields were not set: [id]", "VALIDATION_ERROR"))
            props = item.get("properties")
            if not isinstance(props, dict):
                raise _Refused(_error(400, "Some required fields were not set: [properties]",
                                      "VALIDATION_ERROR"))
        if need_id:
            keys = [str(i["id"]).strip().lower() for i in inputs]
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise _Refused(_error(400, f"Duplicate IDs found in batch input: {dupes}", "VALIDATION_ERROR"))
        self._validate([i["properties"] for i in inputs])
        return inputs

    def _validate(self, property_sets: list[dict[str, Any]]) -> None:
        """Refuse the whole request when any value is invalid, naming each (HubSpot's wording)."""
        defs = self._definitions()
        portal = self.api.portal_id
        bad: list[dict[str, Any]] = []
        seen: set[tuple[str, str, str]] = set()

        def invalid(name: str, error: str, message: str) -> None:
            if (name, error, message) not in seen:
                seen.add((name, error, message))
                bad.append({"isValid": False, "message": message, "error": error, "name": name,
                            "localizedErrorMessage": message, "portalId": portal})

        for props in property_sets:
            for name, raw in props.items():
                definition = defs.get(str(name))
                value = "" if raw is None else str(raw)
                if definition is None:
                    invalid(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                elif definition["modificationMetadata"]["readOnlyValue"]:
                    invalid(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property')
                elif value and definition["type"] == "enumeration" and value not in {
                        o["value"] for o in definition["options"]}:
                    allowed = ", ".join(o["label"] for o in definition["options"])
                    invalid(name, "INVALID_OPTION", f"{value} was not one of the allowed options: [{allowed}]")
                elif value and definition["type"] == "number" and not _is_number(value):
                    invalid(name, "INVALID_FLOAT", f"{value} was not a valid number.")
        if bad:
            message = "Property values were not valid: " + json.dumps(bad, separators=(",", ":"))
            raise _Refused(_error(400, message, "VALIDATION_ERROR"))

    def _write(self, contact: Contact, props: dict[str, Any]) -> None:
        store = self._store()
        now = store.now_ms()
        for name, raw in props.items():
            value = "" if raw is None else str(raw)
            if name in CONTACT_PROPERTIES:
                store._seq += 1
                contact.props[name] = ((now, store._seq), value.strip().lower() if name == "email" else value)
            elif value == "":
                contact.written.pop(name, None)   # an empty string clears the property
            else:
                contact.written[name] = value
        contact.updated_ms = max(contact.updated_ms, now)

    @staticmethod
    def _result(contact: Contact, sent: dict[str, Any], **extra: Any) -> dict[str, Any]:
        have = contact.properties()
        props = {name: (have.get(name) if have.get(name) != "" else None) for name in sent}
        props.update({p: have[p] for p in ALWAYS})
        return {"id": contact.id, "properties": props, "createdAt": have["createdate"],
                "updatedAt": have["lastmodifieddate"], "archived": False, **extra}

    def _batch_reply(self, status: int, results: list[dict[str, Any]], started: str,
                     errors: list[dict[str, Any]]) -> Response:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                "completedAt": iso_ms(self._store().now_ms())}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return Response.json(207, body)
        return Response.json(status, body)

    # -- contacts ----------------------------------------------------------------------------
    def _batch_update(self, req: Request) -> Response:
        started = iso_ms(self._store().now_ms())
        inputs = self._inputs(req, need_id=True)
        store = self._store()
        results, missing = [], []
        for item in inputs:
            id_property = str(item.get("idProperty") or "hs_object_id").lower()
            if id_property not in ("hs_object_id", "email"):
                raise _Refused(_error(400, NON_UNIQUE_ID_MESSAGE, "VALIDATION_ERROR"))
        for item in inputs:
            key = str(item["id"]).strip()
            by_email = str(item.get("idProperty") or "").lower() == "email"
            contact = store.contacts.get(key.lower()) if by_email else store.contacts_by_id.get(key)
            if contact is None:
                missing.append(key)
                continue
            self._write(contact, item["properties"])
            results.append(self._result(contact, item["properties"]))
        errors = [] if not missing else [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
                       "Check that ids are valid.",
            "context": {"ids": missing}, "errors": [], "links": {}}]
        return self._batch_reply(200, results, started, errors)

    def _batch_upsert(self, req: Request) -> Response:
        started = iso_ms(self._store().now_ms())
        inputs = self._inputs(req, need_id=True)
        store = self._store()
        for item in inputs:
            if str(item.get("idProperty") or "").lower() != "email":
                raise _Refused(_error(400, NON_UNIQUE_ID_MESSAGE, "VALIDATION_ERROR"))
            if "@" not in str(item["id"]):
                raise _Refused(_error(400, f"Email address {item['id']} is invalid", "VALIDATION_ERROR"))
        results = []
        for item in inputs:
            email = str(item["id"]).strip().lower()
            contact = store.contacts.get(email)
            new = contact is None
            if contact is None:
                contact = store.create_contact(email)
            self._write(contact, item["properties"])
            results.append(self._result(contact, item["properties"], new=new))
        return self._batch_reply(200, results, started, [])

    def _batch_create(self, req: Request) -> Response:
        started = iso_ms(self._store().now_ms())
        inputs = self._inputs(req, need_id=False)
        store = self._store()
        emails = [str(i["properties"].get("email") or "").strip().lower() for i in inputs]
        for email in emails:
            existing = store.contacts.get(email) if email else None
            if existing is not None:
                raise _Refused(_error(409, f"Contact already exists. Existing ID: {existing.id}", "CONFLICT"))
            if email and emails.count(email) > 1:
                raise _Refused(_error(400, f"Duplicate email in batch input: {email}", "VALIDATION_ERROR"))
        results = []
        for item, email in zip(inputs, emails):
            if email:
                contact = store.create_contact(email)
            else:
                contact = store._new_contact(f"__no_email_{uuid.uuid4().hex}", store.now_ms())
                store.contacts.pop(next(k for k, c in store.contacts.items() if c is contact))
            self._write(contact, item["properties"])
            results.append(self._result(contact, item["properties"]))
        return self._batch_reply(201, results, started, [])

    # -- properties --------------------------------------------------------------------------
    @staticmethod
    def _object_type(req: Request) -> None:
        if req.params["objectType"].lower() not in ("contacts", "contact", "0-1"):
            raise _Refused(_error(400, f"Unable to infer object type from: {req.params['objectType']}",
                                  "VALIDATION_ERROR"))

    def _list_properties(self, req: Request) -> Response:
        self._object_type(req)
        archived = (req.arg("archived") or "false").lower() == "true"
        results = [] if archived else list(self._definitions().values())
        return Response.json(200, {"results": results})

    def _get_property(self, req: Request) -> Response:
        self._object_type(req)
        name = req.params["propertyName"]
        found = self._definitions().get(name)
        if found is None:
            return _error(404, f"Unable to find property with name '{name}' for object type 0-1",
                          "OBJECT_NOT_FOUND")
        return Response.json(200, found)

    def _create_property(self, req: Request) -> Response:
        self._object_type(req)
        body = self._body(req)
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName")
                   if not isinstance(body.get(k), str) or not body[k]]
        if missing:
            return _error(400, f"Some required fields were not set: [{', '.join(missing)}]", "VALIDATION_ERROR")
        if body["type"] not in PROPERTY_TYPES:
            return _error(400, f"Invalid property type: {body['type']}", "VALIDATION_ERROR")
        name = body["name"]
        if name in self._definitions():
            return _error(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        options = [{"label": str(o.get("label", "")), "value": str(o.get("value", "")),
                    "displayOrder": int(o.get("displayOrder", n)), "hidden": bool(o.get("hidden", False))}
                   for n, o in enumerate(body.get("options") or []) if isinstance(o, dict)]
        prop = _property(name, body["label"], body["type"], body["fieldType"], group=body["groupName"],
                         options=options, hubspot_defined=False, created=iso_ms(self._store().now_ms()),
                         description=str(body.get("description") or ""))
        self._store().custom_properties[name] = prop
        return Response.json(201, prop)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
