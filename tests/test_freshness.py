"""Freshness at many forms: the conversion probe picks the forms a cycle pages, the sweep
catches what the probe cannot see, and nothing is applied twice across lost replies or kills."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import pytest

from connector.adapters.hubspot.probe import ConversionProbe, search_body
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.commands.freshness import MARKS_KEY, FOREVER, Freshness
from connector.core.freshness import (PROBE_OVERLAP_MS, Budget, Conversion, CyclePlan, FreshMarks,
                                      ProbeResult, marks_after, name_matches, plan_from_probe,
                                      probe_since, shortest_interval, sweep_due, sweep_every_for)
from connector.engine.report import RunOptions
from connector.engine.wiring import build_engine, clients
from connector.sandbox import Sandbox
from sync_helpers import T0, Org

HOUR = 3_600_000
NOW = T0 + 10 * HOUR     # the host's clock in these tests (fills are dated from T0)


# -- the pure decisions ------------------------------------------------------------------

def test_the_first_cycle_and_an_overdue_one_sweep_else_probe():
    assert sweep_due(None, NOW, HOUR) == "first cycle"
    marks = FreshMarks(base_ms=T0, swept_ms=NOW - HOUR + 1)
    assert sweep_due(marks, NOW, HOUR) is None
    assert sweep_due(marks, NOW + 1, HOUR) == "full sweep due"
    assert sweep_due(marks, marks.swept_ms - 5, HOUR) == "the clock went back"


def test_a_conversion_name_is_the_form_or_page_title_then_form():
    assert name_matches("Demo request", "demo request ")
    assert name_matches("Pricing | Acme: Demo request", "Demo request")
    assert not name_matches("Demo request 2", "Demo request")
    assert not name_matches("Form 10", "Form 1") and not name_matches("x: Form 10", "Form 1")


def conv(contact: str, ms: int, name: str, first_ms: int | None = None, first: str | None = None
         ) -> Conversion:
    return Conversion(contact, ms, name, first_ms, first)


NAMES = {"f1": "Demo request", "f2": "Newsletter", "f3": "Webinar", "u1": "Unmapped form"}
MAPPED = ["f1", "f2", "f3"]


def test_the_probe_pages_only_named_mapped_forms_and_new_contacts_first_form():
    marks = FreshMarks(base_ms=T0, swept_ms=NOW)
    since = probe_since(marks, NOW)
    assert since == T0 - PROBE_OVERLAP_MS
    result = ProbeResult((
        conv("1", T0 + 5, "Home: Demo request"),
        conv("2", T0 + 6, "Unmapped form"),                       # known, not mapped: ignored
        conv("3", T0 + 7, "Webinar", first_ms=T0 + 2, first="Newsletter"),   # new contact
        conv("4", T0 + 8, "Demo request", first_ms=T0 - HOUR, first="Newsletter")))  # old one
    plan = plan_from_probe(result, marks=marks, names=NAMES, mapped=MAPPED, since_ms=since)
    assert plan == CyclePlan(False, frozenset({"f1", "f2", "f3"}), plan.why, (), plan.acted)
    older = ProbeResult((conv("4", T0 + 8, "Demo request", first_ms=T0 - HOUR, first="Newsletter"),))
    assert plan_from_probe(older, marks=marks, names=NAMES, mapped=MAPPED,
                           since_ms=since).forms == {"f1"}


def test_conversions_already_acted_on_inside_the_overlap_are_not_paged_again():
    marks = FreshMarks(base_ms=T0, swept_ms=NOW, seen=(("1", T0 - 10),))
    result = ProbeResult((conv("1", T0 - 10, "Demo request"), conv("2", T0 + 1, "Newsletter")))
    plan = plan_from_probe(result, marks=marks, names=NAMES, mapped=MAPPED,
                           since_ms=probe_since(marks, NOW))
    assert plan.forms == {"f2"}


def test_an_unknown_name_or_an_incomplete_probe_is_said():
    marks = FreshMarks(base_ms=T0, swept_ms=NOW)
    since = probe_since(marks, NOW)
    plan = plan_from_probe(ProbeResult((conv("1", T0 + 1, "Renamed form"),)), marks=marks,
                           names=NAMES, mapped=MAPPED, since_ms=since)
    assert plan.unresolved == ("Renamed form",) and not plan.sweep
    assert plan_from_probe(ProbeResult((), complete=False), marks=marks, names=NAMES,
                           mapped=MAPPED, since_ms=since).sweep
    # once known to resolve to no form, the name no longer asks for a sweep
    known = FreshMarks(base_ms=T0, swept_ms=NOW, unknown=("Renamed form",))
    assert not plan_from_probe(ProbeResult((conv("1", T0 + 1, "Renamed form"),)), marks=known,
                               names=NAMES, mapped=MAPPED, since_ms=since).unresolved


def test_marks_follow_hubspots_time_and_never_go_back():
    before = FreshMarks(base_ms=T0, swept_ms=NOW - HOUR)
    result = ProbeResult((conv("1", T0 + 50, "Webinar"),))
    plan = CyclePlan(False, frozenset({"f3"}))
    after = marks_after(plan=plan, before=before, started_ms=NOW, result=result)
    assert after.base_ms == T0 + 50 and after.swept_ms == NOW - HOUR
    assert after.seen == (("1", T0 + 50),)
    idle = marks_after(plan=CyclePlan(False), before=after, started_ms=NOW + 5,
                       result=ProbeResult(()))
    assert idle.base_ms == T0 + 50 and idle.seen == after.seen
    swept = marks_after(plan=CyclePlan(True), before=idle, started_ms=NOW + 9, result=None,
                        newest_recorded_ms=T0 + 40, scheduled=True)
    assert swept.base_ms == T0 + 50 and swept.swept_ms == NOW + 9 and swept.seen == ()
    assert FreshMarks.from_json(swept.to_json()) == swept
    assert FreshMarks.from_json({"nonsense": 1}) is None


def test_budget_arithmetic():
    # 100 forms, hourly sweeps: 2,400 calls a day on sweeps alone; 2,500 leaves little
    assert shortest_interval(2_500, forms=100, sweep_every_s=3600) == pytest.approx(86_400 / 100)
    assert Budget(86_400 / 100, 3600, 100).per_day() == pytest.approx(2_500)
    assert shortest_interval(2_000, forms=100, sweep_every_s=3600) is None
    every = sweep_every_for(2_500, forms=100)
    assert every == pytest.approx(86_400 / 12.5)
    assert shortest_interval(2_500, forms=100, sweep_every_s=every, busy_forms_per_cycle=1) < 300


# -- against the sandbox -------------------------------------------------------------------

@dataclass
class Clock:
    """The host's clock: a second after HubSpot's newest fill, plus the time let pass."""

    org: Org
    ms: int = 0

    def __call__(self) -> float:
        return (self.org.clock + 1000 + self.ms) / 1000


@pytest.fixture
def org(tmp_path):
    with Sandbox(seed=3) as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(5)
        yield o


class Daemonish:
    """The daemon's cycle without its loop: one engine, one state, an injected clock."""

    def __init__(self, org: Org, **sync: Any) -> None:
        self.org = org
        self.settings = org.settings("hybrid", sync={"full_sweep_every": "1h", **sync})
        self.state = State.open(self.settings.state_path)
        self.vendors = clients(self.settings, retry=RetryPolicy.fast())
        self.engine = build_engine(self.settings, state=self.state, vendors=self.vendors)
        self.clock = Clock(org)
        self.fresh = Freshness(self.settings, state=self.state, hubspot=self.vendors.hubspot,
                               clock=self.clock)

    def cycle(self, minutes: int = 1) -> Any:
        self.clock.ms += minutes * 60_000
        return self.fresh.cycle(self.engine, RunOptions(keep_details=False))

    def close(self) -> None:
        self.state.close()


