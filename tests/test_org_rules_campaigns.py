"""Issue 16, item 2: every configured campaign and its member statuses are read before any
write; a form whose campaign cannot take members is paused, the others go on.

The check itself is pure (``connector.core.campaigns``) and tested on plain data; the read
and the pausing run against the sandbox over loopback with the real clients.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

from connector.adapters.salesforce.campaigns import campaign_problems
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.config.settings import CampaignMap, SalesforceSettings, Secret
from connector.core.campaigns import (CampaignEntry, CampaignFacts, MemberStatus, OrgCampaigns,
                                      check_campaigns)
from connector.sandbox import Sandbox
from sync_helpers import Org

CAMPAIGN = "7015g000000AbCdAAK"
STATUSES = (MemberStatus("Sent", is_default=True), MemberStatus("Responded", has_responded=True))


# -- the pure check ---------------------------------------------------------------------------

def entry(campaign_id: str = CAMPAIGN, status: str = "Responded", index: int = 0) -> CampaignEntry:
    return CampaignEntry(index, f"form-{index}", campaign_id, status)


def org_of(*campaigns: CampaignFacts) -> OrgCampaigns:
    by_name: dict[str, tuple[CampaignFacts, ...]] = {}
    for c in campaigns:
        by_name[c.name.casefold()] = (*by_name.get(c.name.casefold(), ()), c)
    return OrgCampaigns({c.id: c for c in campaigns}, by_name)


WEBINAR = CampaignFacts(CAMPAIGN, "Spring Webinar", True, STATUSES)


@pytest.mark.parametrize("the_entry,org,expected", [
    (entry(), org_of(WEBINAR), None),
    (entry(CAMPAIGN[:15]), org_of(WEBINAR), None),            # the 15-character Id typed
    (entry(status="Attended", index=2), org_of(WEBINAR),
     "campaigns[2] (form form-2, campaign_id '7015g000000AbCdAAK'): campaign 'Spring Webinar' "
     "has no member status 'Attended'; its statuses are 'Sent', 'Responded'"),
    (entry(status="responded"), org_of(WEBINAR), "differs in case"),
    (entry(), org_of(CampaignFacts(CAMPAIGN, "Spring Webinar", False, STATUSES)), "is inactive"),
    (entry(), org_of(), "no campaign 7015g000000AbCdAAK in this org"),
    (entry("Spring Webinar", index=1), org_of(WEBINAR),
     "campaigns[1] (form form-1, campaign_id 'Spring Webinar'): 'Spring Webinar' is a campaign's "
     'name, not its Id; set campaign_id = "7015g000000AbCdAAK"'),
    (entry("Autumn Webinar"), org_of(WEBINAR), "neither a Campaign Id nor the name"),
    (entry("00Q5g000000AbCdEAA"), org_of(WEBINAR), "not a Campaign Id (Campaign Ids start with 701)"),
])
def test_check_campaigns(the_entry, org, expected):
    problems = check_campaigns([the_entry], org)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in str(problems[0])
        assert problems[0].to_json()["entry"] == the_entry.key


# -- the read: one call, names and Ids -------------------------------------------------------

def test_campaigns_and_statuses_are_read_in_one_call(sandbox):
    sf = sandbox.app.salesforce
    good = sf.insert("Campaign", {"Name": "Spring Webinar", "IsActive": True})
    sf.insert("CampaignMemberStatus", {"CampaignId": good, "Label": "Attended", "SortOrder": 3})
    old = sf.insert("Campaign", {"Name": "Old Fair", "IsActive": False})
    client = SalesforceClient(SalesforceSettings(sandbox.url, access_token=Secret(sandbox.token)),
                              retry=RetryPolicy.fast())
    sandbox.counters.clear()

    problems = campaign_problems(client, [
        CampaignMap("f0", good, "Attended"), CampaignMap("f1", old), CampaignMap("f2", "Spring Webinar"),
        CampaignMap("f3", good, "Registered")])

    assert client.calls == 1 and sandbox.counters["salesforce.composite"] == 1
    assert [p.entry.key for p in problems] == ["campaigns[1]", "campaigns[2]", "campaigns[3]"]
    assert "inactive" in str(problems[0])
    assert f'set campaign_id = "{good}"' in str(problems[1])
    assert "'Sent', 'Responded', 'Attended'" in str(problems[2])


# -- the run: the broken campaign's form pauses, the others go on ------------------------------

@pytest.fixture
def org(tmp_path: Any) -> Iterator[Org]:
    with Sandbox() as sandbox:
        o = Org(sandbox, tmp_path / "state" / "leadsync.db")
        o.add_forms(3)
        yield o


def broken_config(org: Org) -> list[dict[str, str]]:
    """Form 0 fine; form 1's campaign lacks "Attended"; form 2 names its campaign."""
    return [{"form_id": org.forms[0], "campaign_id": org.campaigns[0]},
            {"form_id": org.forms[1], "campaign_id": org.campaigns[1], "member_status": "Attended"},
            {"form_id": org.forms[2], "campaign_id": "Campaign 2"}]


