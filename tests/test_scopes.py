"""Which HubSpot scopes a configuration needs, and ``mappings check`` telling an admin which
one the app lacks before the daemon meets it (connector/core/scopes.py; the scopes are
HubSpot's, docs/sandbox-wire-facts.md)."""

from __future__ import annotations

import pytest

from connector.core.scopes import (CONTACTS_READ, CONTACTS_WRITE, EVENTS_READ, FORMS, Probe,
                                   ScopeStatus, scope_checks, scope_needs, scope_problems)
from event_world import EventWorld
from sync_helpers import Org

READ, WRITE, EVENTS = CONTACTS_READ[0], CONTACTS_WRITE[0], EVENTS_READ[0]


@pytest.mark.parametrize("uses, expected", [
    (dict(forms=True), [("campaigns[].form_id", FORMS, Probe.FORM_FEED)]),
    (dict(forms=True, freshness_probe=True),
     [("campaigns[].form_id", FORMS, Probe.FORM_FEED), ("sync.probe", CONTACTS_READ, Probe.CONTACTS)]),
    (dict(freshness_probe=True), []),                       # no form: nothing to probe for
    (dict(events=True), [("campaigns[].event_id", EVENTS_READ, Probe.EVENT)]),
    (dict(meetings=True), [("campaigns[].meetings", CONTACTS_READ, Probe.CONTACTS)]),
    (dict(writeback=True), [("writeback", CONTACTS_READ, Probe.CONTACTS),
                            ("writeback", CONTACTS_WRITE, None)]),   # a write: never tried
])
def test_each_part_of_a_configuration_needs_hubspots_scopes(uses, expected):
    flags = {"forms": False, "events": False, "meetings": False, "freshness_probe": False,
             "writeback": False, **uses}
    needs = scope_needs(**flags)
    assert [(n.where, n.any_of, n.probe) for n in needs] == expected


def test_a_missing_scope_is_an_error_unless_leadsync_falls_back():
    needs = scope_needs(forms=True, events=True, meetings=False, freshness_probe=True,
                        writeback=True)
    checks = scope_checks(needs, {Probe.CONTACTS, Probe.EVENT})
    assert [c.status for c in checks] == [ScopeStatus.HELD, ScopeStatus.MISSING,
                                          ScopeStatus.MISSING, ScopeStatus.MISSING,
                                          ScopeStatus.UNCHECKED]
    problems = scope_problems(checks)
    assert [(p.where, p.level) for p in problems] == [
        ("sync.probe", "warning"), ("campaigns[].event_id", "error"), ("writeback", "error")]
    assert problems[0].message == (
        f"the HubSpot app lacks the scope {READ}, needed for the daemon's freshness probe (a "
        "contacts search): add it to the app (private app or service key); meanwhile the "
        "daemon pages every form each cycle instead")
    assert f"lacks the scope {EVENTS}, needed for reading the events' attendance" in problems[1].message
    assert checks[-1].to_json() == {"where": "writeback", "what": "writing leadsync's properties "
                                    "on contacts", "any_of": [WRITE], "status": "unchecked"}


@pytest.fixture
def world(sandbox, tmp_path) -> EventWorld:
    org = Org(sandbox, tmp_path / "leadsync.db")
    org.add_forms(1)
    w = EventWorld(org)
    w.create_event()
    w.add_meetings_campaign()
    return w


