"""The streamed pull: pages staged in SQLite, batches read back oldest first across forms,
and a run killed between pages or batches that loses nothing."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import pytest

from connector.engine.wiring import Session
from connector.engine.run import Engine
from connector.adapters.hubspot.forms import HubSpotClient
from connector.core.model import Action, Outcome, Status, Submission
from connector.sandbox import Sandbox
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from sync_helpers import EXT, Org

ROOT = Path(__file__).resolve().parent.parent


def sub(cid: str, form: str, at: int) -> Submission:
    return Submission(cid, form, at, {"email": f"{cid}@example.com", "lastname": "Ünïcode"}, "https://x/p")


# -- the stage ---------------------------------------------------------------------------------

def test_staged_batches_come_out_oldest_first_across_forms(tmp_path):
    state = State.open(tmp_path / "s.db")
    # each form's pages arrive newest first, the forms interleaved
    assert state.stage([sub("a5", "A", 50), sub("a3", "A", 30)]) == 2
    assert state.stage([sub("b4", "B", 40), sub("b2", "B", 20), sub("b1", "B", 10)]) == 3
    assert state.stage([sub("a1", "A", 10), sub("b2", "B", 20)]) == 1  # b2 again: kept once
    batches = list(state.staged_batches(2))
    assert [[s.conversion_id for s in b] for b in batches] == [["a1", "b1"], ["b2", "a3"], ["b4", "a5"]]
    assert batches[0][0] == sub("a1", "A", 10)  # values and page url survive the round trip


def test_recorded_responses_are_unstaged_pending_ones_kept(tmp_path):
    state = State.open(tmp_path / "s.db")
    state.record_outcomes([Outcome("done", "A", 1, "d@x.io", Action.CREATE_LEAD, Status.APPLIED),
                           Outcome("parked", "A", 2, "p@x.io", Action.FAILED, Status.FAILED)], "r1")
    state.record_intents([Outcome("pending", "A", 3, "q@x.io", Action.CREATE_LEAD, Status.PENDING)], "r1")
    state.stage([sub("done", "A", 1), sub("parked", "A", 2), sub("pending", "A", 3), sub("new", "A", 4)])
    assert state.unstage_recorded() == 2
    assert state.staged_count() == 2
    assert [s.conversion_id for b in state.staged_batches(10) for s in b] == ["pending", "new"]
    state.unstage_all()
    assert state.staged_count() == 0


def test_a_read_only_state_stages_too_and_the_file_is_untouched(tmp_path):
    path = tmp_path / "s.db"
    State.open(path).close()
    before = path.read_bytes()
    state = State.open_read_only(path)
    state.stage([sub("x", "A", 1)])
    assert [s.conversion_id for b in state.staged_batches(5) for s in b] == ["x"]
    state.close()
    assert path.read_bytes() == before


def test_ledger_upsert_counts_attempts_and_keeps_the_first_sighting(tmp_path):
    state = State.open(tmp_path / "s.db")
    pending = Outcome("a", "A", 1, "a@x.io", Action.CREATE_LEAD, Status.PENDING)
    state.record_intents([pending], "r1")
    first = state.ledger("a")
    state.record_outcomes([Outcome("a", "A", 1, "a@x.io", Action.CREATE_LEAD, Status.APPLIED,
                                   lead_id="00Q1")], "r1")
    state.record_intents([pending], "r2")
    row = state.ledger("a")
    assert (row["attempts"], row["first_seen_at"], row["run_id"], row["lead_id"]) == \
        (2, first["first_seen_at"], "r2", None)
    state.record_outcomes([Outcome("b", "A", 2, "b@x.io", Action.FAILED, Status.FAILED)], "r2")
    assert state.ledger("b")["attempts"] == 1


# -- the engine --------------------------------------------------------------------------------

@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=3) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(3)
        yield o


def fill_interleaved(org: Org, n: int, people: int) -> list[tuple[str, int, int]]:
    """(conversion id, form index, submitted_at) of each fill, forms in a scrambled order."""
    fills = []
    for i in range(n):
        form = (i * 7 + i // 3) % 3
        cid = org.fill(form, f"p{i % people}@example.com", lastname=f"L{i}", company="Acme")
        fills.append((cid, form, org.clock))
    return fills


def small_pages(org: Org) -> dict[str, object]:
    return {"hubspot": {"base_url": org.sandbox.url, "access_token": org.sandbox.token, "page_size": 3}}


def test_engine_batches_are_oldest_first_across_forms(org, monkeypatch):
    fills = fill_interleaved(org, 23, 9)
    seen: list[list[str]] = []
    real = Engine._batch

    def spy(self, batch, *args, **kwargs):
        seen.append([s.conversion_id for s in batch])
        return real(self, batch, *args, **kwargs)

    monkeypatch.setattr(Engine, "_batch", spy)
    report = org.sync("hybrid", sync={"batch_size": 4}, **small_pages(org))
    assert report.status == "ok", report.error
    assert [len(b) for b in seen] == [4, 4, 4, 4, 4, 3]
    assert [cid for b in seen for cid in b] == [cid for cid, _, _ in sorted(fills, key=lambda f: f[2])]
    assert report.counts["pulled"] == 23

    seen.clear()  # the next run re-reads the lookback window; the ledger drops all of it
    again = org.sync("hybrid", sync={"batch_size": 4}, **small_pages(org))
    assert again.counts["pulled"] == 0 and again.counts["skipped"] > 0 and seen == []


def test_a_hubspot_error_mid_pull_aborts_before_any_write(org):
    fill_interleaved(org, 12, 12)
    settings = org.settings("hybrid", **small_pages(org))
    hs = HubSpotClient(settings.hubspot, retry=RetryPolicy.fast())
    # A form HubSpot does not have (404) is no longer an error of the pull (issue 21): it is
    # listed, and the other forms' pages still come (the engine pauses that form alone).
    forms = {f: 0 for f in org.forms} | {"no-such-form": 0}
    assert sum(len(page) for page in hs.pages_many(forms)) == 12
    assert hs.missing_forms == {"no-such-form"}
    # Any other error of the feed, once the retries are spent, still aborts before a write.
    org.sandbox.app.faults.configure(families=["hubspot.submissions"], fail_next=["error_500"] * 40)
    report = org.sync("hybrid", **small_pages(org))
    org.sandbox.app.faults.configure(fail_next=[], families=None)
    assert report.status == "aborted" and org.leads() == [] and org.members() == []
    state = State.open(org.state_path)
    assert state.rows() == [] and state.watermarks() == {}


# -- killed runs -------------------------------------------------------------------------------

KILLER = """
import os, signal, sys
import connector.{module} as target
from connector.cli import main
cls = getattr(target, {cls!r})
real = getattr(cls, {method!r})
calls = [0]
def dying(self, *args, **kwargs):
    calls[0] += 1
    result = real(self, *args, **kwargs)
    if calls[0] == {nth}:
        os.kill(os.getpid(), signal.SIGKILL)   # after the call: its effect stays, nothing after it
    return result
