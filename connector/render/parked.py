"""``parked list`` as a person reads it on a terminal, and as CSV for a spreadsheet (pure).

Emails are shown: the list is the admin's own data on the admin's terminal, and an email
is how a person recognises a fill. (They never go into error text or run history.)
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone
from typing import Iterable, Sequence

from connector.core.parked import RETRY_MAX_TRIES, ParkedRow
from connector.core.refusals import CATEGORIES
from connector.core.timefmt import iso_ms

CSV_COLUMNS = ("conversion_id", "form_id", "submitted_at", "email", "error_code", "error",
               "attempts", "status", "transient", "auto_tries", "next_try_at", "note",
               "dismissed_by", "dismissed_at")
ERROR_WIDTH = 80


def _short(text: str, width: int = ERROR_WIDTH) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[:width - 1] + "…"


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="minutes")


def _retry_note(row: ParkedRow) -> str:
    if row.status == "dismissed":
        return f"dismissed by {row.dismissed_by} at {row.dismissed_at}: {row.note}"
    if not row.transient:
        return (f"fix the cause, then `leadsync retry --id {row.conversion_id}`; junk: "
                f"`leadsync parked dismiss --id {row.conversion_id} --note ...`")
    if row.auto_tries >= RETRY_MAX_TRIES:
        return f"transient; the daemon gave up after {row.auto_tries} tries: `leadsync retry`"
    when = _when(row.next_try_at)
    return f"transient; the daemon retries it{f' at {when}' if when else ''}"


def to_text(parked: Sequence[ParkedRow]) -> str:
    if not parked:
        return "No parked responses match."
    lines = []
    for row in parked:
        lines.append(f"{row.conversion_id}  form {row.form_id}  {iso_ms(row.submitted_at) or '?'}  "
                     f"{row.email or '(no email)'}")
        lines.append(f"    {row.error_code} (tried {row.attempts}x): {_short(row.error)}")
        lines.append(f"    {_retry_note(row)}")
    lines.append("")
    by_code = Counter(r.error_code for r in parked if r.status != "dismissed")
    total = sum(by_code.values())
    lines.append(f"{total} parked" + (f", {len(parked) - total} dismissed" if len(parked) > total else ""))
    for code, n in sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0])):
        category = CATEGORIES.get(code)
        advice = f" ({category.name}: {category.advice})" if category else ""
        lines.append(f"  {n:>5}  {code}{advice}")
    return "\n".join(lines)


def _cell(value: object) -> object:
    """A cell a spreadsheet shows as text: a fill typed as ``=HYPERLINK(...)`` (formula
    injection) gets a leading apostrophe rather than running."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def to_csv(parked: Iterable[ParkedRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in parked:
        data = row.to_json()
        data["submitted_at"] = iso_ms(row.submitted_at)
        data["next_try_at"] = _when(row.next_try_at)
        writer.writerow([_cell(data[c]) for c in CSV_COLUMNS])
    return out.getvalue()
