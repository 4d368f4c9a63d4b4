from __future__ import annotations

import os
import subprocess
import sys

import pytest

from connector.errors import StateLocked
from connector.core.model import AccountPick, Action, Enrichment, Outcome, OwnerPick, Status
from connector.adapters.sqlite.ledger import HISTORY_INDEX, State
from connector.core.watermarks import advance_watermark


@pytest.mark.parametrize("current,recorded,ceiling,expected", [
    (None, [], 100, None),            # nothing recorded: no watermark yet
    (None, [5, 9, 7], 100, 9),        # the newest recorded submission
    (50, [10, 20], 100, 50),          # never moves backwards
    (None, [150], 100, 100),          # capped at the run's start (clock skew)
    (10, [10], 100, 10),              # a tie on the boundary keeps it
])
def test_advance_watermark(current, recorded, ceiling, expected):
    assert advance_watermark(current, recorded, ceiling) == expected


def outcome(cid: str, status: Status = Status.APPLIED, at: int = 1) -> Outcome:
    return Outcome(cid, "form-1", at, f"{cid}@example.com", Action.CREATE_LEAD, status)


def test_outcomes_and_watermark_move_together(tmp_path):
    state = State.open(tmp_path / "s.db")
    state.record_intents([outcome("a", Status.PENDING)], "run-1")
    assert state.ledger("a")["status"] == "pending" and state.watermark("form-1") is None

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with state.transaction():
            state.record_outcomes([outcome("a")], "run-1", {"form-1": 1})
            raise Boom
    # the failed transaction left neither the outcome nor the watermark behind
    assert state.ledger("a")["status"] == "pending" and state.watermark("form-1") is None

    state.record_outcomes([outcome("a")], "run-1", {"form-1": 1})
    assert state.ledger("a")["status"] == "applied" and state.watermark("form-1") == 1
    assert state.ledger("a")["attempts"] == 1


def test_state_file_is_owner_only(tmp_path):
    path = tmp_path / "nested" / "s.db"
    State.open(path).close()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_read_only_never_creates_the_file(tmp_path):
    path = tmp_path / "s.db"
    state = State.open_read_only(path)
    assert state.watermark("x") is None and state.statuses(["a"]) == {}
    assert not path.exists()


