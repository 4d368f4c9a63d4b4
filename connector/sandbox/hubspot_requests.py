"""Request parsing the HubSpot routes share: the 400 they refuse a request with, JSON bodies,
integer arguments and opaque paging cursors.

Split out of ``hubspot_api`` so the contacts reads (``hubspot_contacts``) raise the same
``Invalid`` the rate-limited wrapper turns into HubSpot's VALIDATION_ERROR reply.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime, timezone
from typing import Any

from .http import BadJson, Request, Response

__all__ = ["Invalid", "json_object", "int_arg", "encode_cursor", "decode_cursor"]


class Invalid(Exception):
    """A request the endpoint refuses with a 400; carries the message."""


def int_arg(req: Request, name: str, default: int) -> int:
    raw = req.arg(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"Unable to parse '{name}': {raw!r} is not an integer") from None


def encode_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii")


def decode_cursor(token: str) -> str:
    try:
        padded = token.strip() + "=" * (-len(token.strip()) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise Invalid(f"Invalid 'after' token: {token!r}") from None


def json_object(req: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object; Invalid otherwise."""
    try:
        body = req.json()
    except BadJson as exc:
        raise Invalid(f"Invalid input JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Invalid("Invalid input JSON: expected an object")
    return body


def error_reply(status: int, message: str, category: str) -> Response:
    """HubSpot's error envelope (``status``, ``message``, ``correlationId``, ``category``)."""
    return Response.json(status, {"status": "error", "message": message,
                                  "correlationId": str(uuid.uuid4()), "category": category})


SCOPES_URL = "https://developers.hubspot.com/scopes"
# The scopes the sandbox asks (docs/sandbox-wire-facts.md, "Contacts and meetings scopes"):
# HubSpot's public OpenAPI specs give contacts and meetings reads the first, their writes the
# second; forms v3 and the legacy v1 submissions feed want "forms" (the feed also takes
# "forms-uploaded-files")
CONTACTS_READ, CONTACTS_WRITE = "crm.objects.contacts.read", "crm.objects.contacts.write"
FORMS = "forms"


def missing_scopes_reply(scopes: list[str]) -> Response:
    """HubSpot's 403 for a token whose app lacks a scope the call needs (category
    ``MISSING_SCOPES``, the scopes in ``errors[0].context.requiredGranularScopes``), as
    HubSpot answers it (docs/sandbox-wire-facts.md, "Missing scopes")."""
    return Response.json(403, {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. Read "
                   f"more about required scopes here: {SCOPES_URL}.",
        "correlationId": str(uuid.uuid4()),
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": list(scopes)}}],
        "links": {"scopes": SCOPES_URL}, "category": "MISSING_SCOPES"})


def iso_ms(ms: int) -> str:
    """Epoch ms as HubSpot writes a datetime: UTC, milliseconds, ``Z``."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")
