"""What the Salesforce REST route modules share: the host they serve, path and error helpers.

``salesforce_api`` builds the route classes (login, discovery, query, sObject rows,
collections, composite) and hands itself over as their host; this leaf module declares
what they need of it (``RouteHost``), so none of them imports ``salesforce_api`` and the
sandbox's imports stay one way (tests/test_sandbox_rules_imports.py).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Protocol
from urllib.parse import unquote

from .bulk_api import BulkApi
from .bulk_query import BulkQueryApi
from .http import Request, Response
from .query_front import QueryFront
from .sf_identity import Identity
from .sf_oauth import TokenGrants
from .sf_store import Store, WriteOptions

__all__ = ["ORG_ID", "V", "MAX_COLLECTION", "Handler", "RouteHost", "err", "param",
           "write_options"]

ORG_ID = "00D8c0000000001EAA"
V = r"/services/data/v(?P<version>\d+\.\d+)"   # every data route starts so
MAX_COLLECTION = 200

Handler = Callable[[Request], Response]


class RouteHost(Protocol):
    """What the route classes read of ``SalesforceApi``: the org, its meter and neighbours.

    ``store`` is read at each call, never kept: loading a dataset replaces it.
    """

    app: Any
    store: Store
    credentials: dict[str, str]
    api_limit: int
    api_used: int
    query_page_bytes: int
    grants: TokenGrants
    identity: Identity
    front: QueryFront
    bulk: BulkApi
    bulk_query: BulkQueryApi

    def not_found(self, req: Request, path_known: bool) -> Response:
        ...

    def _safely(self, handler: Handler, req: Request) -> Response:
        ...


def err(status: int, code: str, message: str, **extra: Any) -> Response:
    """A REST error reply: a one-element list of {message, errorCode, ...}."""
    body = {"message": message, "errorCode": code}
    body.update(extra)
    return Response.json(status, [body])


def param(req: Request, name: str) -> str:
    """A path parameter, percent-decoded."""
    return unquote(req.params[name])


def write_options(req: Request) -> WriteOptions:
    """The write switches a request's headers set (Sforce-Auto-Assign, duplicate rules)."""
    assign = (req.header("Sforce-Auto-Assign") or "TRUE").strip().lower()
    dup = {}
    for part in re.split(r"[;,]", req.header("Sforce-Duplicate-Rule-Header") or ""):
        key, _, value = part.partition("=")
        dup[key.strip().lower()] = value.strip().lower() == "true"
    return WriteOptions(auto_assign=assign not in ("false", "0", "no"),
                        allow_duplicates=dup.get("allowsave", False),
                        record_details=dup.get("includerecorddetails", False),
                        api_version=req.params.get("version", "59.0"))
