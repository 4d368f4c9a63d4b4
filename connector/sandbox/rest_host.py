"""What the modules around the Salesforce REST API need from it (``SalesforceApi``).

Declared as a Protocol in this leaf module so the dependency goes one way: ``salesforce_api``
builds the identity, query front and Bulk query modules and hands itself over; none of them
imports ``salesforce_api`` (the sandbox has no import cycles; a test keeps it so).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .http import Request, Response
from .sf_schema import ObjectDef
from .sf_store import Store


class RestHost(Protocol):
    app: Any
    store: Store

    def _metered(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        ...

    def _query(self, req: Request, include_deleted: bool) -> Response:
        ...

    def _query_more(self, req: Request) -> Response:
        ...

    def _sobject_summary(self, obj: ObjectDef, version: str) -> dict[str, Any]:
        ...