setattr(cls, {method!r}, dying)
main(["sync", "--config", sys.argv[1]], prog_name="leadsync")
"""

KILL_POINTS = {
    "between pages": ("adapters.sqlite.ledger", "State", "stage", 3),
    "between batches": ("adapters.sqlite.ledger", "State", "record_outcomes", 2),
    "after the writes, before the record": ("adapters.salesforce.client", "SalesforceClient", "create_members", 2),
}


def assert_watermarks_cover_only_recorded(org: Org, fills: list[tuple[str, int, int]]) -> None:
    """Every response older than its form's watermark is in the ledger as applied or parked."""
    state = State.open(org.state_path)
    marks = state.watermarks()
    recorded = {cid for cid, status in state.statuses(cid for cid, _, _ in fills).items()
                if status in ("applied", "failed")}
    for cid, form, at in fills:
        mark = marks.get(org.forms[form])
        if mark is not None and at < mark:
            assert cid in recorded, f"the watermark of form {form} passed {cid}, never recorded"
    state.close()


@pytest.mark.parametrize("where", list(KILL_POINTS))
def test_a_run_killed_loses_nothing_and_the_next_completes(org, tmp_path, where):
    fills = fill_interleaved(org, 40, 15)
    module, cls, method, nth = KILL_POINTS[where]
    config = org.write_config(tmp_path / "c.toml", method="hybrid",
                              salesforce={"lead_external_id_field": EXT}, sync={"batch_size": 8})
    config.write_text(config.read_text().replace("[hubspot]\n", "[hubspot]\npage_size = 3\n"))
    script = KILLER.format(module=module, cls=cls, method=method, nth=nth)
    killed = subprocess.run([sys.executable, "-c", script, str(config)], cwd=ROOT, timeout=120,
                            env=org.env({**os.environ, "PYTHONPATH": str(ROOT)}), capture_output=True)
    assert killed.returncode == -9, killed.stderr

    state = State.open(org.state_path)
    applied = sum(1 for r in state.rows() if r["status"] == "applied")
    state.close()
    assert applied < 40  # the kill landed mid-run
    if where == "between pages":
        assert applied == 0
    assert_watermarks_cover_only_recorded(org, fills)

    report = org.sync("hybrid", salesforce={"lead_external_id_field": EXT}, sync={"batch_size": 8},
                      **small_pages(org))
    assert report.status == "ok", report.error
    state = State.open(org.state_path)
    rows = state.rows()
    assert len(rows) == 40 and {r["status"] for r in rows} == {"applied"}
    assert {r["conversion_id"] for r in rows} == {cid for cid, _, _ in fills}
    open_leads = collections.Counter(lead["Email"] for lead in org.leads())
    assert len(open_leads) == 15 and max(open_leads.values()) == 1
    pairs = collections.Counter((m["CampaignId"], m.get("LeadId") or m.get("ContactId"))
                                for m in org.members())
    assert max(pairs.values()) == 1 and len(pairs) == len({(f, i % 15) for i, (_, f, _) in enumerate(fills)})
    assert_watermarks_cover_only_recorded(org, fills)


