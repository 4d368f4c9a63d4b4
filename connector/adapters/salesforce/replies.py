"""What Salesforce's replies mean to leadsync: errors as exceptions, items as results.

Kept apart from the client because two writers read the same replies (collections through
:class:`~connector.adapters.salesforce.client.SalesforceClient`, Bulk through
:class:`~connector.adapters.salesforce.bulk.BulkWriter`) and the engine and ``reconcile``
read their items; each mapping is decided once here. Nothing in it calls the network.
"""

from __future__ import annotations

from typing import Any

from simple_salesforce.exceptions import (SalesforceError, SalesforceExpiredSession,
                                          SalesforceGeneralError, SalesforceMalformedRequest,
                                          SalesforceMoreThanOneRecord, SalesforceRefusedRequest,
                                          SalesforceResourceNotFound)

from connector.adapters.transport import Verdict, classify, error_code
from connector.errors import ApiError, AuthError, BudgetExhausted


def result_error(result: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of a failed collections/composite item, in an admin's words."""
    errors = result.get("errors") or [{}]
    first = errors[0]
    code = first.get("statusCode") or first.get("errorCode") or "UNKNOWN"
    message = first.get("message") or "Salesforce rejected the record"
    fields = first.get("fields") or []
    return code, message + (f" (fields: {', '.join(fields)})" if fields else "")


def sf_exception(url: str, status: int, content: Any) -> SalesforceError:
    """The exception simple-salesforce raises for this status (``util.exception_handler``),
    so a failed composite subrequest is handled exactly as the same call sent alone."""
    cls = {300: SalesforceMoreThanOneRecord, 400: SalesforceMalformedRequest,
           401: SalesforceExpiredSession, 403: SalesforceRefusedRequest,
           404: SalesforceResourceNotFound}.get(status, SalesforceGeneralError)
    return cls(url, status, "composite", content)


def api_error(name: str, status: int, body: Any) -> ApiError:
    """What :meth:`SalesforceClient._call` raises for a reply it will not repeat: the org's
    allowance spent, the session refused for good, or the request's own fault."""
    verdict, code = classify(status, body), error_code(body)
    if verdict is Verdict.LIMIT:
        return BudgetExhausted("Salesforce API request limit exceeded; stopped with state intact",
                               service="salesforce", status=status, code=code)
    if verdict is Verdict.EXPIRED:
        return AuthError("Salesforce refused the session (401 INVALID_SESSION_ID): "
                         "renew the access token", service="salesforce", status=status, code=code)
    return ApiError(f"Salesforce {name} failed: {first_message(body)}",
                    service="salesforce", status=status, code=code)


def collection_items(reply: Any, n: int) -> list[dict[str, Any]]:
    """A collections reply as exactly ``n`` items, so results never shift against records."""
    items = list(reply) if isinstance(reply, list) else []
    missing = {"success": False, "errors": [{"statusCode": "UNKNOWN_EXCEPTION",
                                             "message": "no result for this record in the reply",
                                             "fields": []}]}
    return items[:n] + [dict(missing) for _ in range(n - len(items))]


def failed_item(status: int, body: Any) -> dict[str, Any]:
    """A failed subrequest's error, as the collections item each of its records gets."""
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    return {"success": False, "errors": [{
        "statusCode": first.get("errorCode") or first.get("statusCode") or f"HTTP_{status}",
        "message": first.get("message") or str(body)[:300], "fields": list(first.get("fields") or [])}]}


def first_message(content: Any) -> str:
    """The first error of a reply as ``CODE: message``, or its start when it is not a list."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return f"{first.get('errorCode') or first.get('statusCode')}: {first.get('message')}"
    return str(content)[:300]
