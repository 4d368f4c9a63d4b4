"""Fault injection: each kind, its vendor-shaped reply, determinism under a seed, and the
"apply the write, then drop the reply" case that really applies the write."""

from __future__ import annotations

import time

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceGeneralError

from connector.sandbox import Sandbox
from connector.sandbox.faults import FaultConfigError, Faults
from connector.sandbox.http import Request, Response
from connector.sandbox.server import DROP

V = "/services/data/v59.0"


def get(sb: Sandbox, path: str) -> requests.Response:
    return requests.get(sb.url + path, headers={"Authorization": f"Bearer {sb.token}"}, timeout=5)


def test_error_kinds_have_salesforce_bodies(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(fail_next=["error_500", "error_503", "rate_limit"])
    with pytest.raises(SalesforceGeneralError) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.status == 500 and err.value.content[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    with pytest.raises(SalesforceGeneralError) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.status == 503 and err.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    resp = get(sandbox, f"{V}/limits/")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert resp.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert get(sandbox, f"{V}/limits/").status_code == 200   # the queue is used up
    assert sandbox.app.faults.stats["error_500"] == 1 and sandbox.app.faults.stats["rate_limit"] == 1
    # an injected fault never reached the handler: it does not count as API usage
    assert sandbox.app.salesforce.api_usage[0] == 1


def test_hubspot_rate_limit_with_and_without_retry_after(sandbox: Sandbox) -> None:
    faults = sandbox.app.faults
    faults.configure(fail_next=["rate_limit"], retry_after=None)
    resp = get(sandbox, "/account-info/v3/details")
    assert resp.status_code == 429 and "Retry-After" not in resp.headers
    body = resp.json()
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    faults.configure(fail_next=["rate_limit"], retry_after=2)
    resp = get(sandbox, "/account-info/v3/details")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    faults.configure(fail_next=["error_500"])
    resp = get(sandbox, "/account-info/v3/details")
    assert resp.status_code == 500 and resp.json()["status"] == "error"


def test_drop_closes_the_connection_without_applying(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(fail_next=["drop"])
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.Lead.create({"LastName": "Doe", "Company": "Acme"})
    assert sandbox.app.salesforce.records("Lead") == []


def test_apply_then_drop_really_applies_the_write(sandbox: Sandbox, sf: Salesforce) -> None:
    faults = sandbox.app.faults
    faults.configure(fail_next=["apply_then_drop"])
    # reads do not consume an apply_then_drop: it waits for the next write
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Email": "pat@example.com"})
    leads = sandbox.app.salesforce.records("Lead")
    assert [lead["Email"] for lead in leads] == ["pat@example.com"]
    assert faults.stats["apply_then_drop"] == 1
    # the naive retry creates the duplicate a real connector must avoid
    sf.Lead.create({"LastName": "Doe", "Company": "Acme", "Email": "pat@example.com"})
    assert len(sandbox.app.salesforce.records("Lead")) == 2


def test_families_filter(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(error_rate=1.0, families=["salesforce.query"])
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Lead")
    assert sf.Lead.create({"LastName": "Doe", "Company": "Acme"})["success"] is True
    assert get(sandbox, f"{V}/limits/").status_code == 200


def test_admin_calls_are_never_faulted(sandbox: Sandbox) -> None:
    sandbox.app.faults.configure(error_rate=1.0)
    assert get(sandbox, "/_sandbox/counters").status_code == 200


def test_latency_is_added(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(latency_ms=60)
    start = time.monotonic()
    sf.limits()
    assert time.monotonic() - start >= 0.06


def _kinds(faults: Faults, n: int, method: str = "POST") -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        req = Request.build(method, f"{V}/sobjects/Lead/", {})
        result = faults.before(req, "salesforce.sobjects")
        if result is DROP:
            out.append("drop")
        elif isinstance(result, Response):
            out.append(str(result.status))
        elif faults.after(req, "salesforce.sobjects", Response.empty()) is DROP:
            out.append("apply_then_drop")
        else:
            out.append(None)
    return out


def test_rates_are_deterministic_under_the_seed() -> None:
    settings = dict(error_rate=0.2, rate_limit_rate=0.1, drop_rate=0.1, apply_then_drop_rate=0.1)
    a = _kinds(Faults(seed=7, **settings), 300)
    b = _kinds(Faults(seed=7, **settings), 300)
    c = _kinds(Faults(seed=8, **settings), 300)
    assert a == b and a != c
    assert {"500", "503", "drop", "apply_then_drop", None} <= set(a)
    # roughly the configured shares
    assert 30 <= sum(k in ("500", "503") for k in a) <= 150
    assert 10 <= a.count("drop") <= 60
    faults = Faults(seed=7, **settings)
    first = _kinds(faults, 50)
    faults.configure(seed=7)
    assert _kinds(faults, 50) == first


def test_apply_then_drop_rate_only_hits_writes() -> None:
    faults = Faults(seed=1, apply_then_drop_rate=1.0)
    assert _kinds(faults, 5, method="GET") == [None] * 5
    assert _kinds(faults, 5, method="PATCH") == ["apply_then_drop"] * 5


def test_configuration_is_validated() -> None:
    faults = Faults()
    for bad in ({"error_rate": 2}, {"nonsense": 1}, {"fail_next": ["explode"]},
                {"latency_ms": -1}):
        with pytest.raises(FaultConfigError):
            faults.configure(**bad)
    assert faults.settings["error_rate"] == 0.0
    with pytest.raises(FaultConfigError):
        Faults(error_rate=-0.1)


def test_settings_at_start_through_the_context_manager() -> None:
    with Sandbox(faults={"fail_next": ["error_503"]}, seed=3) as sb:
        assert get(sb, f"{V}/limits/").status_code == 503
        assert get(sb, f"{V}/limits/").status_code == 200
        assert sb.app.faults.settings["seed"] == 3
