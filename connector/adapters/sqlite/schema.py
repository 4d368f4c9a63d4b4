"""The state file's tables, and how an older file is brought up to date on open.

Kept apart so every part of the state (ledger, stage, cache, lock) reads the same shapes
and the same timestamp format, and an upgrade is decided in one place: a state file from
an earlier release gains the columns added since, and nothing is ever dropped.

The file records the schema it was written for (``meta.schema_version``). A file from a
*newer* leadsync is refused untouched: this code does not know what its later tables and
columns promise (a run that ignored them could break the newer release's exactly-once
bookkeeping). An *older* file is upgraded by :func:`upgrade` in one transaction, the check
included, so an upgrade cut short (a full disk, a kill) leaves the file as it was, never
half-upgraded. Bump SCHEMA_VERSION with any change a previous release could not read safely.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import sqlite_utils

from connector.errors import StateError

SCHEMA_VERSION = 1
# Columns added after the first release; ensure_schema adds them to older state files.
# ledger.merged_from: the record a row first named, once reconcile re-pointed it at a merge survivor.
# ledger.member_moved: the response moved a membership's status forward (a status move, not an
# attach). ledger.score, score_ready, score_fit, score_event: [scoring]'s score of an applied response
# and the inputs it read (adapters/sqlite/scoring.py). ledger.left_out_fields: the fields
# ("Lead.Phone") whose answers the mapping could not place and left out of the record.
ADDED_COLUMNS: dict[str, dict[str, type]] = {
    "ledger": {"owner_id": str, "account_id": str, "account_match": str, "task_id": str,
               "changed_fields": str, "merged_from": str, "score": int, "score_ready": int,
               "score_fit": str, "score_event": str, "member_moved": int,
               "left_out_fields": str},
    "runs": {"created_contacts": int, "updated_records": int, "tasks": int},
}

# Indexes added after the first release, made on every open (in upgrade's one transaction),
# so an older file gains them too. They change no shape an earlier release reads.
# - reconcile's created_lead_ids looks Leads up by the record a row first named
#   (COALESCE(merged_from, lead_id), the exact expression it queries): without this index
#   every reconcile scans the whole ledger once per chunk of Lead Ids.
# - reconcile's rows_since, the funnel and status read windows by submission time across
#   forms; the (form_id, submitted_at) index cannot serve a query that names no form.
LEDGER_INDEXES: dict[str, tuple[str, tuple[str, ...]]] = {   # name: (expression, columns)
    "idx_ledger_created_lead": ("(COALESCE(merged_from, lead_id))", ("merged_from", "lead_id")),
    "idx_ledger_submitted_at": ("(submitted_at)", ("submitted_at",)),
}


# The ledger's index on email, made when first needed (Task history, [scoring]'s history):
# sqlite-utils' name for it, as earlier versions made it.
HISTORY_INDEX = "idx_ledger_email"


def now_iso() -> str:
    """Every timestamp the state stores: UTC, ISO 8601, to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create what is missing: the tables of a new file, the later columns of an old one."""
    if "ledger" not in db.table_names():
        ledger = db.table("ledger")
        ledger.create({
            "conversion_id": str, "form_id": str, "submitted_at": int, "email": str,
            "campaign_id": str, "action": str, "status": str, "lead_id": str,
            "contact_id": str, "member_id": str, "member_existed": int, "reason": str,
            "error_code": str, "error": str, "attempts": int, "run_id": str,
            "first_seen_at": str, "updated_at": str,
        }, pk="conversion_id")
        ledger.create_index(["status"])
        ledger.create_index(["form_id", "submitted_at"])
        # No index on email here: only Task history reads by it (see State.history), and a
        # random-keyed index costs every intent a B-tree insert.
    if "watermarks" not in db.table_names():
        db.table("watermarks").create({"form_id": str, "submitted_at": int, "updated_at": str,
                                       "run_id": str}, pk="form_id")
    if "runs" not in db.table_names():
        db.table("runs").create({
            "id": str, "started_at": str, "finished_at": str, "method": str, "dry_run": int,
            "status": str, "pulled": int, "skipped": int, "created_leads": int, "attached": int,
            "already_member": int, "failed": int, "sf_calls": int, "hs_calls": int,
            "api_used": int, "api_limit": int, "error": str,
        }, pk="id")
    if "meta" not in db.table_names():
        db.table("meta").create({"key": str, "value": str}, pk="key")
    if (file_version(db) or 0) < SCHEMA_VERSION:
        db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
    for name, columns in ADDED_COLUMNS.items():
        table = db.table(name)
        present = table.columns_dict
        for column, kind in columns.items():
            if column not in present:   # a state file from an earlier version gains them
                table.add_column(column, kind)
    ledger_columns = db.table("ledger").columns_dict
    for name, (sql, needs) in LEDGER_INDEXES.items():   # IF NOT EXISTS: new and older files alike
        if all(column in ledger_columns for column in needs):
            db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON ledger {sql}")


def file_version(db: sqlite_utils.Database) -> int | None:
    """The schema version the file was written for: None for a new (empty) file, 0 for a
    file from before versions were recorded.

    The first read of the file: a file that is not an SQLite database fails here, before
    anything is written to it."""
    names = db.table_names()
    if not names:
        return None
    if "meta" not in names:
        return 0
    row = next(db.query("SELECT value FROM meta WHERE key = 'schema_version'"), None)
    if row is None:
        return 0
    if row["value"] is None:
        return 0
    try:
        return int(row["value"])
    except (TypeError, ValueError):
        return _UNREADABLE


_UNREADABLE = 2 ** 31   # a version this code cannot parse: treated as newer than any it knows


def check_version(db: sqlite_utils.Database, path: object) -> None:
    """Refuse a file written by a newer leadsync; it is only read, never changed."""
    found = file_version(db)
    if found is not None and found > SCHEMA_VERSION:
        shown = "an unrecognised version" if found == _UNREADABLE else f"version {found}"
        raise StateError(
            f"the state file {path} was written by a newer leadsync (schema {shown}; this "
            f"leadsync knows up to version {SCHEMA_VERSION}); upgrade leadsync to use it "
            "(the file was left untouched)", path=str(path))


def upgrade(db: sqlite_utils.Database, path: object,
            parts: Callable[[sqlite_utils.Database], None] | None = None) -> None:
    """Check the file's version and bring an older one up to date, in ONE transaction:
    every table and column this release adds, and the new version, or (on any failure)
    none of them. ``parts`` creates the tables of the state's other parts (write-back,
    lifecycle, ...), each owned by its own module, in the same transaction."""
    with db.atomic():
        check_version(db, path)
        ensure_schema(db)
        if parts is not None:
            parts(db)