def test_mappings_check_names_each_scope_the_app_lacks_and_writes_nothing(world, sandbox):
    """Against the sandbox, which refuses as HubSpot does: an app made with only ``forms``
    is told it lacks the contacts read scope (probe: a warning; meetings and the write-back:
    errors) and the events scope (an error); the write scope is listed, not tried. Once the
    app has them, the check is clean. No call writes anything."""
    from connector.commands.mappings_check import check
    from connector.render.mappings_check import to_json, to_text

    settings = world.settings(forms=True, meetings=True, writeback={"nurture_statuses": ["Open"]})
    hub = sandbox.app.hubspot
    hub.grant_only("forms")
    writes_before = sandbox.app.dump()["hubspot"]
    report = check(settings)
    found = [(p.where, p.level) for p in report.routing if "lacks the scope" in p.message]
    assert found == [("writeback.properties", "error"),   # the properties [writeback] checks
                     ("sync.probe", "warning"), ("campaigns[].event_id", "error"),
                     ("campaigns[].meetings", "error"), ("writeback", "error")]
    assert not report.ok
    statuses = {(s["where"], tuple(s["any_of"])): s["status"] for s in to_json(report)["hubspot_scopes"]}
    assert statuses == {("campaigns[].form_id", FORMS): "held",
                        ("sync.probe", CONTACTS_READ): "missing",
                        ("campaigns[].event_id", EVENTS_READ): "missing",
                        ("campaigns[].meetings", CONTACTS_READ): "missing",
                        ("writeback", CONTACTS_READ): "missing",
                        ("writeback", CONTACTS_WRITE): "unchecked"}
    text = to_text(report)
    assert f"writeback: {WRITE} not checked (only a write needs it" in text
    assert sandbox.app.dump()["hubspot"] == writes_before          # nothing was written
    hub.grant_only("forms", READ, WRITE, EVENTS)
    report = check(settings)
    assert not [p for p in report.routing if "lacks the scope" in p.message]
    assert {c.status for c in report.scopes} == {ScopeStatus.HELD, ScopeStatus.UNCHECKED}


def test_a_form_or_event_hubspot_lacks_is_not_taken_for_a_missing_scope(world, sandbox):
    """The probes read the first configured form and event: a 404 there is another check's
    business (a wrong id), not a scope the app lacks."""
    from dataclasses import replace

    from connector.commands.mappings_check import hubspot_scopes

    settings = world.settings(forms=True)
    wrong = [replace(c, form_id="00000000-0000-0000-0000-000000000000") if c.source == "form"
             else replace(c, event_id="999999999") for c in settings.campaigns]
    checks = hubspot_scopes(replace(settings, campaigns=wrong))
    assert {c.need.where: c.status for c in checks} == {
        "campaigns[].form_id": ScopeStatus.HELD, "sync.probe": ScopeStatus.HELD,
        "campaigns[].event_id": ScopeStatus.HELD}


def test_an_oauth_apps_token_lists_its_scopes_so_writes_are_checked_too(world, sandbox):
    """HubSpot's token reply lists the app's scopes (since August 2025): for an OAuth app
    ``mappings check`` holds every need against that list, the write scope included, which
    no read can show."""
    from dataclasses import replace

    from connector.commands.mappings_check import check
    from connector.config.secret import Secret

    sandbox.app.hubspot.oauth.settings = {"refresh_token": "hs-rt", "expires_in": 1800}
    base = world.settings(forms=True, event=False, writeback={"nurture_statuses": ["Open"]})
    settings = replace(base, hubspot=replace(base.hubspot, auth="refresh_token", client_id="app",
                                             client_secret=Secret("s"), refresh_token=Secret("hs-rt")))
    sandbox.app.hubspot.grant_only("oauth", "forms", READ)
    report = check(settings)
    assert {c.need.where + " " + c.need.any_of[0]: c.status.value for c in report.scopes} == {
        "campaigns[].form_id forms": "held", f"sync.probe {READ}": "held",
        f"writeback {READ}": "held", f"writeback {WRITE}": "missing"}
    assert [(p.where, p.level) for p in report.routing if "lacks the scope" in p.message] == [
        ("writeback", "error")]
    sandbox.app.hubspot.grant_only("oauth", "forms", READ, WRITE)
    assert {c.status for c in check(settings).scopes} == {ScopeStatus.HELD}


def test_a_refused_token_leaves_the_scopes_unchecked_and_the_rest_of_the_check_standing(world):
    """HubSpot refusing the token itself (401) is not a missing scope: one warning says the
    scopes were not checked, and the check's other findings still come (no crash)."""
    from dataclasses import replace

    from connector.commands.mappings_check import check
    from connector.config.secret import Secret

    base = world.settings(forms=True)
    settings = replace(base, hubspot=replace(base.hubspot, access_token=Secret("not-the-token")))
    report = check(settings)
    assert report.scopes == ()
    found = [p for p in report.routing if p.where == "hubspot"]
    assert [(p.level, p.message.startswith("the HubSpot app's scopes were not checked: HubSpot "
                                           "refused the access token (401)")) for p in found] == \
        [("warning", True)]
    assert "not-the-token" not in found[0].message
