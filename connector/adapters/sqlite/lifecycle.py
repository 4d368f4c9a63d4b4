"""The lifecycle pass's own tables: watched hand-offs, the actions taken, the pool's rotation.

- ``lc_watch``: one row per Lead leadsync handed off (from the ledger's hand-off rows: an
  applied response with a follow-up Task on a Lead), with its SLA clock and where it stands;
- ``lc_seen``: which hand-off rows were taken in (a later sales-ready response re-opens a
  watch that was touched, recycled or escalated);
- ``lc_action``: every action, recorded ``pending`` with its full plan *before* any write, in
  the same transaction as the watch's new state and the pool's new position, and settled
  ``done`` (or ``failed``) after: a pass killed or cut off mid-write replays the pending plan
  (updates are idempotent, a Task create looks for the Task first), so each action happens
  exactly once and the rotation moves once;
- ``lc_rotation``: the pool's position, so the round robin is fair across passes.

Created by ``ensure_lifecycle`` (idempotent, from ``State._ensure_schema``); a read-only state
of an older file lacks them and reads as empty.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator

import sqlite_utils

from connector.adapters.sqlite.schema import now_iso
from connector.core.lifecycle.model import Kind, NewTask, Watch, WatchState
from connector.core.timefmt import parse_ms

_WATCH_COLUMNS = ("lead_id", "email", "owner_id", "task_id", "handed_off_ms", "clock_ms",
                  "state", "reassignments", "form_id", "touched_ms", "within_sla",
                  "recycled_ms", "come_back_ms", "first_owner_id")
# A watch whose hand-off row comes again (a new sales-ready response) opens anew from these.
_REOPENABLE = (WatchState.TOUCHED, WatchState.ESCALATED, WatchState.EXHAUSTED,
               WatchState.RECYCLED, WatchState.CAME_BACK, WatchState.EXPIRED)


def ensure_lifecycle(db: sqlite_utils.Database) -> None:
    names = set(db.table_names())
    if "lc_watch" not in names:
        db.table("lc_watch").create({
            "lead_id": str, "email": str, "owner_id": str, "task_id": str, "handed_off_ms": int,
            "clock_ms": int, "state": str, "reassignments": int, "form_id": str,
            "touched_ms": int, "within_sla": int, "recycled_ms": int, "come_back_ms": int,
            "first_owner_id": str, "updated_at": str}, pk="lead_id")
        db.execute("CREATE INDEX IF NOT EXISTS idx_lc_watch_state ON lc_watch (state, lead_id)")
    if "lc_seen" not in names:
        db.table("lc_seen").create({"conversion_id": str}, pk="conversion_id")
    if "lc_action" not in names:
        db.table("lc_action").create({
            "id": str, "run_id": str, "lead_id": str, "kind": str, "status": str,
            "created_ms": int, "reason": str, "from_owner": str, "to_owner": str,
            "plan": str, "before": str, "task_id": str, "error": str, "updated_at": str},
            pk="id")
        db.execute("CREATE INDEX IF NOT EXISTS idx_lc_action_status ON lc_action (status)")
    if "lc_rotation" not in names:
        db.table("lc_rotation").create({"pool": str, "position": int}, pk="pool")
    if "lc_owner" not in names:   # owners' names as the last pass read them, for status
        db.table("lc_owner").create({"id": str, "name": str}, pk="id")


@dataclass(frozen=True)
class Plan:
    """What an action writes, kept with its intent so a replay writes the same values."""

    lead_id: str
    owner_id: str | None = None
    status: str | None = None
    move_tasks: tuple[str, ...] = ()
    task_owner_id: str | None = None
    new_task: NewTask | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        data = json.loads(text)
        task = data.get("new_task")
        return cls(data["lead_id"], data.get("owner_id"), data.get("status"),
                   tuple(data.get("move_tasks") or ()), data.get("task_owner_id"),
                   NewTask(**task) if task else None)


@dataclass(frozen=True)
class ActionRow:
    id: str
    lead_id: str
    kind: Kind
    created_ms: int
    plan: Plan
    before: Watch | None
    reason: str = ""


@dataclass(frozen=True)
class Intent:
    """One action about to be written: its row, and the watch as it will be once done."""

    action: ActionRow
    after: Watch
    from_owner: str | None
    to_owner: str | None


class LifecycleStore:
    """The lifecycle tables of one state (its connection; its transactions)."""

    def __init__(self, db: sqlite_utils.Database, *, read_only: bool = False) -> None:
        self.db = db
        self.read_only = read_only

    @property
    def present(self) -> bool:
        return "lc_watch" in self.db.table_names()

    # -- watches ------------------------------------------------------------------------------
    def take_in_handoffs(self, *, chunk: int = 2000) -> int:
        """New hand-offs -> watches, ``chunk`` rows at a time (memory stays one chunk whatever
        the backlog): the sync's (ledger rows with a follow-up Task) and the daily rescore's
        ([scoring]'s promotions, ``score_handoffs``), so a Lead handed off by its score is
        watched as one handed off by a form. Returns how many watches were opened."""
        if not self.present:
            return 0
        taken = 0
        for source in (self._ledger_handoffs, self._score_handoffs):
            while rows := source(chunk):
                taken += self._open(rows)
        return taken

    def _ledger_handoffs(self, chunk: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT l.conversion_id AS seen, l.lead_id, l.email, l.owner_id, l.task_id, l.form_id, "
            "l.updated_at FROM ledger l LEFT JOIN lc_seen s ON s.conversion_id = "
            "l.conversion_id WHERE s.conversion_id IS NULL AND l.status = 'applied' AND "
            "l.task_id IS NOT NULL AND l.lead_id IS NOT NULL ORDER BY l.updated_at LIMIT ?",
            [chunk]))

    def _score_handoffs(self, chunk: int) -> list[dict[str, Any]]:
        if "score_handoffs" not in self.db.table_names():
            return []
        rows = list(self.db.query(
            "SELECT 'score:' || h.key AS seen, h.record_id AS lead_id, h.email, h.task_id, "
            "h.fields, h.updated_at FROM score_handoffs h LEFT JOIN lc_seen s ON "
            "s.conversion_id = 'score:' || h.key WHERE s.conversion_id IS NULL AND "
            "h.status = 'done' AND h.task_id IS NOT NULL AND h.record_id LIKE '00Q%' "
            "ORDER BY h.updated_at LIMIT ?", [chunk]))
        for row in rows:   # the owner the promotion set (else the Lead's own, read by the pass)
            plan = json.loads(row.pop("fields") or "{}")
            row["owner_id"] = (plan.get("fields") or {}).get("OwnerId")
            row["form_id"] = None
        return rows

    def _open(self, rows: list[dict[str, Any]]) -> int:
        known = self._watches([r["lead_id"] for r in rows])
        opened: dict[str, Watch] = {}
        for row in rows:
            at = parse_ms(row["updated_at"]) or 0
            prior = opened.get(row["lead_id"]) or known.get(row["lead_id"])
            if prior is None or (prior.state in _REOPENABLE and at > prior.clock_ms):
                opened[row["lead_id"]] = Watch(
                    lead_id=row["lead_id"], email=row["email"] or "", owner_id=row["owner_id"],
                    task_id=row["task_id"], handed_off_ms=at, clock_ms=at,
                    form_id=row["form_id"], first_owner_id=row["owner_id"])
        with self.db.atomic():
            self._put_many(opened.values())
            self.db.conn.executemany("INSERT OR IGNORE INTO lc_seen (conversion_id) VALUES (?)",
                                     [(r["seen"],) for r in rows])
        return len(opened)

    def recycled_among(self, lead_ids: list[str], *, chunk: int = 500) -> set[str]:
        """Which of these Leads the pass recycled and holds until their come-back date (the
        write-back names their stage ``recycled`` though their status is the nurture one)."""
        if not lead_ids or not self.present:
            return set()
        found: set[str] = set()
        for start in range(0, len(lead_ids), chunk):
            part = lead_ids[start:start + chunk]
            marks = ",".join("?" * len(part))
            found.update(r["lead_id"] for r in self.db.query(
                f"SELECT lead_id FROM lc_watch WHERE state = ? AND lead_id IN ({marks})",
                [WatchState.RECYCLED.value, *part]))
        return found

    def watch(self, lead_id: str) -> Watch | None:
        if not self.present:
            return None
        row = next(self.db.query("SELECT * FROM lc_watch WHERE lead_id = ?", [lead_id]), None)
        return None if row is None else _watch(row)

    def due(self, now_ms: int, *, page: int) -> Iterator[list[Watch]]:
        """The watches a pass reads, ``page`` at a time in Lead Id order (keyset: memory is
        one page whatever the number of watches): every live one (``model.LIVE``), a
        recycled one only once its come-back date has come."""
        if not self.present:
            return
        after = ""
        while True:
            rows = list(self.db.query(
                "SELECT * FROM lc_watch WHERE lead_id > ? AND (state IN ('open', 'touched', "
                "'escalated', 'exhausted', 'came_back') OR "
                "(state = 'recycled' AND come_back_ms <= ?)) ORDER BY lead_id LIMIT ?",
                [after, now_ms, page]))
            if not rows:
                return
            yield [_watch(r) for r in rows]
            after = rows[-1]["lead_id"]

    def handed_off_since(self, since_ms: int) -> list[Watch]:
        """The watches of hand-offs made since ``since_ms`` (the alert's window)."""
        if not self.present:
            return []
        return [_watch(r) for r in self.db.query(
            "SELECT * FROM lc_watch WHERE handed_off_ms >= ? ORDER BY lead_id", [since_ms])]

    def all_watches(self) -> list[Watch]:
        if not self.present:
            return []
        return [_watch(r) for r in self.db.query("SELECT * FROM lc_watch ORDER BY lead_id")]

    def forms_since(self, since: dict[str, int]) -> dict[str, list[str]]:
        """Each Lead's responses' forms recorded since its recycling (oldest first), from the
        ledger: when leadsync saw them, not when they were submitted (a backlog counts too)."""
        ids = sorted(since)
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for row in self.db.query(
                    "SELECT lead_id, form_id, first_seen_at FROM ledger WHERE status = 'applied' "
                    f"AND lead_id IN ({','.join('?' * len(part))}) ORDER BY first_seen_at", part):
                seen = parse_ms(row["first_seen_at"]) or 0
                if seen >= since.get(row["lead_id"], 0):
                    out.setdefault(row["lead_id"], []).append(row["form_id"])
        return out

    def save_watches(self, watches: Iterable[Watch]) -> None:
        with self.db.atomic():
            self._put_many(watches)

    def _watches(self, lead_ids: list[str]) -> dict[str, Watch]:
        ids = sorted(set(lead_ids))
        out: dict[str, Watch] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for row in self.db.query(f"SELECT * FROM lc_watch WHERE lead_id IN "
                                     f"({','.join('?' * len(part))})", part):
                out[row["lead_id"]] = _watch(row)
        return out

    def _put_many(self, watches: Iterable[Watch]) -> None:
        """Watches written in one statement (``_put`` a row at a time costs a page of them
        more than the rest of the page's work)."""
        stamp = now_iso()
        columns = (*_WATCH_COLUMNS, "updated_at")
        rows = []
        for watch in watches:
            row = _watch_row(watch)
            row["within_sla"] = None if watch.within_sla is None else int(watch.within_sla)
            rows.append(tuple(row[c] for c in _WATCH_COLUMNS) + (stamp,))
        if rows:
            self.db.conn.executemany(
                f"INSERT INTO lc_watch ({', '.join(columns)}) VALUES "
                f"({', '.join('?' * len(columns))}) ON CONFLICT (lead_id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "lead_id"), rows)

    def _put(self, watch: Watch) -> None:
        row = {c: getattr(watch, c) for c in _WATCH_COLUMNS}
        row["state"] = watch.state.value
        row["within_sla"] = None if watch.within_sla is None else int(watch.within_sla)
        row["updated_at"] = now_iso()
        self.db.table("lc_watch").upsert(row, pk="lead_id")

    def save_names(self, names: dict[str, str]) -> None:
        if names:
            with self.db.atomic():
                self.db.conn.executemany(
                    "INSERT INTO lc_owner (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE "
                    "SET name = excluded.name", sorted(names.items()))

    def names(self) -> dict[str, str]:
        if "lc_owner" not in self.db.table_names():
            return {}
        return {r["id"]: r["name"] for r in self.db.query("SELECT id, name FROM lc_owner")}

    # -- rotation -----------------------------------------------------------------------------
    def rotation(self, pool: str) -> int:
        if not self.present:
            return -1
        row = next(self.db.query("SELECT position FROM lc_rotation WHERE pool = ?", [pool]), None)
        return -1 if row is None else int(row["position"])

    # -- actions --------------------------------------------------------------------------------
    def record_intents(self, intents: list[Intent], *, run_id: str, pool: str,
                       rotation: int | None) -> None:
        """Pending actions, the watches as they will be, and the pool's position: one
        transaction, before any write."""
        if not intents and rotation is None:
            return
        stamp = now_iso()
        with self.db.atomic():
            self.db.table("lc_action").insert_all([{
                "id": i.action.id, "run_id": run_id, "lead_id": i.action.lead_id,
                "kind": i.action.kind.value, "status": "pending",
                "created_ms": i.action.created_ms, "reason": i.action.reason,
                "from_owner": i.from_owner, "to_owner": i.to_owner,
                "plan": i.action.plan.to_json(),
                "before": json.dumps(_watch_row(i.action.before)) if i.action.before else None,
                "updated_at": stamp} for i in intents])
            self._put_many(i.after for i in intents)
            if rotation is not None:
                self.db.table("lc_rotation").upsert({"pool": pool, "position": rotation}, pk="pool")

    def pending(self) -> list[ActionRow]:
        if not self.present:
            return []
        return [ActionRow(r["id"], r["lead_id"], Kind(r["kind"]), r["created_ms"],
                          Plan.from_json(r["plan"]),
                          _watch(json.loads(r["before"])) if r["before"] else None, r["reason"])
                for r in self.db.query("SELECT * FROM lc_action WHERE status = 'pending' "
                                       "ORDER BY created_ms, id")]

    def settle(self, done: list[tuple[ActionRow, str | None]],
               failed: list[tuple[ActionRow, str]]) -> None:
        """Done actions (with the Task each created) and failed ones (the watch put back as it
        was, so the next pass decides again), in one transaction."""
        stamp = now_iso()
        with self.db.atomic():
            for action, task_id in done:
                self.db.execute("UPDATE lc_action SET status = 'done', task_id = ?, updated_at = ? "
                                "WHERE id = ?", [task_id, stamp, action.id])
                if task_id and action.kind is Kind.COME_BACK:
                    self.db.execute("UPDATE lc_watch SET task_id = ? WHERE lead_id = ?",
                                    [task_id, action.lead_id])
            for action, error in failed:
                self.db.execute("UPDATE lc_action SET status = 'failed', error = ?, updated_at = ? "
                                "WHERE id = ?", [error, stamp, action.id])
                if action.before is not None:
                    self._put(action.before)

    def claimed_tasks(self, task_ids: Iterable[str]) -> set[str]:
        """Which of these Tasks a settled action already created (not another's to claim)."""
        ids = sorted(set(task_ids))
        if not ids:
            return set()
        return {r["task_id"] for r in self.db.query(
            f"SELECT task_id FROM lc_action WHERE task_id IN ({','.join('?' * len(ids))})", ids)}

    def actions(self, *, since_ms: int = 0) -> list[dict[str, Any]]:
        """Every action taken (done), for the per-owner figures."""
        if not self.present:
            return []
        return list(self.db.query("SELECT lead_id, kind, from_owner, to_owner, created_ms FROM "
                                  "lc_action WHERE status = 'done' AND created_ms >= ?",
                                  [since_ms]))


def _watch_row(watch: Watch) -> dict[str, Any]:
    row = {c: getattr(watch, c) for c in _WATCH_COLUMNS}
    row["state"] = watch.state.value
    return row


def _watch(row: dict[str, Any]) -> Watch:
    within = row.get("within_sla")
    return Watch(lead_id=row["lead_id"], email=row.get("email") or "", owner_id=row.get("owner_id"),
                 task_id=row.get("task_id"), handed_off_ms=int(row.get("handed_off_ms") or 0),
                 clock_ms=int(row.get("clock_ms") or 0), state=WatchState(row["state"]),
                 reassignments=int(row.get("reassignments") or 0), form_id=row.get("form_id"),
                 touched_ms=row.get("touched_ms"),
                 within_sla=None if within is None else bool(within),
                 recycled_ms=row.get("recycled_ms"), come_back_ms=row.get("come_back_ms"),
                 first_owner_id=row.get("first_owner_id"))