def test_sandbox_keeps_hubspots_conversion_properties(org):
    org.fill(0, "ann@acme.example")
    org.fill(2, "ann@acme.example")
    api = clients(org.settings()).hubspot
    page = api.post("/crm/v3/objects/contacts/search", {
        **search_body(T0), "properties": ["recent_conversion_date", "recent_conversion_event_name",
                                          "first_conversion_date", "first_conversion_event_name",
                                          "num_conversion_events", "num_unique_conversion_events"]})
    (ann,) = page["results"]
    props = ann["properties"]
    assert props["recent_conversion_event_name"] == "Form 2"
    assert props["first_conversion_event_name"] == "Form 0"
    assert props["num_conversion_events"] == "2" and props["num_unique_conversion_events"] == "2"
    assert props["recent_conversion_date"].endswith("Z")
    # a later filter finds nothing; a late (older) fill changes the first, not the recent
    assert api.post("/crm/v3/objects/contacts/search", search_body(T0 + 10 * 60_000))["total"] == 0
    org.hs.add_submission(org.forms[1], {"email": "ann@acme.example"}, submitted_at=T0 - 1)
    props = api.post("/crm/v3/objects/contacts/search", {
        **search_body(0), "properties": ["recent_conversion_event_name", "first_conversion_event_name",
                                         "num_unique_conversion_events"]})["results"][0]["properties"]
    assert props["recent_conversion_event_name"] == "Form 2"
    assert props["first_conversion_event_name"] == "Form 1"
    assert props["num_unique_conversion_events"] == "3"