def test_a_broken_campaign_pauses_its_form_and_the_others_are_applied(org):
    for form in range(3):
        org.fill(form, f"p{form}@globex.example", lastname=f"P{form}", company="Globex")

    dry = org.sync("unique", dry_run=True, campaigns=broken_config(org))
    assert dry.status == "partial" and dry.exit_code == 3
    assert dry.counts["paused_forms"] == 2 and dry.counts["created_leads"] == 1

    report = org.sync("unique", campaigns=broken_config(org))

    assert report.status == "partial" and report.exit_code == 3
    assert report.counts["paused_forms"] == 2
    assert report.counts["created_leads"] == 1 and report.counts["failed"] == 0
    messages = [p["message"] for p in report.to_json()["paused_forms"]]
    assert messages[0].startswith(f"campaigns[1] (form {org.forms[1]}")
    assert "has no member status 'Attended'" in messages[0]
    assert messages[1].startswith(f"campaigns[2] (form {org.forms[2]}")
    assert f'set campaign_id = "{org.campaigns[2]}"' in messages[1]
    assert [lead["Email"] for lead in org.leads()] == ["p0@globex.example"]   # nothing for 1, 2
    state = State.open(org.state_path)
    assert {r["form_id"] for r in state.rows()} == {org.forms[0]}
    assert state.watermark(org.forms[1]) is None and state.watermark(org.forms[2]) is None
    state.close()

    # fixed: the status exists now, the name is replaced by the Id -> picked up next run
    org.sf.insert("CampaignMemberStatus", {"CampaignId": org.campaigns[1], "Label": "Attended",
                                           "SortOrder": 3})
    fixed = broken_config(org)
    fixed[2]["campaign_id"] = org.campaigns[2]
    again = org.sync("unique", campaigns=fixed)
    assert again.status == "ok" and again.counts["created_leads"] == 2
    assert {m["CampaignId"]: m["Status"] for m in org.members()} == {
        org.campaigns[0]: "Responded", org.campaigns[1]: "Attended", org.campaigns[2]: "Responded"}


def test_sync_json_and_mappings_check_name_the_entry(org, tmp_path):
    config = org.write_config(tmp_path / "leadsync.toml", method="unique")
    text = config.read_text().replace(f'campaign_id = "{org.campaigns[2]}"',
                                      'campaign_id = "Campaign 2"')
    config.write_text(text)
    org.fill(2, "p2@globex.example", lastname="P2", company="Globex")
    runner = CliRunner()

    checked = runner.invoke(main, ["mappings", "check", "--config", str(config), "--json"],
                            env=org.env())
    assert checked.exit_code == 3, checked.output
    problems = json.loads(checked.output)["campaigns"]["problems"]
    assert [p["entry"] for p in problems] == ["campaigns[2]"]
    assert "is a campaign's name, not its Id" in problems[0]["message"]

    synced = runner.invoke(main, ["sync", "--config", str(config), "--json"], env=org.env())
    assert synced.exit_code == 3, synced.output
    out = json.loads(synced.output)
    assert out["counts"]["paused_forms"] == 1 and out["paused_forms"][0]["entry"] == "campaigns[2]"
    assert org.leads() == []