def test_retry_reads_back_only_the_parked_and_counts_the_missing(org):
    fills = fill_interleaved(org, 20, 20)
    bad = [org.fill(1, "not an email"), org.fill(2, "")]
    first = org.sync("hybrid", **small_pages(org))
    assert first.counts["failed"] == 2
    state = State.open(org.state_path)
    state.record_outcomes([Outcome("gone-from-hubspot", org.forms[0], fills[3][2], "g@x.io",
                                   Action.FAILED, Status.FAILED),
                           Outcome("of-an-unmapped-form", "form-nobody-maps", 1, "u@x.io",
                                   Action.FAILED, Status.FAILED)], "r0")
    state.close()
    seen: list[str] = []
    with Session(org.settings("hybrid", **small_pages(org)), retry=RetryPolicy.fast()) as engine:
        real = engine._batch
        engine._batch = lambda batch, *a, **k: (seen.extend(s.conversion_id for s in batch),
                                                 real(batch, *a, **k))[1]
        report = engine.retry()
    assert sorted(seen) == sorted(bad)  # the window's other 20 responses were not held
    assert (report.counts["pulled"], report.counts["parked_not_in_hubspot"],
            report.counts["parked_form_not_mapped"], report.counts["failed"]) == (2, 1, 1, 2)


# -- the run's memory follows the batch ---------------------------------------------------------

def _memory_at_each_batch(org, monkeypatch, **sync_args):
    """(people remembered, memberships planned) as each batch starts."""
    sizes: list[tuple[int, int]] = []
    real = Engine._batch

    def spy(self, batch, method, memory, *args, **kwargs):
        sizes.append((len(memory.people), len(memory.memberships)))
        return real(self, batch, method, memory, *args, **kwargs)

    monkeypatch.setattr(Engine, "_batch", spy)
    report = org.sync("hybrid", sync={"batch_size": 2}, **sync_args)
    monkeypatch.setattr(Engine, "_batch", real)
    return sizes, report


def test_a_written_batch_is_forgotten_and_later_fills_still_attach(org, monkeypatch):
    for i in range(3):                 # Bob's fills spread over three batches, new people between
        org.fill(0, "bob@example.com", lastname="Bob")
        org.fill(1, f"p{i}@example.com", lastname=f"P{i}")
    org.fill(0, "bob@example.com")     # same campaign again, in the last batch
    sizes, report = _memory_at_each_batch(org, monkeypatch)
    assert report.status == "ok", report.error
    assert sizes == [(0, 0)] * 4       # nothing carried: later batches find what earlier wrote
    assert len(org.leads("bob@example.com")) == 1
    bob = org.leads("bob@example.com")[0]["Id"]
    assert [m["CampaignId"] for m in org.members(bob)] == [org.campaigns[0]]
    assert report.counts["created_leads"] == 4 and report.counts["already_member"] == 3


def test_a_dry_run_remembers_what_it_would_create_across_batches(org, monkeypatch):
    for i in range(3):
        org.fill(0, "bob@example.com", lastname="Bob")
        org.fill(1, f"p{i}@example.com", lastname=f"P{i}")
    sizes, report = _memory_at_each_batch(org, monkeypatch, dry_run=True)
    assert sizes[0] == (0, 0) and sizes[-1][0] >= 2   # nothing written: only memory knows Bob
    assert org.leads("bob@example.com") == []
    assert report.counts["created_leads"] == 4 and report.counts["already_member"] == 2
    real = org.sync("hybrid", sync={"batch_size": 2})   # the preview is what the run then does
    assert dict(real.counts) == dict(report.counts)
    assert len(org.leads("bob@example.com")) == 1
