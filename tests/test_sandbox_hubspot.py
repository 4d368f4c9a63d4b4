"""The sandbox's HubSpot side, driven through the real hubspot-api-client where it wraps the call.

Only the HubSpot half is exercised, so these tests hold whatever state the Salesforce half is
in. Each test makes its own form, so they share one server (module fixture) without sharing
data; tests that bend the clock or the limits put them back.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import hubspot
import pytest
import requests
from hubspot.crm.contacts import (BatchReadInputSimplePublicObjectId, Filter, FilterGroup,
                                  PublicObjectSearchRequest, SimplePublicObjectId)
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.marketing.forms import FormDefinitionCreateRequestBase
from hubspot.marketing.forms.exceptions import ApiException as FormsApiException
from hubspot.marketing.forms.exceptions import NotFoundException, UnauthorizedException

from connector.sandbox import Sandbox, SandboxApp
from connector.sandbox.http import Request
from connector.sandbox.hubspot_ratelimit import RateLimiter

AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
GENEROUS = {"per_10s": 1_000_000, "per_second": 1_000_000}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # Generous limits: the suite fires far more than HubSpot's 19 calls a second.
    with Sandbox(token="t", data={"hubspot": {"rate_limit": GENEROUS}}) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def client(sb: Sandbox) -> hubspot.Client:
    return hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url)


@pytest.fixture
def form(sb: Sandbox) -> str:
    return sb.app.hubspot.create_form(f"Form {time.perf_counter_ns()}")


def feed(client: hubspot.Client, guid: str, **qs: Any) -> requests.Response:
    return client.api_request({"method": "GET", "path": f"/form-integrations/v1/submissions/forms/{guid}",
                               "qs": qs})


def all_pages(client: hubspot.Client, guid: str, limit: int = 50) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        qs: dict[str, Any] = {"limit": limit}
        if after:
            qs["after"] = after
        body = feed(client, guid, **qs).json()
        pages.append(body)
        if "paging" not in body:
            return pages
        after = body["paging"]["next"]["after"]


def direct(app: SandboxApp, method: str, target: str, body: Any = None, token: str = "t") -> Any:
    """Call the app without a socket (for tests about size or time, not the wire)."""
    raw = b"" if body is None else json.dumps(body).encode()
    return app.handle(Request.build(method, target, {"Authorization": f"Bearer {token}"}, raw))


# -- account and auth -----------------------------------------------------------------------

def test_account_details(sb: Sandbox, client: hubspot.Client) -> None:
    r = client.api_request({"method": "GET", "path": "/account-info/v3/details"})
    assert r.status_code == 200
    assert r.json() == {"portalId": sb.portal_id, "accountType": "STANDARD", "timeZone": "Etc/UTC",
                        "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "+00:00",
                        "utcOffsetMilliseconds": 0, "uiDomain": "app.hubspot.com",
                        "dataHostingLocation": "na1"}
    assert r.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert sb.portal_id == 2026001


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "t"}])
def test_401_without_or_with_wrong_token(sb: Sandbox, headers: dict[str, str]) -> None:
    r = requests.get(f"{sb.url}/account-info/v3/details", headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert set(body) == {"status", "message", "correlationId", "category"}
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"] == AUTH_MESSAGE
    assert len(body["correlationId"]) == 36


def test_generated_client_raises_unauthorized(sb: Sandbox) -> None:
    bad = hubspot.Client.create(access_token="nope", host=sb.url, base_url=sb.url)
    with pytest.raises(UnauthorizedException) as info:
        bad.marketing.forms.forms_api.get_page()
    assert info.value.status == 401
    assert json.loads(info.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_unknown_path_and_method(sb: Sandbox) -> None:
    r = requests.get(f"{sb.url}/crm/v3/nothing-here", headers={"Authorization": "Bearer t"})
    assert r.status_code == 404 and r.json()["status"] == "error"
    r = requests.delete(f"{sb.url}/account-info/v3/details", headers={"Authorization": "Bearer t"})
    assert r.status_code == 405


# -- forms -----------------------------------------------------------------------------------

def test_forms_create_get_and_list_through_generated_client(client: hubspot.Client) -> None:
    api = client.marketing.forms.forms_api
    created = api.create(FormDefinitionCreateRequestBase(name="Contact us", form_type="hubspot"))
    assert created.id and created.name == "Contact us" and created.form_type == "hubspot"
    assert created.archived is False and created.created_at.year >= 2024
    assert created.field_groups[0].fields[0].name == "email"
    assert created.configuration.language == "en"
    assert created.display_options.submit_button_text == "Submit"
    assert created.legal_consent_options.type == "none"

    fetched = api.get_by_id(created.id)
    assert fetched.to_dict() == created.to_dict()

    more = [api.create(FormDefinitionCreateRequestBase(name=f"F{i}")).id for i in range(4)]
    seen, after = [], None
    while True:
        page = api.get_page(limit=2, after=after, form_types=["hubspot"])
        assert len(page.results) <= 2
        seen += [f.id for f in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
        assert page.paging.next.link.startswith("http")
    assert len(seen) == len(set(seen))
    assert {created.id, *more} <= set(seen)


def test_form_create_keeps_given_options(client: hubspot.Client) -> None:
    r = client.api_request({"method": "POST", "path": "/marketing/v3/forms/", "body": {
        "name": "Webinar", "formType": "hubspot", "configuration": {"language": "de"},
        "fieldGroups": [{"groupType": "default_group", "richTextType": "text", "fields": [
            {"objectTypeId": "0-1", "name": "email", "label": "E-Mail", "fieldType": "email",
             "required": True, "hidden": False}]}]}})
    assert r.status_code == 201
    body = r.json()
    assert body["configuration"]["language"] == "de"
    assert body["configuration"]["editable"] is True          # defaults survive a partial object
    assert body["fieldGroups"][0]["fields"][0]["label"] == "E-Mail"


def test_form_create_validation_and_unknown_form(client: hubspot.Client) -> None:
    r = client.api_request({"method": "POST", "path": "/marketing/v3/forms/", "body": {"formType": "hubspot"}})
    assert r.status_code == 400 and r.json()["category"] == "VALIDATION_ERROR"
    with pytest.raises(NotFoundException) as info:
        client.marketing.forms.forms_api.get_by_id("00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404


# -- public submit ---------------------------------------------------------------------------

def test_public_submit_without_auth(sb: Sandbox, form: str) -> None:
    r = requests.post(f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/{form}", json={
        "submittedAt": "1714557600000",
        "fields": [{"objectTypeId": "0-1", "name": "email", "value": "o'brien@example.com"},
                   {"objectTypeId": "0-1", "name": "firstname", "value": "Pat"}],
        "context": {"pageUri": "https://www.example.com/contact", "pageName": "Contact"}})
    assert r.status_code == 200
    assert r.json() == {"inlineMessage": "Thanks for submitting the form."}
    [stored] = sb.app.hubspot.submissions(form)
    assert stored["submittedAt"] == 1714557600000
    assert stored["pageUrl"] == "https://www.example.com/contact"
    assert stored["values"] == [{"name": "email", "value": "o'brien@example.com", "objectTypeId": "0-1"},
                                {"name": "firstname", "value": "Pat", "objectTypeId": "0-1"}]
    assert len(stored["conversionId"]) == 36
    assert sb.counters["hubspot.submit"] >= 1


def test_submit_through_api_request_and_default_time(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    before = int(time.time() * 1000)
    r = client.api_request({"method": "POST", "path": f"/submissions/v3/integration/submit/{sb.portal_id}/{form}",
                            "body": {"fields": [{"name": "email", "value": "x@example.com"}]}})
    assert r.status_code == 200
    [stored] = sb.app.hubspot.submissions(form)
    assert before <= stored["submittedAt"] <= int(time.time() * 1000)
    assert "pageUrl" not in stored


def test_submit_stores_junk_values_as_hubspot_does(sb: Sandbox, form: str) -> None:
    junk = ["not-an-email", "", "  padded@example.com  ", "名前@例え.jp", "x" * 5000, "a@b"]
    url = f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/{form}"
    for i, value in enumerate(junk):
        r = requests.post(url, json={"submittedAt": 1000 + i, "fields": [{"name": "email", "value": value}]})
        assert r.status_code == 200, r.text
    assert [s["values"][0]["value"] for s in sb.app.hubspot.submissions(form)] == junk[::-1]


@pytest.mark.parametrize("body, error_type", [
    (b"not json", "INVALID_JSON"),
    (b"[]", "INVALID_JSON"),
    (json.dumps({"context": {}}).encode(), "REQUIRED_FIELD"),
    (json.dumps({"fields": "email=a@b.c"}).encode(), "REQUIRED_FIELD"),
    (json.dumps({"fields": [{"value": "a@b.c"}]}).encode(), "REQUIRED_FIELD"),
    (json.dumps({"fields": [{"name": "email", "value": {"x": 1}}]}).encode(), "INVALID_METADATA"),
    (json.dumps({"fields": [], "submittedAt": "yesterday"}).encode(), "INVALID_METADATA"),
    (json.dumps({"fields": [], "context": "home"}).encode(), "INVALID_METADATA"),
])
def test_submit_rejects_structurally_broken_bodies(sb: Sandbox, form: str, body: bytes, error_type: str) -> None:
    r = requests.post(f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/{form}", data=body,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    out = r.json()
    assert out["status"] == "error" and out["correlationId"]
    assert out["errors"][0]["errorType"] == error_type and out["errors"][0]["message"]
    assert sb.app.hubspot.submissions(form) == []


def test_submit_to_unknown_form_or_portal(sb: Sandbox, form: str) -> None:
    body = {"fields": [{"name": "email", "value": "a@b.c"}]}
    r = requests.post(f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/nope", json=body)
    assert r.status_code == 404 and r.json()["status"] == "error"
    r = requests.post(f"{sb.url}/submissions/v3/integration/submit/1/{form}", json=body)
    assert r.status_code == 404
    with pytest.raises(KeyError):
        sb.app.hubspot.add_submission("nope", {"email": "a@b.c"})


# -- submissions feed ------------------------------------------------------------------------

def test_feed_pages_newest_first_without_gaps_or_duplicates(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    hs = sb.app.hubspot
    ids = []
    for i in range(130):
        # pairs share a timestamp: ties must come back later-insert first, once each
        ids.append(hs.add_submission(form, {"email": f"p{i}@example.com"}, submitted_at=1_700_000_000_000 + (i // 2) * 1000))
    pages = all_pages(client, form)
    assert [len(p["results"]) for p in pages] == [50, 50, 30]
    assert all("paging" in p for p in pages[:-1]) and "paging" not in pages[-1]
    got = [s["conversionId"] for p in pages for s in p["results"]]
    assert got == ids[::-1]
    times = [s["submittedAt"] for p in pages for s in p["results"]]
    assert times == sorted(times, reverse=True)
    first = pages[0]["results"][0]
    assert set(first) == {"conversionId", "submittedAt", "values"}
    assert first["values"] == [{"name": "email", "value": "p129@example.com", "objectTypeId": "0-1"}]


def test_feed_link_is_a_working_absolute_url(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    for i in range(3):
        sb.app.hubspot.add_submission(form, {"email": f"l{i}@example.com"}, submitted_at=1000 + i)
    body = feed(client, form, limit=2).json()
    link = body["paging"]["next"]["link"]
    assert link.startswith(f"{sb.url}/form-integrations/v1/submissions/forms/{form}?")
    nxt = requests.get(link, headers={"Authorization": "Bearer t"}).json()
    assert [s["submittedAt"] for s in nxt["results"]] == [1000] and "paging" not in nxt


def test_feed_cursor_sees_late_arriving_older_submission(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    hs = sb.app.hubspot
    for i in range(6):
        hs.add_submission(form, {"email": f"s{i}@example.com"}, submitted_at=10_000 + i * 10)
    page1 = feed(client, form, limit=2).json()
    assert [s["submittedAt"] for s in page1["results"]] == [10_050, 10_040]
    late_old = hs.add_submission(form, {"email": "late@example.com"}, submitted_at=10_015)
    late_new = hs.add_submission(form, {"email": "new@example.com"}, submitted_at=10_045)   # above the cursor
    tie = hs.add_submission(form, {"email": "tie@example.com"}, submitted_at=10_040)       # ties the cursor item
    rest, after = [], page1["paging"]["next"]["after"]
    while after:
        body = feed(client, form, limit=2, after=after).json()
        rest += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
    assert [s["submittedAt"] for s in rest] == [10_030, 10_020, 10_015, 10_010, 10_000]
    assert late_old in [s["conversionId"] for s in rest]
    fresh = [s["conversionId"] for p in all_pages(client, form, limit=3) for s in p["results"]]
    assert fresh[:3] == [hs.submissions(form)[0]["conversionId"], late_new, tie]
    assert len(fresh) == len(set(fresh)) == 9


def test_feed_limits_and_errors(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    for i in range(60):
        sb.app.hubspot.add_submission(form, {"email": f"x{i}@example.com"}, submitted_at=i)
    assert len(feed(client, form).json()["results"]) == 20           # HubSpot's default
    assert len(feed(client, form, limit=500).json()["results"]) == 50  # clamped to the maximum
    r = feed(client, "00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["status"] == "error"
    assert feed(client, form, after="!!garbage!!").status_code == 400
    assert feed(client, form, limit="many").status_code == 400
    r = requests.get(f"{sb.url}/form-integrations/v1/submissions/forms/{form}")
    assert r.status_code == 401


def test_feed_scales_to_100k_submissions() -> None:
    app = SandboxApp("t", data={"hubspot": {"rate_limit": GENEROUS}})
    hs = app.hubspot
    guid = hs.create_form("Big")
    for i in range(100_000):
        hs.add_submission(guid, {"email": f"u{i % 40_000}@example.com"}, submitted_at=1_000_000 + i)
    hs.add_submission(guid, {"email": "old@example.com"}, submitted_at=5)   # out of order, lands at the end
    body = json.loads(direct(app, "GET", f"/form-integrations/v1/submissions/forms/{guid}?limit=50").body)
    tokens = [body["paging"]["next"]["after"]]
    for _ in range(100):   # walk 100 pages: each resolves its cursor (its speed is bench's)
        body = json.loads(direct(app, "GET", f"/form-integrations/v1/submissions/forms/{guid}?limit=50&after={tokens[-1]}").body)
        tokens.append(body["paging"]["next"]["after"])
    assert body["results"][-1]["submittedAt"] == 1_000_000 + 100_000 - 101 * 50
    assert len(app.hubspot.store.contacts) == 40_001


# -- rate limiting ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tight(sb: Sandbox) -> Iterator[FakeClock]:
    hs = sb.app.hubspot
    clock, saved = FakeClock(), hs.limiter.settings()
    hs.clock = clock
    hs.limiter.clear()
    hs.set_rate_limit(per_10s=3, per_second=2)
    try:
        yield clock
    finally:
        hs.clock = time.time
        hs.set_rate_limit(saved["per_10s"], saved["per_second"], retry_after=saved["retry_after"])
        hs.limiter.clear()


def test_rate_limit_headers_count_down_and_429_past_the_window(sb: Sandbox, client: hubspot.Client, tight: FakeClock) -> None:
    seen = []
    for t in (0.0, 1.5, 3.0):
        tight.now = 1_000_000.0 + t
        r = client.api_request({"method": "GET", "path": "/account-info/v3/details"})
        assert r.status_code == 200
        seen.append((r.headers["X-HubSpot-RateLimit-Remaining"], r.headers["X-HubSpot-RateLimit-Secondly-Remaining"]))
        assert r.headers["X-HubSpot-RateLimit-Max"] == "3" and r.headers["X-HubSpot-RateLimit-Secondly"] == "2"
    assert seen == [("2", "1"), ("1", "1"), ("0", "1")]

    tight.now = 1_000_000.0 + 9.0
    with pytest.raises(FormsApiException) as info:
        client.marketing.forms.forms_api.get_page()
    assert info.value.status == 429
    assert "Retry-After" not in info.value.headers   # HubSpot usually sends none; off by default
    body = json.loads(info.value.body)
    assert body["status"] == "error" and body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["correlationId"] and body["requestId"]
    assert info.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"

    tight.now = 1_000_000.0 + 10.0   # the call at t=0 has left the rolling window
    assert client.api_request({"method": "GET", "path": "/account-info/v3/details"}).status_code == 200


def test_secondly_limit_and_optional_retry_after(sb: Sandbox, client: hubspot.Client, tight: FakeClock) -> None:
    sb.app.hubspot.set_rate_limit(per_10s=100, retry_after=True)
    codes = [client.api_request({"method": "GET", "path": "/account-info/v3/details"}) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert codes[2].json()["policyName"] == "SECONDLY"
    assert codes[2].headers["Retry-After"] == "1"
    # the public submit endpoint is not counted against the API limits
    form = sb.app.hubspot.create_form("Unlimited")
    r = requests.post(f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/{form}",
                      json={"fields": [{"name": "email", "value": "a@b.c"}]})
    assert r.status_code == 200 and "X-HubSpot-RateLimit-Remaining" not in r.headers


def test_default_limits_are_hubspots() -> None:
    app = SandboxApp("t")
    r = direct(app, "GET", "/account-info/v3/details")
    assert r.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert r.headers["X-HubSpot-RateLimit-Secondly"] == "19"
    assert r.headers["X-HubSpot-RateLimit-Daily-Remaining"] == str(int(r.headers["X-HubSpot-RateLimit-Daily"]) - 1)
    assert app.hubspot.dump()["rate_limit"]["retry_after"] is False


def test_limiter_daily_policy_and_free_refusals() -> None:
    clock = FakeClock(86_400.0 * 10 + 5)
    limiter = RateLimiter(per_10s=100, per_second=100, daily=2, clock=clock)
    assert [limiter.check().allowed for _ in range(4)] == [True, True, False, False]
    refused = limiter.check()
    assert refused.policy == "DAILY" and refused.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    clock.now = 86_400.0 * 11   # midnight UTC
    assert limiter.check().allowed


# -- contacts --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def people(sb: Sandbox) -> dict[str, str]:
    hs = sb.app.hubspot
    guid = hs.create_form("People")
    hs.add_submission(guid, {"email": "Ann@Example.com", "firstname": "Ann", "company": "Old Co"}, submitted_at=1_714_557_600_000)
    hs.add_submission(guid, {"email": "ann@example.com", "company": "New Co"}, submitted_at=1_714_644_000_000)
    hs.add_submission(guid, {"email": "ann@example.com", "company": "Older Co"}, submitted_at=1_714_500_000_000)
    hs.add_submission(guid, {"email": "bob@example.com", "firstname": "Bob", "lastname": "Stone"}, submitted_at=1_714_600_000_000)
    hs.add_submission(guid, {"firstname": "No email"}, submitted_at=1_714_600_000_001)
    return {c.props["email"][1]: c.id for c in hs.store.contacts.values()}


def search(client: hubspot.Client, filters: list[Filter], **kw: Any) -> Any:
    req = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=filters)], **kw)
    return client.crm.contacts.search_api.do_search(public_object_search_request=req)


def test_contacts_are_derived_from_submissions(client: hubspot.Client, people: dict[str, str]) -> None:
    res = search(client, [Filter(property_name="email", operator="EQ", value="ANN@example.com")],
                 properties=["email", "firstname", "company", "phone"], limit=10)
    assert res.total == 1
    [ann] = res.results
    assert ann.id == people["ann@example.com"]
    assert ann.properties["email"] == "ann@example.com"
    assert ann.properties["firstname"] == "Ann"          # only the first submission carried it
    assert ann.properties["company"] == "New Co"         # latest by submittedAt, not by arrival
    assert ann.properties["phone"] is None
    assert ann.properties["createdate"] == "2024-04-30T18:00:00.000Z"   # the earliest submission
    assert ann.created_at.timestamp() == 1_714_500_000
    assert ann.updated_at > ann.created_at and ann.archived is False


def test_contacts_search_in_sorts_and_paging(client: hubspot.Client, people: dict[str, str]) -> None:
    emails = ["ann@example.com", "bob@example.com", "nobody@example.com"]
    res = search(client, [Filter(property_name="email", operator="IN", values=emails)],
                 sorts=["-createdate"], properties=["email"], limit=1)
    assert res.total == 2
    assert [r.properties["email"] for r in res.results] == ["bob@example.com"]
    nxt = search(client, [Filter(property_name="email", operator="IN", values=emails)],
                 sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}], limit=1,
                 after=res.paging.next.after)
    assert [r.id for r in nxt.results] == [people["ann@example.com"]] and nxt.paging is None


def test_contacts_search_limits(client: hubspot.Client, people: dict[str, str]) -> None:
    f = [Filter(property_name="email", operator="HAS_PROPERTY")]
    with pytest.raises(ContactsApiException) as info:
        search(client, f, limit=201)
    assert info.value.status == 400 and json.loads(info.value.body)["category"] == "VALIDATION_ERROR"
    with pytest.raises(ContactsApiException) as info:
        search(client, f, limit=100, after="10000")
    assert info.value.status == 400 and "10000" in json.loads(info.value.body)["message"]


def test_contacts_batch_read(client: hubspot.Client, people: dict[str, str]) -> None:
    api = client.crm.contacts.batch_api
    ok = api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="BOB@example.com")], id_property="email",
        properties=["email", "lastname"], properties_with_history=[]))
    assert ok.status == "COMPLETE" and [r.properties["lastname"] for r in ok.results] == ["Stone"]
    assert type(ok).__name__ == "BatchResponseSimplePublicObject"   # the 200 model, no errors
    partial = api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=people["ann@example.com"]), SimplePublicObjectId(id="999999")],
        properties=["email"], properties_with_history=[]))
    assert [r.properties["email"] for r in partial.results] == ["ann@example.com"]
    assert partial.num_errors == 1 and partial.errors[0].category == "OBJECT_NOT_FOUND"
    assert partial.errors[0].context == {"ids": ["999999"]}


# -- dataset ---------------------------------------------------------------------------------

def test_dump_load_round_trip_keeps_order_ids_and_settings() -> None:
    app = SandboxApp("t")
    hs = app.hubspot
    guid = hs.create_form("Round trip", form_id="11111111-2222-3333-4444-555555555555")
    for i in range(5):
        hs.add_submission(guid, {"email": f"r{i % 3}@example.com"}, submitted_at=500 + (i // 2),
                          page_url="https://example.com/p")
    hs.set_rate_limit(per_10s=42, retry_after=True)
    data = {"hubspot": {**hs.dump(), "portal_id": 777}}
    copy = SandboxApp("t", data=json.loads(json.dumps(data)))
    dumped = copy.hubspot.dump()
    assert dumped == {**data["hubspot"]}
    assert copy.hubspot.portal_id == 777 and copy.hubspot.limiter.per_10s == 42
    assert copy.hubspot.submissions(guid) == hs.submissions(guid)
    hs.reset()
    assert hs.forms() == [] and hs.portal_id == 2026001 and hs.limiter.per_10s == 190


def test_fault_responses_speak_hubspot() -> None:
    hs = SandboxApp("t").hubspot
    r = hs.fault_response(429, retry_after=2)
    body = json.loads(r.body)
    assert r.status == 429 and r.headers["Retry-After"] == "2"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert "Retry-After" not in hs.fault_response(429).headers
    r = hs.fault_response(503)
    assert r.status == 503 and json.loads(r.body)["status"] == "error"


def test_concurrent_submits_are_all_kept(sb: Sandbox, client: hubspot.Client, form: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    url = f"{sb.url}/submissions/v3/integration/submit/{sb.portal_id}/{form}"

    def post(i: int) -> int:
        return requests.post(url, json={"submittedAt": 5000 + i % 7,
                                        "fields": [{"name": "email", "value": f"c{i}@example.com"}]}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(post, range(120))) == {200}
    got = [s["values"][0]["value"] for p in all_pages(client, form) for s in p["results"]]
    assert sorted(got) == sorted(f"c{i}@example.com" for i in range(120))


def test_bad_dataset_leaves_portal_untouched() -> None:
    hs = SandboxApp("t").hubspot
    guid = hs.create_form("Keep me")
    for bad in ({"forms": [{"name": "x", "id": "f"}], "submissions": {"nope": []}},
                {"forms": [{"id": "nameless"}]},
                {"rate_limit": {"per_minute": 5}}):
        with pytest.raises(ValueError):
            hs.load(bad)
    assert [f["id"] for f in hs.forms()] == [guid]