def test_second_process_is_refused_with_the_holder_named(tmp_path):
    path = tmp_path / "s.db"
    first = State.open(path)
    first.lock()
    code = ("import sys; from connector.adapters.sqlite.ledger import State\n"
            "from connector.errors import StateLocked\n"
            f"s = State.open({str(path)!r})\n"
            "try:\n    s.lock()\nexcept StateLocked as e:\n    print(e); sys.exit(7)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.returncode == 7, result.stderr
    assert f"pid {os.getpid()}" in result.stdout
    assert first.lock_holder() is None or str(os.getpid()) in first.lock_holder()
    first.unlock()
    again = State.open(path)
    again.lock()  # free once released
    again.close()


def test_lock_of_a_killed_process_is_free_at_once(tmp_path):
    path = tmp_path / "s.db"
    code = ("import os, signal; from connector.adapters.sqlite.ledger import State\n"
            f"s = State.open({str(path)!r}); s.lock(); os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__)))
    state = State.open(path)
    state.lock()
    assert state.lock_holder() is not None  # we hold it now
    state.close()


def test_in_process_double_lock_is_refused(tmp_path):
    path = tmp_path / "s.db"
    a, b = State.open(path), State.open(path)
    a.lock()
    with pytest.raises(StateLocked):
        b.lock()
    a.close()
    b.close()


def test_ledger_keeps_what_shaping_decided_but_no_field_values(tmp_path):
    state = State.open(tmp_path / "s.db")
    outcome = Outcome("c1", "f1", 1000, "bob@acme.com", Action.CREATE_LEAD, Status.APPLIED,
                      lead_id="00Q000000000001AAA",
                      enrichment=Enrichment(owner=OwnerPick("00G000000000001AAA", 1),
                                            account=AccountPick("001000000000001AAA", "Acme", "domain"),
                                            changed_fields=("Phone", "Title")),
                      task_id="00T000000000001AAA")
    state.record_outcomes([outcome], "run-1")
    row = state.ledger("c1")
    assert (row["owner_id"], row["account_id"], row["account_match"], row["task_id"],
            row["changed_fields"]) == ("00G000000000001AAA", "001000000000001AAA", "domain",
                                       "00T000000000001AAA", "Phone,Title")
    assert state.history(["bob@acme.com", "x@y.z"]) == {"bob@acme.com": [(1000, "f1")]}


def test_an_older_state_file_gains_the_new_columns(tmp_path):
    import sqlite_utils
    db = sqlite_utils.Database(tmp_path / "old.db")
    db["ledger"].create({"conversion_id": str, "status": str}, pk="conversion_id")
    db["runs"].create({"id": str}, pk="id")
    db.conn.close()
    state = State.open(tmp_path / "old.db")
    assert {"owner_id", "account_match", "changed_fields"} <= set(state.db["ledger"].columns_dict)
    assert "created_contacts" in state.db["runs"].columns_dict


def test_cache_expires(tmp_path):
    state = State.open(tmp_path / "s.db")
    assert state.cached("describe", 60) is None
    state.cache("describe", {"Lead": {"fields": []}})
    assert state.cached("describe", 60) == {"Lead": {"fields": []}}
    assert state.cached("describe", -1) is None


def test_relink_to_a_merge_survivor_keeps_the_first_record(tmp_path):
    state = State.open(tmp_path / "s.db")
    created = Outcome("a", "form-1", 1, "a@example.com", Action.CREATE_LEAD, Status.APPLIED,
                      lead_id="00QLOSER", member_id="00vOLD")
    state.record_outcomes([created], "run-1")
    assert state.created_lead_ids(["00QLOSER", "00QSURVIVOR"]) == {"00QLOSER"}
    state.relink("a", "Lead", "00QSURVIVOR", "00vNEW")
    state.relink("a", "Lead", "00QTHIRD", "00vNEWER")               # merged again
    row = state.ledger("a")
    assert (row["lead_id"], row["member_id"], row["merged_from"]) == ("00QTHIRD", "00vNEWER", "00QLOSER")
    # leadsync created the first Lead, not the survivor someone else may have made.
    assert state.created_lead_ids(["00QLOSER", "00QTHIRD"]) == {"00QLOSER"}
    state.close()


def test_a_state_file_without_merged_from_reads_and_gains_it(tmp_path):
    path = tmp_path / "old.db"
    state = State.open(path)
    state.record_outcomes([Outcome("a", "form-1", 1, "a@example.com", Action.CREATE_LEAD,
                                   Status.APPLIED, lead_id="00Q1")], "run-1")
    state.db.execute("DROP INDEX idx_ledger_created_lead")   # older files have neither
    state.db.execute("ALTER TABLE ledger DROP COLUMN merged_from")
    state.close()
    old = State.open_read_only(path)                         # read-only: works without it
    assert old.created_lead_ids(["00Q1"]) == {"00Q1"}
    old.db.conn.close()
    upgraded = State.open(path)
    assert "merged_from" in upgraded.db["ledger"].columns_dict
    assert upgraded.ledger("a")["lead_id"] == "00Q1"
    upgraded.close()


def _indexes(state: State) -> set[str]:
    return {name for (name,) in state.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ledger'")}


def test_the_email_index_is_built_only_when_task_history_is_asked_for(tmp_path):
    state = State.open(tmp_path / "s.db")
    state.record_outcomes([Outcome("c1", "f1", 1000, "bob@acme.com", Action.CREATE_LEAD,
                                   Status.APPLIED, lead_id="00Q1")], "run-1")
    assert HISTORY_INDEX not in _indexes(state)          # a sync without Tasks never pays for it
    assert state.history(["bob@acme.com"]) == {"bob@acme.com": [(1000, "f1")]}
    assert HISTORY_INDEX in _indexes(state)
    plan = " ".join(str(row) for row in state.db.execute(
        "EXPLAIN QUERY PLAN SELECT email, submitted_at, form_id FROM ledger "
        "WHERE status = 'applied' AND email IN (?)", ["bob@acme.com"]))
    assert HISTORY_INDEX in plan
    state.close()
    # a dry run opens the file read-only: history still answers, by a scan, and nothing changes
    fresh = State.open(tmp_path / "t.db")
    fresh.record_outcomes([Outcome("c2", "f2", 2000, "ann@acme.com", Action.CREATE_LEAD,
                                   Status.APPLIED, lead_id="00Q2")], "run-1")
    fresh.close()
    read_only = State.open_read_only(tmp_path / "t.db")
    assert read_only.history(["ann@acme.com"]) == {"ann@acme.com": [(2000, "f2")]}
    assert HISTORY_INDEX not in _indexes(read_only)


def test_a_batch_is_written_whatever_order_its_rows_arrive_in(tmp_path):
    state = State.open(tmp_path / "s.db")
    ids = ["c9", "c1", "c5", "c3"]
    state.record_intents([outcome(cid, Status.PENDING, at=i) for i, cid in enumerate(ids)], "run-1")
    settled = [outcome(cid, at=i) for i, cid in enumerate(ids)]
    settled[2].enrichment = Enrichment(changed_fields=("Title",), owner=OwnerPick("005X", 1))
    state.record_outcomes(settled, "run-1", {"f1": 3})
    rows = {r["conversion_id"]: r for r in state.rows()}
    assert [r["conversion_id"] for r in state.rows()] == ids          # submitted_at order kept
    assert {cid: (r["status"], r["attempts"]) for cid, r in rows.items()} == {
        cid: ("applied", 1) for cid in ids}
    assert (rows["c5"]["changed_fields"], rows["c5"]["owner_id"]) == ("Title", "005X")
    assert rows["c9"]["changed_fields"] is None and rows["c9"]["owner_id"] is None


def test_left_out_fields_are_kept_and_said_afresh_when_a_response_is_recorded_again(tmp_path):
    """A parked response whose phone was left out, retried after the mapping was fixed: its
    row no longer names the field (the column is set apart from the rows' own statements)."""
    state = State.open(tmp_path / "s.db")
    first = [outcome("c1", Status.PENDING), outcome("c2", Status.PENDING)]
    state.record_intents(first, "run-1")
    done = [outcome("c1", Status.FAILED), outcome("c2")]
    done[0].left_out = ("Lead.Phone", "Lead.CountryCode")
    state.record_outcomes(done, "run-1")
    rows = {r["conversion_id"]: r for r in state.rows()}
    assert (rows["c1"]["left_out_fields"], rows["c2"]["left_out_fields"]) == (
        "Lead.Phone,Lead.CountryCode", None)
    state.record_intents([outcome("c1", Status.PENDING)], "run-2")      # the retry
    state.record_outcomes([outcome("c1")], "run-2")
    again = {r["conversion_id"]: r for r in state.rows()}["c1"]
    assert (again["status"], again["left_out_fields"], again["attempts"]) == ("applied", None, 2)
    # a decision recorded without an intent (the upsert's own path) keeps it too
    late = outcome("c3", Status.FAILED)
    late.left_out = ("Contact.Phone",)
    state.record_outcomes([late], "run-2")
    assert {r["conversion_id"]: r for r in state.rows()}["c3"]["left_out_fields"] == "Contact.Phone"


def _plan(state: State, sql: str, params: list) -> str:
    return " ".join(row[-1] for row in state.db.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def test_reconcile_queries_use_the_ledger_indexes(tmp_path):
    state = State.open(tmp_path / "s.db")
    created = ("SELECT DISTINCT COALESCE(merged_from, lead_id) AS created FROM ledger "
               "WHERE action = 'create_lead' AND COALESCE(merged_from, lead_id) IN (?, ?)")
    assert "USING INDEX idx_ledger_created_lead" in _plan(state, created, ["00Q1", "00Q2"])
    window = "SELECT * FROM ledger WHERE submitted_at >= ? ORDER BY submitted_at"
    assert "USING INDEX idx_ledger_submitted_at" in _plan(state, window, [0])
    state.close()


def test_an_older_state_file_gains_the_indexes_on_open(tmp_path):
    path = tmp_path / "old.db"
    State.open(path).close()
    import sqlite3
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX idx_ledger_created_lead")
    conn.execute("DROP INDEX idx_ledger_submitted_at")
    conn.commit()
    conn.close()
    state = State.open(path)
    assert {"idx_ledger_created_lead", "idx_ledger_submitted_at"} <= _indexes(state)
    state.close()
