"""The per-record baseline: what a Zapier-style flow does for each form fill.

Trigger "new form submission" (the same HubSpot pages of 50 leadsync reads), then for
each submission, one call at a time with simple-salesforce: find the Lead, find the
Contact, create a Lead when the method says so, check the campaign membership, add the
member. Three to five Salesforce calls a response, each a full round trip. It follows the
same ``unique`` / ``hybrid`` / ``poi`` rule so both contenders write the same things.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce, format_soql

from connector.config.settings import Settings
from connector.adapters.hubspot.forms import HubSpotClient
from connector.config.mapping_file import load_mapping
from connector.core.normalise import to_response
from connector.errors import RecordError
from connector.adapters.transport import session_for


@dataclass
class BaselineResult:
    pulled: int
    processed: int
    pull_seconds: float
    process_seconds: float
    sf_calls: int
    errors: int


def run(settings: Settings, sample: int) -> BaselineResult:
    """Pull every form, then push the ``sample`` oldest submissions one by one."""
    hs = HubSpotClient(settings.hubspot)
    started = time.monotonic()
    subs = [s for c in settings.campaigns for s in hs.submissions(c.form_id, 0)]
    subs.sort(key=lambda s: (s.submitted_at, s.conversion_id))
    pulled_at = time.monotonic()
    sf = Salesforce(instance_url=settings.salesforce.instance_url,
                    session_id=settings.salesforce.access_token.reveal(),  # type: ignore[union-attr]
                    session=session_for(settings.salesforce.instance_url),
                    version=settings.salesforce.api_version)
    mapping = load_mapping(settings.mapping_path())
    counter = _Counter(sf)
    errors = 0
    for sub in subs[:sample]:
        campaign = settings.campaign_for(sub.form_id)
        assert campaign is not None
        try:
            response = to_response(sub, mapping, campaign_id=campaign.campaign_id,
                                   member_status=campaign.member_status)
        except RecordError:
            errors += 1
            continue
        try:
            _one(counter, settings.method.value, response)
        except Exception as exc:  # a per-record flow logs the failure and goes on to the next fill
            errors += 1
            if errors == 1:
                print(f"  baseline: first failure: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
    done = time.monotonic()
    return BaselineResult(len(subs), min(sample, len(subs)), pulled_at - started, done - pulled_at,
                          counter.calls, errors)


class _Counter:
    """simple-salesforce calls, counted (the sandbox counts them too; the two must agree)."""

    def __init__(self, sf: Salesforce) -> None:
        self.sf = sf
        self.calls = 0

    def first(self, soql: str) -> dict[str, Any] | None:
        self.calls += 1
        rows = self.sf.query(soql).get("records") or []
        return rows[0] if rows else None

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        self.calls += 1
        return getattr(self.sf, sobject).create(fields, headers={"Sforce-Auto-Assign": "FALSE"})["id"]


def _one(api: _Counter, method: str, response: Any) -> None:
    email = response.email
    lead = api.first(format_soql("SELECT Id FROM Lead WHERE Email = {} AND IsConverted = false "
                                 "ORDER BY CreatedDate LIMIT 1", email))
    contact = api.first(format_soql("SELECT Id FROM Contact WHERE Email = {} "
                                    "ORDER BY CreatedDate LIMIT 1", email))
    if method == "unique" and contact:
        field, target = "ContactId", contact["Id"]
    elif method in ("unique", "hybrid") and lead:
        field, target = "LeadId", lead["Id"]
    else:
        field, target = "LeadId", api.create("Lead", dict(response.lead_fields))
    member = api.first(format_soql("SELECT Id FROM CampaignMember WHERE CampaignId = {} AND "
                                   "{:literal} = {}", response.campaign_id, field, target))
    if member is None:
        api.create("CampaignMember", {"CampaignId": response.campaign_id, field: target,
                                      "Status": response.member_status})