def test_the_probe_pages_and_says_when_it_stopped_short(org):
    for i in range(7):
        org.fill(i % 5, f"p{i}@acme.example")
    client = clients(org.settings()).hubspot
    calls = client.calls
    result = ConversionProbe(client).probe(T0)
    assert client.calls - calls == 1 and result.complete and len(result.conversions) == 7
    assert [c.recent_ms for c in result.conversions] == sorted(c.recent_ms for c in result.conversions)

    import connector.adapters.hubspot.probe as probe_module
    old = probe_module.SEARCH_PAGE
    probe_module.SEARCH_PAGE = 3          # pages of 3, so 7 contacts take 3 pages
    try:
        short = ConversionProbe(client, max_pages=2).probe(T0)
        full = ConversionProbe(client, max_pages=3).probe(T0)
    finally:
        probe_module.SEARCH_PAGE = old
    assert not short.complete and len(short.conversions) == 6
    assert full.complete and len(full.conversions) == 7


def members_by_form(org: Org) -> collections.Counter[str]:
    by_campaign = collections.Counter(m["CampaignId"] for m in org.members())
    return collections.Counter({org.forms[i]: by_campaign[c] for i, c in enumerate(org.campaigns)})


def test_cycles_page_only_forms_with_news_and_the_sweep_catches_the_probes_blind_spot(org):
    d = Daemonish(org)
    try:
        org.fill(0, "a@acme.example", lastname="A")
        first = d.cycle()
        assert first.plan.sweep and first.plan.why == "first cycle"
        assert first.report.status == "ok" and first.report.hs_calls >= 5   # every form paged

        idle = d.cycle()
        assert not idle.plan.sweep and idle.plan.why == "no new conversion"
        assert idle.report.hs_calls == 1 and idle.probe_calls == 1            # the probe alone

        org.fill(3, "b@acme.example", lastname="B")
        news = d.cycle()
        assert news.plan.forms == {org.forms[3]}
        # the probe, the form names (read once, then kept a day), one page of form 3
        assert news.report.hs_calls == 3 and news.report.counts["created_leads"] == 1
        again = d.cycle()
        assert again.plan.forms == frozenset() and again.report.hs_calls == 1   # overlap: seen

        # A known contact fills two forms between probes: only the latest shows.
        org.fill(1, "a@acme.example", lastname="A")
        org.fill(2, "a@acme.example", lastname="A")
        blind = d.cycle()
        assert blind.plan.forms == {org.forms[2]}
        assert members_by_form(org)[org.forms[1]] == 0                      # missed by the probe
        sweep = d.cycle(minutes=60)
        assert sweep.plan.sweep and sweep.plan.why == "full sweep due"
        assert members_by_form(org)[org.forms[1]] == 1                      # caught by the sweep
        assert d.cycle().plan.why == "no new conversion"
    finally:
        d.close()


