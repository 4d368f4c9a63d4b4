"""REQUEST_LIMIT_EXCEEDED's two meanings, injected through the faults interface.

The daily allowance ("TotalRequests Limit exceeded.") and the concurrent long-running
requests limit ("ConcurrentRequests (Concurrent API Requests) Limit exceeded.") are both
403 REQUEST_LIMIT_EXCEEDED; only the message tells a connector whether to stop for the day
or back off and retry (docs/sandbox-org-rules.md, section 6).
"""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce, SalesforceRefusedRequest

from connector.sandbox import Sandbox
from connector.sandbox.faults import FaultConfigError, Faults
from connector.sandbox.http import Request

V = "/services/data/v59.0"
CONCURRENT = [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
               "message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded."}]
DAILY = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]


def test_concurrent_limit_is_a_403_with_its_own_message(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(fail_next=["concurrent_limit"])
    with pytest.raises(SalesforceRefusedRequest) as err:
        sf.query("SELECT Id FROM Lead")
    assert err.value.status == 403 and err.value.content == CONCURRENT
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0   # the next call goes through
    assert sandbox.app.faults.stats["concurrent_limit"] == 1
    assert sandbox.app.salesforce.api_usage[0] == 1   # the refused call never ran


def test_daily_limit_fault_matches_the_metered_limit_reply(sandbox: Sandbox, sf: Salesforce) -> None:
    sandbox.app.faults.configure(fail_next=["daily_limit"])
    with pytest.raises(SalesforceRefusedRequest) as injected:
        sf.query("SELECT Id FROM Lead")
    assert injected.value.content == DAILY
    sandbox.app.salesforce.set_api_limit(5, used=5)          # the real allowance, used up
    with pytest.raises(SalesforceRefusedRequest) as metered:
        sf.query("SELECT Id FROM Lead")
    assert metered.value.status == 403
    assert [{k: e[k] for k in ("errorCode", "message")} for e in metered.value.content] == DAILY


def test_over_http_admin_and_hubspot_routes(sandbox: Sandbox) -> None:
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    set_ = requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": ["concurrent_limit"]},
                         headers=auth, timeout=5)
    assert set_.status_code == 200 and set_.json()["settings"]["fail_next"] == ["concurrent_limit"]
    resp = requests.get(f"{sandbox.url}/account-info/v3/details", headers=auth, timeout=5)
    assert resp.status_code == 429 and resp.json()["errorType"] == "RATE_LIMIT"
    bad = requests.post(f"{sandbox.url}/_sandbox/faults", json={"fail_next": ["concurrency"]},
                        headers=auth, timeout=5)
    assert bad.status_code == 400 and "concurrent_limit" in bad.json()["error"]


def test_concurrent_limit_share_is_seeded_and_keeps_older_sequences() -> None:
    def kinds(faults: Faults, n: int) -> list[str | None]:
        out = []
        for _ in range(n):
            resp = faults.before(Request.build("GET", f"{V}/limits/", {}), "salesforce.limits")
            out.append(None if resp is None else resp.status)
        return out

    a, b = Faults(seed=7, concurrent_limit_rate=0.5), Faults(seed=7, concurrent_limit_rate=0.5)
    first = kinds(a, 40)
    assert first == kinds(b, 40) and 403 in first and None in first
    # a share of 0 for the new kind leaves the older kinds' draws untouched
    old, new = Faults(seed=3, error_rate=0.3), Faults(seed=3, error_rate=0.3, concurrent_limit_rate=0.0)
    assert kinds(old, 30) == kinds(new, 30)
    with pytest.raises(FaultConfigError):
        Faults(concurrent_limit_rate=1.5)
