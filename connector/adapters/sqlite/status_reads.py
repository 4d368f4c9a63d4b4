"""The ledger read the ways the status page shows it: per form, per owner, per quarter hour,
and the parked records themselves.

Read-only queries over tables every state has (the ledger), so a read-only state (``status``
opens the file that way, while a daemon may be writing it) answers them as it is. Quarter
hours rather than days because the page draws days in the configured time zone, which
SQLite does not know: the caller folds the quarter hours into its own days (every zone's
offset is a whole number of quarter hours).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlite_utils

QUARTER_MS = 15 * 60 * 1000

# One response's outcome as the status shows it (the same words as ``daily_outcomes``).
OUTCOME = ("CASE WHEN status != 'applied' THEN status "
           "     WHEN member_existed = 1 THEN 'already_member' "
           "     WHEN member_moved = 1 THEN 'status_moved' "
           "     WHEN action = 'create_lead' THEN 'created_lead' ELSE 'attached' END")


def quarter_outcomes(db: sqlite_utils.Database, since_ms: int) -> list[dict[str, Any]]:
    """Responses per quarter hour of submission (epoch ms of its start) and outcome."""
    return list(db.query(
        f"SELECT (submitted_at / {QUARTER_MS}) * {QUARTER_MS} AS start_ms, {OUTCOME} AS outcome, "
        "COUNT(*) AS n FROM ledger WHERE submitted_at >= ? AND status != 'dismissed' "
        "GROUP BY start_ms, outcome "
        "ORDER BY start_ms", [since_ms]))


def form_outcomes(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Responses per form and outcome, over the whole ledger (dismissed junk is not counted)."""
    return list(db.query(f"SELECT form_id, {OUTCOME} AS outcome, COUNT(*) AS n FROM ledger "
                         "WHERE status != 'dismissed' GROUP BY form_id, outcome ORDER BY form_id"))


def owner_counts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Responses routed per owner (routing's owner Id on the ledger row), most first."""
    return list(db.query("SELECT owner_id, COUNT(*) AS n FROM ledger WHERE owner_id IS NOT NULL "
                         "AND owner_id != '' GROUP BY owner_id ORDER BY n DESC, owner_id"))


def parked_records(db: sqlite_utils.Database, *, limit: int = 500) -> list[dict[str, Any]]:
    """The parked responses themselves (no email: the page names the form and the time),
    newest first per code, at most ``limit``."""
    return list(db.query(
        "SELECT conversion_id, form_id, campaign_id, submitted_at, error_code, error, lead_id, "
        "contact_id, attempts FROM ledger WHERE status = 'failed' "
        "ORDER BY error_code, submitted_at DESC LIMIT ?", [limit]))


def left_out_counts(db: sqlite_utils.Database, since_iso: str) -> list[dict[str, Any]]:
    """Per field ("Lead.Phone"), the responses first recorded since ``since_iso`` (the state's
    UTC timestamps: a backfill of old fills counts when it ran) whose answer for it the
    mapping could not place and left out of the record, most first. A state no sync of this
    release has opened for writing has no such column yet: nothing to count."""
    if "left_out_fields" not in db.table("ledger").columns_dict:
        return []
    counts: Counter[str] = Counter()
    for (fields,) in db.execute("SELECT left_out_fields FROM ledger WHERE left_out_fields IS NOT "
                                "NULL AND first_seen_at >= ? AND status != 'dismissed'",
                                [since_iso]):
        counts.update(fields.split(","))
    return [{"field": name, "responses": n}
            for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
