"""Request-shape limits Salesforce enforces before it looks at any record.

Kept out of ``salesforce_api`` (which speaks the wire) and ``sf_store`` (which holds the
data rules) because these rules are about the *request*: how a mixed-type sObject
Collections body is cut into chunks, how many heavy subrequests a composite call may carry,
and how many rows a query page holds. Each constant names the document it comes from; see
``docs/sandbox-org-rules.md`` for the sources and for what is a sandbox choice.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from .sf_errors import SfError

__all__ = ["MAX_CHUNKS", "CHUNK_MESSAGE", "count_chunks", "check_chunks", "MAX_COMPOSITE_HEAVY",
           "is_heavy_subrequest", "check_composite", "LONG_TEXT_BATCH", "DEFAULT_PAGE_BYTES",
           "page_end", "row_weight"]

# REST guide, "Create Records Using sObject Collections": "If the request body includes objects
# of more than one type, they are processed as chunks ... A single request can process up to 10
# chunks." The refusal's text is Salesforce's own (quoted by public code hitting it).
MAX_CHUNKS = 10
CHUNK_MESSAGE = ("Cannot have more than 10 chunks in a single operation. Please rearrange the "
                 "data to reduce chunking.")
# The wire shape of the refusal is not documented: the whole request fails before any record
# is saved (as the Apex TypeException does), so it is answered like the other request-wide
# collections limits (EXCEEDED_ID_LIMIT): HTTP 400, one error, no per-record results.
CHUNK_ERROR_CODE = "LIMIT_EXCEEDED"

# REST guide, "Send Multiple Requests Using Composite": up to 25 subrequests, "up to 5 of these
# subrequests can be sObject Collections or query operations, including Query and QueryAll
# requests" (older guides add "Query More" requests for the next batch of a query).
MAX_COMPOSITE_HEAVY = 5
_HEAVY_RE = re.compile(r"^/services/data/v\d+\.\d+/(?:query|queryAll|composite/sobjects)(?:/|$|\?)",
                       re.I)

# SOQL and SOSL Reference, "Change the Batch Size in Queries": "If the SOQL statement selects two
# or more custom fields of type long text, the batch size can't be greater than 200 records."
LONG_TEXT_BATCH = 200
LONG_TEXT_MIN_LENGTH = 256   # a Text Area (Long) holds more than a Text Area's 255 characters
# The same page: "the returned batch size can be lower than the max or what's set in the request,
# based on the size and complexity of records queried." The sandbox's rule (its own choice):
# a page holds rows until their JSON reaches this many bytes (at least one row a page).
DEFAULT_PAGE_BYTES = 4_000_000


def _type_of(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    attrs = record.get("attributes")
    if not isinstance(attrs, Mapping):
        return None
    value = attrs.get("type")
    return value.lower() if isinstance(value, str) else None


def count_chunks(records: Iterable[Any]) -> int:
    """Chunks as Salesforce cuts them: a new one each time the type changes along the array.

    ``{account1, account2, contact1, account3}`` is three chunks (the guide's own example);
    records without a readable type still take their place in the sequence.
    """
    chunks = 0
    previous: object = object()
    for record in records:
        kind = _type_of(record)
        if kind != previous:
            chunks += 1
            previous = kind
    return chunks


def check_chunks(records: Sequence[Any]) -> None:
    """Refuse a collections body that would need more than ten chunks (nothing is saved)."""
    if count_chunks(records) > MAX_CHUNKS:
        raise SfError(CHUNK_ERROR_CODE, CHUNK_MESSAGE)


def is_heavy_subrequest(method: str, url: str) -> bool:
    """A query (query/queryAll, a next page included) or an sObject Collections subrequest."""
    return bool(_HEAVY_RE.match(url or ""))


def check_composite(subrequests: Sequence[Any]) -> None:
    """At most five query or sObject Collections subrequests in one composite call."""
    heavy = sum(1 for s in subrequests if isinstance(s, Mapping)
                and is_heavy_subrequest(str(s.get("method") or "GET"), str(s.get("url") or "")))
    if heavy > MAX_COMPOSITE_HEAVY:
        raise SfError("LIMIT_EXCEEDED", "Limit Exceeded. A composite request can contain at most "
                      f"{MAX_COMPOSITE_HEAVY} sObject Collections or query subrequests; this one "
                      f"has {heavy}.")


def row_weight(row: Mapping[str, Any]) -> int:
    """How many records a row counts for in a batch: itself plus its subquery children.

    QueryOptions: "Child objects count toward the number of records for the batch size."
    """
    weight = 1
    for value in row.values():
        if isinstance(value, Mapping) and isinstance(value.get("records"), list) \
                and "totalSize" in value:
            weight += len(value["records"])
    return weight


def _approx_bytes(value: Any) -> int:
    """A cheap upper-bound-ish estimate of a value's JSON size (no serialisation)."""
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, (int, float)):
        return 12
    if isinstance(value, Mapping):
        return sum(len(k) + 4 + _approx_bytes(v) for k, v in value.items()) + 2
    if isinstance(value, (list, tuple)):
        return sum(_approx_bytes(v) + 1 for v in value) + 2
    return len(str(value)) + 2


def page_end(rows: Sequence[Mapping[str, Any]], start: int, batch: int,
             byte_budget: int = DEFAULT_PAGE_BYTES) -> int:
    """The index after the last row of the page that starts at ``start``.

    At most ``batch`` records (children included), and no more rows once the page's estimated
    JSON passes ``byte_budget``; a page always holds at least one row so paging ends.
    """
    end = start
    count = 0
    size = 0
    n = len(rows)
    while end < n:
        row = rows[end]
        weight = row_weight(row)
        if end > start and count + weight > batch:
            break
        size += _approx_bytes(row)
        if end > start and size > byte_budget:
            break
        count += weight
        end += 1
        if count >= batch:
            break
    return end


def long_text_fields(field_types: Iterable[tuple[str, str, int, bool]]) -> int:
    """How many custom long text fields a SELECT names: (name, type, length, custom) tuples."""
    return sum(1 for _, ftype, length, custom in field_types
               if custom and ftype == "textarea" and length >= LONG_TEXT_MIN_LENGTH)
