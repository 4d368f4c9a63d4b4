"""SOQL as leadsync sends it: the field lists, the encoding, and the chunking of long lists.

Kept apart from the client because none of it touches the network: it decides how many
statements a lookup needs, so it is where the call count of a batch is won or lost, and it
is tested by lengths alone. Every statement it yields keeps its encoded URL under
:data:`MAX_SUBREQUEST_URL` (Salesforce answers 414 past 16,384 characters).
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence
from urllib.parse import quote_plus

from simple_salesforce import format_soql
from simple_salesforce.format import quote_soql_value

MAX_SUBREQUEST_URL = 12_000     # chars of a query's URL; Salesforce answers 414 past 16,384
URL_OVERHEAD = 60               # "/services/data/vXX.X/query/?q=" and slack
LEAD_PREFIX, CONTACT_PREFIX = "00Q", "003"
LEAD_LOOKUP_FIELDS = ("Id", "Email", "CreatedDate", "IsConverted", "ConvertedContactId", "ConvertedDate")
CONTACT_LOOKUP_FIELDS = ("Id", "Email", "CreatedDate")
ACCOUNT_FIELDS = ("Id", "Name", "Website", "OwnerId", "CreatedDate")
MEMBER_FIELDS = ("Id", "CampaignId", "LeadId", "ContactId", "Status", "HasResponded")


def encode_soql(soql: str) -> str:
    """A SOQL statement as a query-string value.

    ``' @ , ( )`` are legal unescaped in a URI query (RFC 3986 sub-delims and pchar), and
    they are most of an ``Email IN (...)`` list; leaving them as they are fits about 30%
    more people in each statement than ``quote_plus``'s ``%27 %40 %2C``.
    """
    return quote_plus(soql, safe="@',()")


# What encode_soql leaves as it is (a space becomes "+", the same length): ids and most
# emails, so their encoded length is their own, without encoding each to measure it.
_UNCHANGED_BY_ENCODING = re.compile(r"[A-Za-z0-9_.~\-@',() ]*")


def encoded_length(soql: str) -> int:
    """``len(encode_soql(soql))``, cheaply for the common case."""
    return len(soql) if _UNCHANGED_BY_ENCODING.fullmatch(soql) else len(encode_soql(soql))


def chunk_for_query(template: str, fields: Sequence[str], values: Sequence[str]) -> Iterator[str]:
    """SOQL statements ``template`` with ``values`` split so each URL stays under the limit."""
    prefix = format_soql(template.split("{values}")[0].replace("{fields}", "{:literal}"), ", ".join(fields))
    yield from chunks_by_size(values, prefix, "{ids}")


def merged_fields(*groups: Sequence[str]) -> tuple[str, ...]:
    """Field lists joined without repeats (SOQL rejects a field named twice), case-blind."""
    out: dict[str, str] = {}
    for group in groups:
        for name in group:
            out.setdefault(name.lower(), name)
    return tuple(out.values())


def or_chunks(prefix: str, conditions: Sequence[str]) -> Iterator[str]:
    """``prefix + c1 OR c2 ...`` split so each statement's URL stays under the limit."""
    chunk: list[str] = []
    size = len(encode_soql(prefix)) + URL_OVERHEAD
    for condition in conditions:
        cost = encoded_length(condition) + 4
        if chunk and size + cost > MAX_SUBREQUEST_URL:
            yield prefix + " OR ".join(chunk)
            chunk, size = [], len(encode_soql(prefix)) + URL_OVERHEAD
        chunk.append(condition)
        size += cost
    if chunk:
        yield prefix + " OR ".join(chunk)


def chunks_by_size(values: Sequence[str], prefix: str, tail: str) -> Iterator[str]:
    """Greedy chunking by encoded length, so each subrequest URL stays under
    :data:`MAX_SUBREQUEST_URL` (Salesforce rejects URIs over 16 KB with 414) and each
    statement far under SOQL's 100,000 characters. Values are quoted as ``format_soql``
    quotes them, by its own function (its Formatter costs more than the rest of a lookup)."""
    chunk: list[str] = []            # values quoted, each once
    fixed = len(encode_soql(prefix + tail.replace("{ids}", "()"))) + URL_OVERHEAD
    size = fixed
    per_use = tail.count("{ids}")
    for value in values:
        quoted = quote_soql_value(value)
        cost = (encoded_length(quoted) + 1) * per_use
        if chunk and size + cost > MAX_SUBREQUEST_URL:
            yield prefix + tail.replace("{ids}", "(" + ",".join(chunk) + ")")
            chunk, size = [], fixed
        chunk.append(quoted)
        size += cost
    if chunk:
        yield prefix + tail.replace("{ids}", "(" + ",".join(chunk) + ")")
