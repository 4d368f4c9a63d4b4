"""The write-back's memory: per HubSpot contact, the values leadsync last sent and its id.

One row per person (lower-cased email): the HubSpot contact id once a call has told it,
and the property values HubSpot confirmed, as JSON (property name -> value). A push sends
only what differs from this row, and records a value only once HubSpot has confirmed it,
in one transaction per call. Hence exactly once across kills and lost replies:

* killed before a reply is recorded: the values are not in the row, so the next push sends
  them again; a property write is idempotent (same values, same contact), and creation goes
  through upsert by email, which cannot make a second contact;
* recorded: the next push finds them here and sends nothing for that person.

A read-only state (dry run, status) may predate this table: it reads as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from connector.adapters.sqlite.schema import now_iso

TABLE = "writeback_sent"


@dataclass(frozen=True)
class Sent:
    """What HubSpot was last told about one person."""

    contact_id: str | None
    properties: dict[str, str]


def ensure_writeback_schema(db: Any) -> None:
    """Idempotent: called on every open that may write (``State._ensure_schema``)."""
    db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (email TEXT PRIMARY KEY, contact_id TEXT, "
               "sent TEXT NOT NULL DEFAULT '{}', updated_at TEXT)")


class WritebackLedger:
    """The ``writeback_sent`` table on a :class:`~connector.adapters.sqlite.ledger.State`."""

    def __init__(self, state: Any) -> None:
        self.state = state
        if not state.read_only:
            # State.open builds its tables in schema.upgrade, not State._ensure_schema, so a
            # file opened for writing gets this table here too (idempotent, one statement).
            ensure_writeback_schema(state.db)

    def _exists(self) -> bool:
        return TABLE in self.state.db.table_names()

    def last_sent(self, emails: Iterable[str]) -> dict[str, Sent]:
        """Lower-cased email -> what was last sent, for those that have a row."""
        keys = sorted({e.strip().lower() for e in emails})
        if not keys or not self._exists():
            return {}
        out: dict[str, Sent] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            rows = self.state.db.query(
                f"SELECT email, contact_id, sent FROM {TABLE} WHERE email IN ({','.join('?' * len(part))})",
                part)
            for row in rows:
                out[row["email"]] = Sent(row["contact_id"], json.loads(row["sent"] or "{}"))
        return out

    def record(self, confirmed: Mapping[str, tuple[str | None, Mapping[str, str]]]) -> None:
        """Merge confirmed values (email -> (contact id, properties)) into the rows, at once."""
        if not confirmed:
            return
        known = self.last_sent(confirmed)
        stamp = now_iso()
        with self.state.transaction() as db:
            for email, (contact_id, props) in confirmed.items():
                before = known.get(email)
                merged = {**(before.properties if before else {}), **props}
                cid = contact_id or (before.contact_id if before else None)
                db.execute(f"INSERT INTO {TABLE} (email, contact_id, sent, updated_at) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (email) DO UPDATE SET contact_id = excluded.contact_id, "
                           "sent = excluded.sent, updated_at = excluded.updated_at",
                           (email, cid, json.dumps(merged, sort_keys=True), stamp))

    def forget_ids(self, emails: Iterable[str]) -> None:
        """HubSpot no longer has these contacts (deleted, merged): find them by email again,
        and send every value again (a merged contact may not carry them)."""
        keys = sorted({e.strip().lower() for e in emails})
        if not keys or not self._exists():
            return
        with self.state.transaction() as db:
            for email in keys:
                db.execute(f"UPDATE {TABLE} SET contact_id = NULL, sent = '{{}}' WHERE email = ?", (email,))

    def count(self) -> int:
        if not self._exists():
            return 0
        return int(self.state.db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])
