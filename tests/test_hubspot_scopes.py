"""HubSpot's scopes as the sandbox asks them (docs/sandbox-wire-facts.md, "Contacts and
meetings scopes", "Forms scopes"): each route refuses 403 MISSING_SCOPES, in HubSpot's words,
while the token's app holds none of the scopes HubSpot's public specs give it, and leadsync
says which scope to add without losing anything."""

from __future__ import annotations

import json
from contextlib import closing

import hubspot
import pytest
import requests

from connector.adapters.sqlite.ledger import State
from sync_helpers import Org


@pytest.mark.parametrize("revoked, path, status", [
    (["crm.objects.contacts.read"], "/crm/v3/objects/contacts/search", 403),
    (["crm.objects.contacts.write"], "/crm/v3/objects/contacts/search", 200),
    (["crm.objects.contacts.write"], "/crm/v3/objects/contacts/batch/upsert", 403),
    (["crm.objects.contacts.read"], "/crm/v4/associations/meetings/contacts/batch/read", 200),
    (["crm.objects.contacts.read", "crm.objects.contacts.write"],
     "/crm/v4/associations/meetings/contacts/batch/read", 403),
])
def test_the_sandbox_asks_the_scopes_hubspots_spec_gives_each_route(sandbox, revoked, path, status):
    """CRM v3 contacts and meetings: reads need the contacts read scope, writes the write
    scope; a v4 association read takes either (the spec lists them as alternatives)."""
    sandbox.app.hubspot.revoke_scopes(*revoked)
    body = {"inputs": []} if "batch" in path else {"filterGroups": [], "limit": 1}
    reply = requests.post(sandbox.url + path, json=body,
                          headers={"Authorization": f"Bearer {sandbox.token}"}, timeout=10)
    assert reply.status_code == status, reply.text
    if status == 403:
        assert reply.json()["errors"][0]["context"]["requiredGranularScopes"] == revoked


def test_an_app_without_the_forms_scopes_stops_the_run_naming_them_and_loses_nothing(sandbox, tmp_path):
    """The submissions feed needs ``forms`` or ``forms-uploaded-files`` (its reference page):
    without either there is nothing to sync, so the run stops (every form shares the scope),
    naming them, with no watermark moved; once granted, the response syncs."""
    org = Org(sandbox, tmp_path / "leadsync.db")
    org.add_forms(2)
    org.fill(0, "fay@example.com", lastname="Fay")
    sandbox.app.hubspot.revoke_scopes("forms")
    assert org.sync("hybrid").status == "ok"            # the feed takes either scope
    org.fill(1, "gus@example.com", lastname="Gus")
    sandbox.app.hubspot.revoke_scopes("forms-uploaded-files")
    report = org.sync("hybrid")
    assert report.status == "aborted" and report.exit_code != 0
    assert "forms or forms-uploaded-files" in str(report.error)
    assert "403 MISSING_SCOPES" in str(report.error) and "@" not in str(report.error)
    with closing(State.open(org.state_path)) as state:
        assert state.watermark(org.forms[1]) is None
    sandbox.app.hubspot.grant_all_scopes()
    assert org.sync("hybrid").status == "ok"
    assert len(org.leads("gus@example.com")) == 1 and len(org.leads()) == 2


def test_the_sandbox_asks_the_forms_scope_for_forms_v3(sandbox):
    """Marketing Forms v3 (HubSpot's public spec: ``forms``), as hubspot-api-client meets it."""
    from hubspot.marketing.forms import ApiException  # type: ignore[import-untyped]
    client = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url,
                                   base_url=sandbox.url)
    assert client.marketing.forms.forms_api.get_page().results is not None
    sandbox.app.hubspot.revoke_scopes("forms")
    with pytest.raises(ApiException) as err:
        client.marketing.forms.forms_api.get_page()
    assert err.value.status == 403 and "MISSING_SCOPES" in err.value.body


def test_the_properties_routes_take_any_of_the_specs_alternatives(sandbox):
    """CRM/Properties v3 (HubSpot's public spec): reads take any one of 100 scopes (the
    contacts read or write scope among them), writes one of 26 (for contacts,
    crm.schemas.contacts.write); the object scopes do not let an app define a property.
    Through hubspot-api-client's properties API, as leadsync and admins' scripts call it."""
    from hubspot.crm.properties import ApiException, PropertyCreate  # type: ignore[import-untyped]
    from connector.sandbox.hubspot_scopes import PROPERTIES_READ, PROPERTIES_WRITE
    api = hubspot.Client.create(access_token=sandbox.token, host=sandbox.url,
                                base_url=sandbox.url).crm.properties.core_api
    score = PropertyCreate(name="leadsync_score", label="Score", type="number",
                           field_type="number", group_name="leadsync")
    hub = sandbox.app.hubspot
    hub.grant_only("crm.objects.contacts.write")       # a write-back app: may read properties
    assert {p.name for p in api.get_all("contacts").results} >= {"email", "jobtitle"}
    with pytest.raises(ApiException) as err:            # ... but not define one
        api.create("contacts", score)
    assert err.value.status == 403
    refusal = json.loads(err.value.body)
    assert refusal["category"] == "MISSING_SCOPES"
    assert refusal["errors"][0]["context"]["requiredGranularScopes"] == list(PROPERTIES_WRITE)
    hub.grant_only("crm.objects.contacts.write", "crm.schemas.contacts.write")
    assert api.create("contacts", score).name == "leadsync_score"
    hub.grant_only("forms")                             # a pull-only app reads no property
    with pytest.raises(ApiException) as err:
        api.get_by_name("contacts", "leadsync_score")
    assert err.value.status == 403
    assert json.loads(err.value.body)["errors"][0]["context"]["requiredGranularScopes"] == \
        list(PROPERTIES_READ)
    hub.grant_only("forms", "crm.objects.deals.read")   # any alternative will do (the spec's)
    assert api.get_by_name("contacts", "leadsync_score").type == "number"
    hub.grant_all_scopes()
    assert len(api.get_all("contacts").results) > 2
