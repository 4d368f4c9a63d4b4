"""Issue 17, item 6: a new form starts at ``[sync] start`` (default 30 days back), not at the
beginning of its history; a response older than ``[routing.tasks] max_age`` (default 7d)
gets no Task and no stage change, and the dry run says why."""

from __future__ import annotations

import time
from typing import Any

import pytest

from connector.config.routing import parse_routing
from connector.config.settings import settings_from_dict
from connector.core.enrich.owners import with_owner_ids
from connector.core.enrich.shape import Shaping, shape
from connector.core.methods import RunMemory, decide_all
from connector.core.model import Match, Method, Record, Response
from connector.core.normalise import FieldMapping, FieldSpec
from connector.core.plan import plan_batch
from connector.core.watermarks import StartPoint, first_since
from connector.engine.wiring import Session
from connector.adapters.transport import RetryPolicy
from connector.errors import ConfigError
from connector.sandbox import Sandbox
from sync_helpers import Org

DAY = 86_400_000
NOW = 1_800_000_000_000


# -- [sync] start -----------------------------------------------------------------------------

def test_first_since_starts_a_new_form_at_start_and_a_known_one_at_its_watermark():
    thirty_days = StartPoint(age_seconds=30 * 86400)
    assert first_since(None, thirty_days, NOW, 600_000) == NOW - 30 * DAY
    assert first_since(NOW - DAY, thirty_days, NOW, 600_000) == NOW - DAY - 600_000
    assert first_since(0, thirty_days, NOW, 600_000) == 0       # a watermark, even at 0, wins
    on_a_date = StartPoint(at_ms=1_767_225_600_000)               # 2026-01-01
    assert first_since(None, on_a_date, NOW, 600_000) == 1_767_225_600_000
    assert first_since(None, StartPoint(age_seconds=10**12), NOW, 0) == 0


def settings(**sync: Any):
    return settings_from_dict({
        "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
        "campaigns": [{"form_id": "f", "campaign_id": "701"}], "sync": sync},
        env={}, require_secrets=False)


def test_start_is_an_iso_date_or_an_age_and_defaults_to_30_days():
    assert settings().sync.start == StartPoint(age_seconds=30 * 86400)
    assert settings(start="7d").sync.start == StartPoint(age_seconds=7 * 86400)
    assert settings(start="2026-01-01").sync.start == StartPoint(at_ms=1_767_225_600_000)
    assert settings(start="2026-01-01T01:00:00+01:00").sync.start == StartPoint(at_ms=1_767_225_600_000)
    for wrong in ("last month", "2026-13-01", [30], True):
        with pytest.raises(ConfigError, match="sync.start"):
            settings(start=wrong)


@pytest.fixture
def org(tmp_path):
    with Sandbox() as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(1)
        yield o


def test_a_new_form_is_read_from_start_not_from_its_whole_history(org):
    now = int(time.time() * 1000)
    old = org.hs.add_submission(org.forms[0], {"email": "old@acme.example"}, submitted_at=now - 400 * DAY)
    recent = org.hs.add_submission(org.forms[0], {"email": "new@acme.example"}, submitted_at=now - 2 * DAY)
    data = org.settings("hybrid")
    default = settings_from_dict({  # the helper dates its worlds; this one uses the default
        "method": "hybrid", "salesforce": {"instance_url": org.sandbox.url, "access_token": "sandbox"},
        "hubspot": {"base_url": org.sandbox.url, "access_token": "sandbox"},
        "state": {"path": str(data.state_path)},
        "campaigns": [{"form_id": org.forms[0], "campaign_id": org.campaigns[0]}]}, env={})
    with Session(default, retry=RetryPolicy.fast()) as engine:
        report = engine.run()
    assert report.status == "ok", report.error
    assert [lead["Email"] for lead in org.leads()] == ["new@acme.example"]
    assert report.counts["pulled"] == 1 and old != recent


# -- [routing.tasks] max_age ------------------------------------------------------------------

BOB = "bob@acme.example"
LEAD = Record("00Q000000000001AAA", "Lead", BOB)
JANE = "005000000000001AAA"
MAPPING = FieldMapping((FieldSpec("email", lead="Email"),))


def routing(**tasks: Any):
    return with_owner_ids(parse_routing({
        "mode": "rules", "default_owner": "user:jane@acme.example",
        "stages": {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted",
                   "sales_ready_forms": ["demo"]},
        "tasks": {"sla": "4h", **tasks}}), {"user:jane@acme.example": JANE})


def demo_fill(age_days: float) -> Response:
    return Response("conv-1", "demo", int(NOW - age_days * DAY), BOB,
                    {"Email": BOB, "LastName": "Smith", "Company": "Acme"}, "7011", "Responded",
                    contact_fields={"Email": BOB})


def shaped(response: Response, rules, current):
    decisions = decide_all(Method.HYBRID, [response], {BOB: Match(BOB, lead=LEAD)}, RunMemory())
    return shape(plan_batch(decisions, {}, {}), Shaping(MAPPING, rules, current, now_ms=NOW))


CURRENT = {LEAD.id: {"Id": LEAD.id, "Status": "Open - Not Contacted", "OwnerId": JANE}}


def test_a_fresh_sales_ready_response_moves_the_lead_up_and_gets_a_task():
    plan = shaped(demo_fill(2), routing(), CURRENT)
    assert [u.fields["Status"] for u in plan.updates] == ["Working - Contacted"]
    assert len(plan.tasks) == 1


def test_a_response_past_max_age_gets_no_task_and_no_stage_change_and_says_why():
    plan = shaped(demo_fill(12), routing(), CURRENT)
    assert plan.tasks == [] and plan.updates == []
    (step,) = plan.steps
    assert "no Task: the response is 12 days old, past max_age (7d)" in step.notes[0]
    assert step.enrichment.stage is None


def test_max_age_is_configurable():
    assert len(shaped(demo_fill(12), routing(max_age="14d"), CURRENT).tasks) == 1
    assert shaped(demo_fill(2), routing(max_age="1d"), CURRENT).tasks == []
    with pytest.raises(ConfigError, match="routing.tasks.max_age"):
        routing(max_age="soon")


def test_a_new_lead_from_an_old_response_gets_no_stage_either():
    response = demo_fill(30)
    decisions = decide_all(Method.HYBRID, [response], {BOB: Match(BOB)}, RunMemory())
    plan = shape(plan_batch(decisions, {}, {}), Shaping(MAPPING, routing(), {}, now_ms=NOW))
    (lead,) = plan.leads
    assert "Status" not in lead.fields and plan.tasks == []
    assert any("30 days old, past max_age" in note for note in plan.steps[0].notes)
