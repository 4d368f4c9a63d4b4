"""Every run resolves every ``pending`` row of the ledger first, whatever its age.

A run killed after recording its intents (a sync, a ``retry``, a backfill) leaves rows that
are neither applied nor parked. A sync only re-reads a lookback window behind each form's
watermark, and ``retry`` used to read only parked rows, so an old pending row was stranded
while both commands said "ok". These tests leave such a row behind and check that the next
sync, or the next retry, writes it exactly once.
"""

from __future__ import annotations

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.core.model import Action, Outcome, Status
from connector.engine.wiring import Session
from connector.sandbox import Sandbox
from sync_helpers import T0, Org

DAY_MS = 86_400_000


@pytest.fixture
def org(tmp_path):
    with Sandbox(token="00Dsandbox!TOKEN") as sb:
        o = Org(sb, tmp_path / "state.db")
        o.add_forms(1)
        yield o


def _strand_an_old_intent(org: Org) -> str:
    """A response a week older than the watermark, whose run died after its intent."""
    old = org.hs.add_submission(org.forms[0], {"email": "old@stranded.example", "lastname": "Old"},
                                submitted_at=T0 - 7 * DAY_MS)
    state = State.open(org.state_path)
    state.record_intents([Outcome(old, org.forms[0], T0 - 7 * DAY_MS, "old@stranded.example",
                                  Action.CREATE_LEAD, Status.PENDING, campaign_id=org.campaigns[0])],
                         "run-killed")
    state.close()
    return old


@pytest.mark.parametrize("next_run", ["sync", "retry"])
def test_an_old_pending_row_is_resolved_by_the_next_run(org, next_run):
    org.fill(0, "new@example.com")
    assert org.sync("hybrid").status == "ok"             # the watermark is now past T0
    old = _strand_an_old_intent(org)
    with Session(org.settings("hybrid"), retry=RetryPolicy.fast()) as engine:
        report = engine.run() if next_run == "sync" else engine.retry()
    assert report.status == "ok"
    state = State.open_read_only(org.state_path)
    row = state.ledger(old)
    state.close()
    assert row is not None and row["status"] == "applied"
    assert len(org.leads("old@stranded.example")) == 1
    # and once only: a second run finds it applied and writes nothing
    org.sync("hybrid")
    assert len(org.leads("old@stranded.example")) == 1
