"""Who is logged in, and which org: the identity service and the ``Organization`` object.

Clients ask these before anything else. The ``sf`` CLI's ``org login access-token`` reads
``/services/oauth2/userinfo`` for the username (``@salesforce/core``, ``AuthInfo.
retrieveUserInfo``) and then ``SELECT ... FROM Organization``; jsforce's ``identity()`` and
Salesforce's own docs point clients at the ``id`` URL the token reply returns; simple-salesforce's
``is_sandbox()`` reads ``SELECT IsSandbox FROM Organization``. Without them those clients cannot
even log in to the sandbox.

The user is the org's API user (``Store.api_user_id``), whose token every request carries; the
org is the sandbox's one org (``ORG_ID``). ``Organization`` is read-only through the API (it is
not createable or deletable in Salesforce either), so it lives here as one fixed row with its
own schema rather than as a table of the store. The response fields follow Salesforce Help's
"Identity URLs" and "Query for User Information" pages; sources are in
``docs/sandbox-wire-facts.md``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .http import Request, Response
from .sf_schema import FieldDef, ObjectDef
from .sf_store import format_datetime

if TYPE_CHECKING:
    from .rest_host import RestHost as SalesforceApi

ORGANIZATION_NAME = "Leadsync Sandbox"
INSTANCE_NAME = "SANDBOX1"
ORGANIZATION_TYPE = "Developer Edition"
_CREATED = format_datetime(datetime(2024, 1, 1, tzinfo=timezone.utc))


def _f(name: str, ftype: str, length: int = 0, **kw: Any) -> FieldDef:
    return FieldDef(name, ftype, length=length, createable=False, updateable=False, **kw)


def organization_object() -> ObjectDef:
    """The ``Organization`` sObject's schema: the fields clients read (object reference)."""
    fields = [
        _f("Id", "id", 18, nillable=False, label="Organization ID"),
        _f("Name", "string", 80, nillable=False, name_field=True),
        _f("Division", "string", 80),
        _f("Street", "textarea", 255),
        _f("City", "string", 40),
        _f("State", "string", 80),
        _f("PostalCode", "string", 20),
        _f("Country", "string", 80),
        _f("Phone", "phone", 40),
        _f("PrimaryContact", "string", 80),
        _f("DefaultLocaleSidKey", "picklist", 40, nillable=False, picklist=("en_US",)),
        _f("LanguageLocaleKey", "picklist", 40, nillable=False, picklist=("en_US",)),
        _f("TimeZoneSidKey", "picklist", 40, nillable=False, picklist=("GMT",)),
        _f("OrganizationType", "picklist", 40, picklist=(
            "Team Edition", "Professional Edition", "Enterprise Edition", "Developer Edition",
            "Personal Edition", "Unlimited Edition", "Contact Manager Edition",
            "Base Edition")),
        _f("InstanceName", "string", 5),
        _f("IsSandbox", "boolean", nillable=False),
        _f("NamespacePrefix", "string", 15),
        _f("TrialExpirationDate", "datetime"),
        _f("CreatedDate", "datetime", nillable=False),
        _f("CreatedById", "reference", 18, nillable=False, reference_to=("User",)),
        _f("LastModifiedDate", "datetime", nillable=False),
        _f("LastModifiedById", "reference", 18, nillable=False, reference_to=("User",)),
        _f("SystemModstamp", "datetime", nillable=False),
    ]
    return ObjectDef("Organization", "Organization", "Organizations", "00D",
                     {f.name: f for f in fields})