def test_a_name_no_form_carries_reads_names_again_then_sweeps_once(org):
    d = Daemonish(org)
    try:
        d.cycle()
        org.hs.store.forms[org.forms[4]]["name"] = "Renamed"      # renamed after names were read
        org.fill(4, "c@acme.example")
        renamed = d.cycle()
        assert renamed.plan.forms == {org.forms[4]} and not renamed.plan.sweep   # read again
        # a conversion name no form carries at all (not a form, say): one sweep, then ignored
        org.hs.store.forms[org.forms[4]]["name"] = "Gone"
        org.fill(4, "d@acme.example")
        org.hs.store.forms[org.forms[4]]["name"] = "Renamed"
        unknown = d.cycle()
        assert unknown.plan.sweep and unknown.plan.unresolved == ("Gone",)
        org.fill(4, "e@acme.example")
        org.hs.store.forms[org.forms[4]]["name"] = "Renamed"
        later = d.cycle()
        assert not later.plan.sweep
        assert {r["email"] for r in State.open(org.state_path).rows("applied")} >= {
            "c@acme.example", "d@acme.example", "e@acme.example"}
    finally:
        d.close()


def test_an_unmapped_captured_forms_conversion_is_resolved_and_left_alone(org):
    """Names are read for every form type: a captured form's conversion resolves (to a form
    nobody mapped) instead of looking unknown and costing a sweep."""
    captured = org.hs.store.add_form({"name": "Site contact", "formType": "captured"})["id"]
    d = Daemonish(org)
    try:
        d.cycle()
        org.clock += 60_000
        org.hs.add_submission(captured, {"email": "x@acme.example"}, submitted_at=org.clock)
        quiet = d.cycle()
        assert not quiet.plan.sweep and not quiet.plan.unresolved
        assert quiet.plan.forms == frozenset() and quiet.report.hs_calls == 2   # probe, names
    finally:
        d.close()


def test_a_newly_mapped_form_gets_a_sweep(org):
    d = Daemonish(org)
    try:
        d.cycle()
        assert d.cycle().plan.why == "no new conversion"
        org.add_forms(1)
        d.close()
        d = Daemonish(org)                   # restarted with the new [[campaigns]] entry
        assert d.cycle().plan.why == "a form mapped since the last sweep"
        assert d.cycle().plan.why == "no new conversion"
    finally:
        d.close()


