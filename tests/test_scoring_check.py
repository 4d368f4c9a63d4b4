"""``mappings check`` for [scoring]: its fields against the sandbox org's describe, and the
warning for a score_field naming HubSpot's frozen legacy score."""

from __future__ import annotations

from typing import Any

import pytest

from connector.adapters.salesforce.client import SalesforceClient
from connector.config.routing import parse_routing
from connector.config.scoring import parse_scoring
from connector.config.settings import settings_from_dict
from connector.core.enrich.scoring_check import check_scoring
from connector.core.schema import schema_from_describes

FIELDS = {"Leadsync_Score__c": {"type": "double"}, "Score_Text__c": {"type": "string", "length": 3},
          "Leadsync_Score_Date__c": {"type": "date"}, "Score_When__c": {"type": "datetime"},
          "Leadsync_Score_Reasons__c": {"type": "string", "length": 255},
          "Short_Reasons__c": {"type": "string", "length": 80}}


def schema(sandbox: Any) -> Any:
    sandbox.app.load({"salesforce": {"schema": {"Lead": FIELDS, "Contact": FIELDS}}})
    settings = settings_from_dict({
        "salesforce": {"instance_url": sandbox.url, "access_token": sandbox.token},
        "hubspot": {"base_url": sandbox.url, "access_token": sandbox.token},
        "campaigns": [{"form_id": "f", "campaign_id": "701000000000001AAA"}]}, env={})
    return schema_from_describes(SalesforceClient(settings.salesforce).describe(["Lead", "Contact"]))


def scoring(**fields: Any) -> Any:
    return parse_scoring({"sales_ready": 50, "behaviour": [{"points": 5, "form": "f"}],
                          "fit": [{"points": 5, "field": "Title", "pattern": "(?i)vp"},
                                  {"points": 5, "field": "Industry_Tier__c", "value": "A"},
                                  {"points": -5, "field": "email_kind", "value": "free"}],
                          **fields})


@pytest.mark.parametrize("fields, expected", [
    ({"lead_field": "Leadsync_Score__c", "date_field": "Leadsync_Score_Date__c",
      "reasons_field": "Leadsync_Score_Reasons__c"}, []),
    ({"lead_field": "Missing__c"}, ["scoring.lead_field -> Lead.Missing__c: Lead has no field Missing__c"]),
    ({"contact_field": "Score_Text__c"},
     ["scoring.contact_field -> Contact.Score_Text__c: Score_Text__c is a string field of 3; the "
      "score needs a Number (or Text of 6+)"]),
    ({"lead_field": "Leadsync_Score__c", "date_field": "Score_When__c"},
     ["scoring.date_field -> Lead.Score_When__c: Score_When__c is a datetime field; the score's "
      "date needs a Date field"]),
    ({"lead_field": "Leadsync_Score__c", "reasons_field": "Short_Reasons__c"},
     ["scoring.reasons_field -> Lead.Short_Reasons__c: Short_Reasons__c holds 80 characters; the "
      "reasons are up to 255: make it Text(255)"]),
    ({"lead_field": "CreatedDate"},
     ["scoring.lead_field -> Lead.CreatedDate: CreatedDate is read-only for the integration user"]),
])
def test_scoring_fields_against_the_org(sandbox, fields, expected):
    problems = check_scoring(scoring(**fields), parse_routing(None), schema(sandbox))
    found = [str(p) for p in problems if "Industry_Tier__c" not in p.where]
    assert found == expected
    (fit,) = [p for p in problems if "Industry_Tier__c" in p.where]
    assert fit.level == "warning"


def test_hubspotscore_is_frozen_since_august_2025(sandbox):
    routing = parse_routing({"score_field": "hubspotscore",
                             "stages": {"sales_ready": "Working - Contacted", "sales_ready_score": 80}})
    (problem,) = check_scoring(None, routing, schema(sandbox))
    assert problem.level == "warning" and "31 August 2025" in problem.message
    assert check_scoring(None, parse_routing({"score_field": "my_score", "stages": {
        "sales_ready": "Working - Contacted", "sales_ready_score": 80}}), schema(sandbox)) == []


def test_with_scoring_min_score_and_sales_ready_score_need_no_score_field():
    routing = parse_routing({"mode": "rules", "rules": [{"owner": "user:a@b.example", "min_score": 60}],
                             "stages": {"sales_ready": "Working - Contacted"}}, scored=True)
    assert routing.score_field is None and routing.rules[0].min_score == 60