class Identity:
    """The identity routes and the ``Organization`` row, over the Salesforce API's store."""

    def __init__(self, sf: "SalesforceApi", org_id: str) -> None:
        self.sf = sf
        self.org_id = org_id
        self.organization = organization_object()
        r = sf.app.router
        # GET and POST: "You can use GET or POST" (Query for User Information).
        for method in ("GET", "POST"):
            r.add(method, "/services/oauth2/userinfo/?", self._userinfo,
                  family="salesforce.identity", auth="salesforce")
            r.add(method, "/id/{org}/{user}/?", self._identity, family="salesforce.identity",
                  auth="salesforce")

    # -- the logged-in user -----------------------------------------------------------------
    def user_id(self) -> str:
        return self.sf.store.api_user_id

    def identity_url(self) -> str:
        """Absolute, as in the token reply's ``id`` and the versioned root's ``identity``."""
        return f"{self.sf.app.base_url}/id/{self.org_id}/{self.user_id()}"

    def _user(self, user_id: str) -> dict[str, Any] | None:
        row = self.sf.store.get("User", user_id)
        return None if row is None else dict(row)

    def _urls(self, version: str | None) -> dict[str, str]:
        """The ``urls`` map; ``{version}`` stays literal unless the caller named one."""
        base = self.sf.app.base_url
        v = version or "{version}"
        rest = f"{base}/services/data/v{v}/"
        return {
            "enterprise": f"{base}/services/Soap/c/{v}/{self.org_id}",
            "metadata": f"{base}/services/Soap/m/{v}/{self.org_id}",
            "partner": f"{base}/services/Soap/u/{v}/{self.org_id}",
            "rest": rest,
            "sobjects": f"{rest}sobjects/",
            "search": f"{rest}search/",
            "query": f"{rest}query/",
            "recent": f"{rest}recent/",
            "tooling_soap": f"{base}/services/Soap/T/{v}/{self.org_id}",
            "tooling_rest": f"{rest}tooling/",
            "profile": f"{base}/{self.user_id()}",
            "feeds": f"{rest}chatter/feeds",
            "groups": f"{rest}chatter/groups",
            "users": f"{rest}chatter/users",
            "feed_items": f"{rest}chatter/feed-items",
            "feed_elements": f"{rest}chatter/feed-elements",
            "custom_domain": base,
        }

    @staticmethod
    def _version(req: Request) -> str | None:
        raw = req.arg("version")
        if raw is None:
            return None
        if raw == "latest":
            return "62.0"
        return raw[1:] if raw.lower().startswith("v") else raw

    def _userinfo(self, req: Request) -> Response:
        """OpenID Connect user info, with Salesforce's additions (``user_id``, ``urls``...)."""
        user = self._user(self.user_id()) or {}
        base = self.sf.app.base_url
        first, last = user.get("FirstName"), user.get("LastName") or ""
        name = " ".join(p for p in (first, last) if p)
        return Response.json(200, {
            "sub": self.identity_url(),
            "user_id": self.user_id(),
            "organization_id": self.org_id,
            "preferred_username": user.get("Username"),
            "nickname": user.get("Alias") or user.get("Username"),
            "name": name,
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": first,
            "family_name": last,
            "zoneinfo": "GMT",
            "photos": {"picture": f"{base}/profilephoto/005/F",
                       "thumbnail": f"{base}/profilephoto/005/T"},
            "profile": f"{base}/{self.user_id()}",
            "picture": f"{base}/profilephoto/005/F",
            "address": {"country": "US"},
            "is_salesforce_integration_user": False,
            "urls": self._urls(self._version(req)),
            "active": bool(user.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "updated_at": _offset_time(user.get("LastModifiedDate")),
            "is_app_installed": True,
        })

    def _identity(self, req: Request) -> Response:
        """The identity URL's reply: the user and org named in the path."""
        org, user_id = req.params["org"], req.params["user"]
        user = self._user(user_id) if org in (self.org_id, self.org_id[:15]) else None
        if user is None:
            # [U] the exact body; the status is the identity service's for an unknown id.
            return Response.json(404, [{"errorCode": "NOT_FOUND",
                                        "message": "The requested resource does not exist"}])
        base = self.sf.app.base_url
        first, last = user.get("FirstName"), user.get("LastName") or ""
        return Response.json(200, {
            "id": f"{base}/id/{self.org_id}/{user['Id']}",
            "asserted_user": user["Id"] == self.user_id(),
            "user_id": user["Id"],
            "organization_id": self.org_id,
            "username": user.get("Username"),
            "nick_name": user.get("Alias") or user.get("Username"),
            "display_name": " ".join(p for p in (first, last) if p),
            "email": user.get("Email"),
            "email_verified": True,
            "first_name": first,
            "last_name": last,
            "timezone": "GMT",
            "photos": {"picture": f"{base}/profilephoto/005/F",
                       "thumbnail": f"{base}/profilephoto/005/T"},
            "addr_street": None, "addr_city": None, "addr_state": None,
            "addr_country": "US", "addr_zip": None,
            "mobile_phone": None, "mobile_phone_verified": False,
            "is_lightning_login_user": False,
            "status": {"created_date": None, "body": None},
            "urls": self._urls(self._version(req)),
            "active": bool(user.get("IsActive", True)),
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "last_modified_date": _offset_time(user.get("LastModifiedDate")),
            "is_app_installed": True,
        })

    # -- the org ------------------------------------------------------------------------------
    def organization_row(self) -> dict[str, Any]:
        """The one ``Organization`` record. ``IsSandbox`` is true: this org is a rehearsal."""
        return {
            "Id": self.org_id, "Name": ORGANIZATION_NAME, "Division": None, "Street": None,
            "City": None, "State": None, "PostalCode": None, "Country": "US", "Phone": None,
            "PrimaryContact": None, "DefaultLocaleSidKey": "en_US", "LanguageLocaleKey": "en_US",
            "TimeZoneSidKey": "GMT", "OrganizationType": ORGANIZATION_TYPE,
            "InstanceName": INSTANCE_NAME, "IsSandbox": True,
            "NamespacePrefix": None, "TrialExpirationDate": None, "CreatedDate": _CREATED,
            "CreatedById": self.user_id(), "LastModifiedDate": _CREATED,
            "LastModifiedById": self.user_id(), "SystemModstamp": _CREATED,
        }


def _offset_time(value: Any) -> str:
    """``2024-01-01T00:00:00Z`` style (the identity service's), from a store datetime."""
    text = str(value) if value else _CREATED
    return text.replace(".000+0000", "Z").replace("+0000", "Z")

