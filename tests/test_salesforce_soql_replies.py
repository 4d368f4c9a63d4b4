"""The pure halves of the Salesforce adapter: SOQL chunking (``soql``) and reply mapping
(``replies``), plus how the client's calls turn refusals into the error tree."""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest
import responses
from simple_salesforce.exceptions import (SalesforceExpiredSession, SalesforceGeneralError,
                                          SalesforceMalformedRequest, SalesforceMoreThanOneRecord,
                                          SalesforceRefusedRequest, SalesforceResourceNotFound)

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.replies import (api_error, collection_items, failed_item,
                                                   first_message, result_error, sf_exception)
from connector.adapters.salesforce.soql import (MAX_SUBREQUEST_URL, URL_OVERHEAD, chunks_by_size,
                                                encode_soql, merged_fields, or_chunks)
from connector.adapters.transport import RetryPolicy
from connector.config.settings import SalesforceSettings, Secret
from connector.errors import (AmbiguousWrite, ApiError, AuthError, BudgetExhausted, LeadsyncError,
                              TransientError)

BASE = "https://acme.my.salesforce.com/services/data/v59.0"


# -- soql --------------------------------------------------------------------------------


def test_merged_fields_keep_the_first_spelling_once():
    assert merged_fields(("Id", "Email"), ("email", "Title"), ("TITLE", "Phone")) == (
        "Id", "Email", "Title", "Phone")


def test_chunks_by_size_keep_every_value_once_under_the_url_limit():
    values = [f"person{i:05d}@example.com" for i in range(3000)]
    statements = list(chunks_by_size(values, "SELECT Id FROM Lead WHERE ", "Email IN {ids}"))
    assert len(statements) > 1
    assert all(len(encode_soql(s)) + URL_OVERHEAD <= MAX_SUBREQUEST_URL for s in statements)
    assert sum(s.count("@example.com") for s in statements) == len(values)


def test_a_tail_that_names_the_ids_twice_pays_for_both():
    values = [f"00Q{i:015d}" for i in range(2000)]
    once = list(chunks_by_size(values, "SELECT Id FROM CampaignMember WHERE ", "LeadId IN {ids}"))
    twice = list(chunks_by_size(values, "SELECT Id FROM CampaignMember WHERE ",
                                "(LeadId IN {ids} OR ContactId IN {ids})"))
    assert len(twice) > len(once)
    assert all(len(encode_soql(s)) + URL_OVERHEAD <= MAX_SUBREQUEST_URL for s in twice)


def test_or_chunks_split_conditions_under_the_url_limit():
    conditions = [f"Website LIKE '%domain{i:05d}.example%'" for i in range(2000)]
    statements = list(or_chunks("SELECT Id FROM Account WHERE ", conditions))
    assert len(statements) > 1
    assert all(len(encode_soql(s)) + URL_OVERHEAD <= MAX_SUBREQUEST_URL for s in statements)
    assert sum(s.count(" LIKE ") for s in statements) == len(conditions)
    assert list(or_chunks("SELECT Id FROM Account WHERE ", [])) == []


def test_encode_soql_leaves_the_list_punctuation_alone():
    soql = "SELECT Id FROM Lead WHERE Email IN ('a@b.com','c@d.com')"
    assert encode_soql(soql) == soql.replace(" ", "+")
    assert len(encode_soql(soql)) < len(quote_plus(soql))


# -- replies -----------------------------------------------------------------------------


def test_result_error_names_the_fields():
    assert result_error({"success": False, "errors": [
        {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing",
         "fields": ["LastName", "Company"]}]}) == (
        "REQUIRED_FIELD_MISSING", "Required fields are missing (fields: LastName, Company)")
    assert result_error({"success": False}) == ("UNKNOWN", "Salesforce rejected the record")


@pytest.mark.parametrize("status,cls", [
    (300, SalesforceMoreThanOneRecord), (400, SalesforceMalformedRequest),
    (401, SalesforceExpiredSession), (403, SalesforceRefusedRequest),
    (404, SalesforceResourceNotFound), (500, SalesforceGeneralError), (503, SalesforceGeneralError)])
def test_sf_exception_is_what_simple_salesforce_raises(status, cls):
    exc = sf_exception("/x", status, [{"errorCode": "E"}])
    assert type(exc) is cls and exc.status == status and exc.content == [{"errorCode": "E"}]


def test_api_error_by_verdict():
    limit = api_error("query", 403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "m"}])
    assert type(limit) is BudgetExhausted and limit.code == "REQUEST_LIMIT_EXCEEDED"
    expired = api_error("query", 401, [{"errorCode": "INVALID_SESSION_ID", "message": "m"}])
    assert type(expired) is AuthError and expired.status == 401
    fatal = api_error("query", 400, [{"errorCode": "MALFORMED_QUERY", "message": "bad"}])
    assert type(fatal) is ApiError and "Salesforce query failed: MALFORMED_QUERY: bad" in str(fatal)


def test_collection_items_are_exactly_n():
    one = {"id": "00Q000000000001AAA", "success": True, "errors": []}
    assert collection_items([one, one, one], 2) == [one, one]
    padded = collection_items([one], 3)
    assert padded[0] == one and [r["success"] for r in padded] == [True, False, False]
    assert padded[1]["errors"][0]["statusCode"] == "UNKNOWN_EXCEPTION" and padded[1] is not padded[2]
    assert collection_items({"not": "a list"}, 1)[0]["success"] is False


def test_failed_item_and_first_message():
    body = [{"errorCode": "INVALID_FIELD", "message": "No such column", "fields": ["Foo__c"]}]
    assert failed_item(400, body) == {"success": False, "errors": [
        {"statusCode": "INVALID_FIELD", "message": "No such column", "fields": ["Foo__c"]}]}
    assert failed_item(502, "Bad Gateway")["errors"][0] == {
        "statusCode": "HTTP_502", "message": "Bad Gateway", "fields": []}
    assert first_message(body) == "INVALID_FIELD: No such column"
    assert first_message("x" * 400) == "x" * 300


# -- the error tree, as the client raises it ----------------------------------------------


def test_the_error_tree_groups_by_what_the_caller_does():
    assert issubclass(AmbiguousWrite, ApiError)
    assert issubclass(TransientError, LeadsyncError) and not issubclass(TransientError, ApiError)
    assert TransientError("blip", retry_after=2.0).retry_after == 2.0


@pytest.fixture
def scripted():
    settings = SalesforceSettings("https://acme.my.salesforce.com", access_token=Secret("00D!x"))
    with responses.RequestsMock() as rsps:
        yield rsps, SalesforceClient(settings, retry=RetryPolicy.fast())


def test_a_refused_token_is_an_auth_error_not_retried(scripted):
    rsps, client = scripted
    rsps.add(responses.GET, f"{BASE}/query/", status=401,
             json=[{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
    with pytest.raises(AuthError) as raised:
        client.query_all("SELECT Id FROM Lead")
    assert raised.value.status == 401 and raised.value.code == "INVALID_SESSION_ID"
    assert len(rsps.calls) == 1


def test_a_bad_query_is_an_api_error_with_the_servers_words(scripted):
    rsps, client = scripted
    rsps.add(responses.GET, f"{BASE}/query/", status=400,
             json=[{"errorCode": "MALFORMED_QUERY", "message": "unexpected token"}])
    with pytest.raises(ApiError) as raised:
        client.query_all("SELECT FROM Lead")
    assert type(raised.value) is ApiError and raised.value.code == "MALFORMED_QUERY"
    assert "Salesforce query failed: MALFORMED_QUERY: unexpected token" in str(raised.value)
