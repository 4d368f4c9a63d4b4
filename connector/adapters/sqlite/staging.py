"""One run's pulled window, handed out oldest first across forms.

HubSpot pages each form newest first, so a run must read its whole window before it can
apply the oldest response. The window waits here rather than in memory: a TEMP table
(SQLite keeps it in a file of its own, cached a few MB at a time), private to this
connection, so it also works on a read-only state (--dry-run) and never grows the state
file. A killed run's stage vanishes with its process; nothing is lost with it, because a
watermark only moves with the outcomes it covers (``State.record_outcomes``), so the next
run pulls those responses again. The form values are stored in marshal's format, not JSON:
the table lives and dies with this process's connection, so no other reader or Python ever
sees it, and it costs a fraction of JSON both ways.
"""

from __future__ import annotations

import marshal
from typing import Iterable, Iterator, cast

import sqlite_utils

from connector.core.keys import SEPARATOR
from connector.core.model import Status, Submission


class Stage:
    """The ``temp.staged`` table of one connection, created on first use."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._created = False

    def _table(self) -> None:
        if self._created:
            return
        # One index, in reading order, which also keeps a repeated submission once (a
        # submission's time never changes). A key on the conversion id alone cost a random
        # B-tree insert per row: 1.9 s of a 100,000-response pull, against 0.3 s without.
        # The form is part of it: one conversion id on two forms is two responses (see
        # connector.core.keys), which assign_keys tells apart before the batches are read.
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS staged (conversion_id TEXT NOT NULL, "
                        "form_id TEXT NOT NULL, submitted_at INTEGER NOT NULL, page_url TEXT, "
                        "payload BLOB NOT NULL, kind TEXT NOT NULL DEFAULT '')")
        self.db.execute("CREATE UNIQUE INDEX IF NOT EXISTS temp.staged_order "
                        "ON staged (submitted_at, conversion_id, form_id)")
        self._created = True

    def stage(self, submissions: Iterable[Submission]) -> int:
        """Stage pulled submissions; returns how many were new (a repeated submission, the same
        conversion id on the same form at the same time, is kept once, as the first page
        that had it)."""
        self._table()
        # The HubSpot adapter builds each submission's values as a plain dict, which is what
        # marshal takes; the model only promises a Mapping.
        rows = [(s.conversion_id, s.form_id, s.submitted_at, s.page_url,
                 marshal.dumps(cast(dict[str, str], s.values)), s.kind) for s in submissions]
        with self.db.atomic():
            return self.db.conn.executemany(
                "INSERT OR IGNORE INTO temp.staged VALUES (?, ?, ?, ?, ?, ?)", rows).rowcount

    def assign_keys(self) -> int:
        """Give each staged submission its key (``connector.core.keys``) in place of its bare
        conversion id when another form owns that id; returns how many were re-keyed.

        Run once the whole window is staged (the owner within a window is its earliest
        claimant) and before the ledger is asked what is recorded. Two set-wide statements,
        not a lookup per row: a window with no shared id (every real one) costs a pass over
        the ledger's key, as unstage_recorded's, and a grouping of the stage."""
        self._table()
        with self.db.atomic():
            moved = self.db.execute(
                "UPDATE temp.staged SET conversion_id = conversion_id || ? || form_id "
                "WHERE EXISTS (SELECT 1 FROM main.ledger AS l WHERE l.conversion_id = "
                "staged.conversion_id AND l.form_id != staged.form_id)", [SEPARATOR]).rowcount
            # Left shared now: ids the ledger does not hold (its owner's rows keep theirs).
            claims = self.db.execute(
                "SELECT conversion_id, submitted_at, form_id FROM temp.staged WHERE conversion_id "
                "IN (SELECT conversion_id FROM temp.staged GROUP BY conversion_id "
                "HAVING COUNT(DISTINCT form_id) > 1)").fetchall()
            owner: dict[str, tuple[int, str]] = {}
            for cid, at, form_id in claims:
                owner[cid] = min(owner.get(cid, (at, form_id)), (at, form_id))
            for cid, (_, form_id) in owner.items():
                moved += self.db.execute(
                    "UPDATE temp.staged SET conversion_id = ? || form_id "
                    "WHERE conversion_id = ? AND form_id != ?",
                    [cid + SEPARATOR, cid, form_id]).rowcount
            return int(moved)

    def unstage_recorded(self) -> int:
        """Drop staged responses the ledger holds as applied or parked (the lookback window
        re-reads them); returns how many. A ``pending`` one stays: a killed run's intent,
        re-resolved before it is written, so it is applied once. The keys are assigned
        first, so a response is matched to its own row, not to another form's."""
        self.assign_keys()
        with self.db.atomic():
            return self.db.execute(
                "DELETE FROM temp.staged WHERE EXISTS (SELECT 1 FROM main.ledger AS l "
                "WHERE l.conversion_id = staged.conversion_id AND l.status IN (?, ?, ?))",
                [Status.APPLIED.value, Status.FAILED.value, Status.DISMISSED.value]).rowcount

    def count(self) -> int:
        self._table()
        return int(self.db.execute("SELECT COUNT(*) FROM temp.staged").fetchone()[0])

    def batches(self, size: int) -> Iterator[list[Submission]]:
        """The staged submissions in batches of ``size``, oldest first across forms.

        Keyset paging, a fresh query per batch: no cursor stays open while the batch is
        written and recorded, and each read is an index range, not an OFFSET scan. Once the
        keys are assigned (unstage_recorded), (submitted_at, key) is unique, so the page
        boundary never splits a pair.
        """
        self._table()
        after: tuple[int, str] = (-(2 ** 63), "")
        while True:
            rows = self.db.execute(
                "SELECT conversion_id, form_id, submitted_at, page_url, payload, kind FROM temp.staged "
                "WHERE (submitted_at, conversion_id) > (?, ?) "
                "ORDER BY submitted_at, conversion_id LIMIT ?", [*after, size]).fetchall()
            if not rows:
                return
            after = (rows[-1][2], rows[-1][0])
            yield [Submission(cid, form_id, at, marshal.loads(payload), url, kind)
                   for cid, form_id, at, url, payload, kind in rows]

    def clear(self) -> None:
        """Empty the stage (a run's start and end; a daemon keeps its connection open)."""
        if self._created:
            with self.db.atomic():
                self.db.execute("DELETE FROM temp.staged")