def test_a_lost_reply_in_a_probed_cycle_applies_once_and_a_failed_run_keeps_the_marks(org):
    d = Daemonish(org)
    try:
        d.cycle()
        marks = d.state.cached(MARKS_KEY, FOREVER)
        for i in range(6):
            org.fill(i % 2, f"q{i}@acme.example", lastname="Q")
        org.sandbox.app.faults.configure(families=["salesforce.collections"],
                                         fail_next=["apply_then_drop"] * 2)
        lost = d.cycle()
        assert lost.report.status == "ok", lost.report.error
        assert org.sandbox.app.faults.stats["apply_then_drop"] >= 1
        # HubSpot down for the run's pages: the run fails, the marks stay, the next cycle
        # probes from the same base and pages the forms again.
        org.fill(3, "z@acme.example", lastname="Z")
        before = d.state.cached(MARKS_KEY, FOREVER)
        assert before != marks
        org.sandbox.app.faults.configure(families=["hubspot.submissions"], error_rate=1.0)
        failed = d.cycle()
        assert failed.report.status == "aborted"
        assert d.state.cached(MARKS_KEY, FOREVER) == before
        org.sandbox.app.faults.configure(error_rate=0, fail_next=[])
        retried = d.cycle()
        assert retried.plan.forms == {org.forms[3]} and retried.report.status == "ok"
        assert d.cycle().report.counts["pulled"] == 0
    finally:
        d.close()
    rows = State.open(org.state_path).rows()
    assert collections.Counter(r["email"] for r in rows).most_common(1)[0][1] == 1
    assert {r["status"] for r in rows} == {"applied"}
    pairs = collections.Counter((m["CampaignId"], m.get("LeadId")) for m in org.members())
    assert max(pairs.values()) == 1 and len(pairs) == 7


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it in the cycle runs."""


@pytest.mark.parametrize("step", ["probe", "names", "run", "marks"])
def test_a_cycle_killed_at_each_step_is_resumed_without_a_duplicate(org, monkeypatch, step):
    d = Daemonish(org)
    try:
        d.cycle()
        for i in range(4):
            org.fill(i % 3, f"k{i}@acme.example", lastname="K")
        d.state.cache("form_names", None)         # so the names are read in this cycle
        targets = {"probe": (d.fresh.probe, "probe"), "names": (d.vendors.hubspot, "form_names"),
                   "run": (d.engine, "_batch"), "marks": (d.state, "cache")}
        obj, name = targets[step]
        real = getattr(obj, name)
        calls = {"n": 0}

        def killed(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if step == "marks" and args and args[0] != MARKS_KEY:
                return real(*args, **kwargs)
            if step == "run" and calls["n"] == 1:
                real(*args, **kwargs)            # the first batch lands, then the kill
            raise Killed()

        monkeypatch.setattr(obj, name, killed)
        with pytest.raises(Killed):
            d.cycle()
        monkeypatch.setattr(obj, name, real)
        d.state.close()
        d = Daemonish(org)                       # a new process on the same state
        for _ in range(3):
            assert d.cycle().report.status == "ok"
    finally:
        d.close()
    rows = State.open(org.state_path).rows()
    assert sorted(r["email"] for r in rows) == [f"k{i}@acme.example" for i in range(4)]
    assert {r["status"] for r in rows} == {"applied"}
    pairs = collections.Counter((m["CampaignId"], m.get("LeadId")) for m in org.members())
    assert max(pairs.values()) == 1 and len(pairs) == 4


def test_sync_section_takes_probe_and_full_sweep_every(org):
    from connector.errors import ConfigError

    s = org.settings(sync={"full_sweep_every": "2h30m", "probe": False})
    assert s.sync.full_sweep_seconds == 9000 and s.sync.probe is False
    defaults = org.settings()
    assert defaults.sync.full_sweep_seconds == 3600 and defaults.sync.probe is True
    with pytest.raises(ConfigError) as bad:
        org.settings(sync={"full_sweep_every": "soon"})
    assert bad.value.key == "sync.full_sweep_every"
    with pytest.raises(ConfigError) as bad:
        org.settings(sync={"probe": "yes"})
    assert bad.value.key == "sync.probe"
    assert sweep_due(FreshMarks(T0, NOW), NOW, 0) == "full sweep due"   # 0: always sweep


def test_probe_off_pages_every_form_every_cycle(org):
    d = Daemonish(org, probe=False)
    try:
        d.cycle()
        idle = d.cycle()
        assert idle.plan.sweep and idle.probe_calls == 0 and idle.report.hs_calls == 5
    finally:
        d.close()


def test_a_conversion_the_search_index_had_not_caught_up_with_is_found_by_the_next_probe(org):
    d = Daemonish(org)
    org.hs.clock = d.clock            # HubSpot's time is the host's here
    try:
        d.cycle()
        org.hs.search_lag_ms = 90_000     # under the probe's two-minute overlap
        org.fill(2, "lag@acme.example", lastname="Lag")
        lagged = d.cycle(minutes=0)   # the fill is 61 s old: not in the search's index yet
        assert lagged.plan.why == "no new conversion" and lagged.report.counts["pulled"] == 0
        caught = d.cycle()            # a minute later: indexed, and inside the overlap
        assert caught.plan.forms == {org.forms[2]} and caught.report.counts["created_leads"] == 1
        assert d.cycle().plan.why == "no new conversion"
    finally:
        d.close()


def test_a_search_refused_for_want_of_a_scope_pages_every_form_and_a_bad_token_fails(org):
    from connector.errors import AuthError

    d = Daemonish(org)
    try:
        d.cycle()
        org.fill(1, "scope@acme.example", lastname="S")
        # the private app without the contacts read scope: the sandbox answers the search
        # 403 MISSING_SCOPES as HubSpot does (docs/sandbox-wire-facts.md)
        org.sandbox.app.hubspot.revoke_scopes("crm.objects.contacts.read")
        swept = d.cycle()
        assert swept.plan.sweep and "crm.objects.contacts.read" in swept.plan.why
        assert swept.report.status == "ok" and swept.report.counts["created_leads"] == 1
        org.sandbox.app.hubspot.grant_all_scopes()

        def expired(since_ms: int) -> Any:
            raise AuthError("HubSpot refused the access token (401)", service="hubspot", status=401)

        d.fresh.probe.probe = expired            # type: ignore[method-assign]
        with pytest.raises(AuthError):
            d.cycle()
    finally:
        d.close()
