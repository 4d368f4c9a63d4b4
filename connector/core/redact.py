"""Error text without personal data: what goes into the ledger, logs and reports. (pure)

An error is read by people who should not see the person it is about (a log shipped to a
monitoring service, a status page, a ticket pasted into chat), and it is kept for as long
as the ledger is. Salesforce's messages quote the record ("invalid email address:
bob@acme.example", "duplicate value found: ... bob@acme.example") and a refused query
echoes the SOQL with its ``IN ('bob@acme.example', ...)`` list. :func:`redact` is the one
place that text is made safe to keep: email addresses become ``<email>``, the quoted
values of any SOQL become ``'?'``, and the whole is capped at :data:`MAX_ERROR_LENGTH`
characters (a reply body pasted whole is neither readable nor bounded).
"""

from __future__ import annotations

import re

MAX_ERROR_LENGTH = 500
EMAIL_PLACEHOLDER = "<email>"

# Wider than the address check in normalise (that one decides what Salesforce accepts):
# here anything that looks like an address is hidden, including malformed or quoted ones
# and the URL-encoded "%40" form a request path carries.
# The first character is not a quote, so a quoted address ('bob@x.com') keeps its quotes.
_EMAIL = re.compile(r"[A-Za-z0-9!#$&*+=?^_`{|}~.\-][A-Za-z0-9!#$&'*+=?^_`{|}~.\-]*"
                    r"(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*", re.IGNORECASE)
_SOQL = re.compile(r"\bSELECT\b.+?\bFROM\b", re.IGNORECASE | re.DOTALL)
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


def redact(text: object, limit: int = MAX_ERROR_LENGTH) -> str:
    """``text`` with email addresses and SOQL values hidden, cut to ``limit`` characters.

    SOQL string literals are hidden wherever a ``SELECT ... FROM`` appears in the text (a
    MALFORMED_QUERY reply echoes the whole statement, its WHERE values included); the
    statement's shape (fields, object, operators) stays, which is what an admin debugs.
    """
    out = str(text)
    if _SOQL.search(out):
        out = _LITERAL.sub("'?'", out)
    out = _EMAIL.sub(EMAIL_PLACEHOLDER, out)
    if len(out) > limit:
        out = out[:max(0, limit - 1)] + "…"
    return out
