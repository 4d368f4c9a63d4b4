"""Reply classification as a table of real status codes and bodies, and the retry policy."""

from __future__ import annotations

import pytest
import requests
import responses

from connector.adapters.transport import (ApiSession, RetryPolicy, SandboxAdapter, Verdict, classify,
                                 with_retries)
from connector.errors import TransientError

SF_LIMIT = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
SF_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
SF_MALFORMED = [{"message": "unexpected token", "errorCode": "MALFORMED_QUERY"}]
SF_EMAIL = [{"message": "Email: invalid email address: bad", "errorCode": "INVALID_EMAIL_ADDRESS",
             "fields": ["Email"]}]
SF_DUP_MEMBER = [{"message": "Already a campaign member.", "errorCode": "DUPLICATE_VALUE"}]
SF_LOCK = [{"message": "unable to obtain exclusive access", "errorCode": "UNABLE_TO_LOCK_ROW"}]
HS_429 = {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
          "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
HS_401 = {"status": "error", "message": "Authentication credentials not found.",
          "category": "INVALID_AUTHENTICATION"}

TABLE = [
    (None, None, Verdict.RETRY),          # connection dropped, no reply at all
    (200, {"records": []}, Verdict.OK),
    (201, {"id": "00Q"}, Verdict.OK),
    (204, None, Verdict.OK),
    (400, SF_EMAIL, Verdict.RECORD),
    (400, SF_DUP_MEMBER, Verdict.RECORD),
    (400, SF_MALFORMED, Verdict.FATAL),
    (400, SF_LOCK, Verdict.RETRY),
    (401, SF_SESSION, Verdict.EXPIRED),
    (401, HS_401, Verdict.EXPIRED),
    (403, SF_LIMIT, Verdict.LIMIT),
    (403, [{"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED"}], Verdict.RETRY),
    (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}], Verdict.FATAL),
    (404, [{"errorCode": "NOT_FOUND", "message": "gone"}], Verdict.FATAL),
    (429, HS_429, Verdict.RETRY),
    (500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}], Verdict.RETRY),
    (502, "<html>bad gateway</html>", Verdict.RETRY),
    (503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "later"}], Verdict.RETRY),
]


@pytest.mark.parametrize("status,body,verdict", TABLE)
def test_classify(status, body, verdict):
    assert classify(status, body) is verdict


def test_retries_then_succeeds_and_honours_retry_after():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("blip", retry_after=0.01)
        return "done"

    assert with_retries(flaky, RetryPolicy.fast()) == "done"
    assert len(calls) == 3


def test_gives_up_after_the_policy():
    calls = []

    def down():
        calls.append(1)
        raise TransientError("down")

    with pytest.raises(TransientError):
        with_retries(down, RetryPolicy(attempts=3, max_seconds=5, initial=0.001, max_wait=0.002))
    assert len(calls) == 3


def test_non_transient_errors_are_not_retried():
    calls = []

    def broken():
        calls.append(1)
        raise ValueError("bug")

    with pytest.raises(ValueError):
        with_retries(broken, RetryPolicy.fast())
    assert len(calls) == 1


@responses.activate
def test_sandbox_adapter_reroutes_https_to_the_sandbox():
    responses.add(responses.GET, "http://127.0.0.1:9999/services/data/v59.0/limits/", json={"ok": True})
    session = requests.Session()
    session.mount("https://", SandboxAdapter("127.0.0.1:9999"))
    reply = session.get("https://login.salesforce.com/services/data/v59.0/limits/")
    assert reply.json() == {"ok": True}
    assert responses.calls[0].request.url.startswith("http://127.0.0.1:9999/")


def test_real_orgs_keep_tls_verification_and_are_not_rerouted():
    from connector.adapters.transport import session_for

    real = session_for("https://acme.my.salesforce.com")
    assert real.verify is True
    assert not isinstance(real.get_adapter("https://acme.my.salesforce.com"), SandboxAdapter)
    sandbox = session_for("http://127.0.0.1:8765")
    assert isinstance(sandbox.get_adapter("https://login.salesforce.com"), SandboxAdapter)


# -- ApiSession: the proxy environment read once per host, with the same answers ---------------

def test_api_session_honours_proxy_environment_and_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = ApiSession()
    plain = requests.Session()
    for url in ("https://acme.my.salesforce.com/services/data", "https://internal.example/x"):
        ours = session.merge_environment_settings(url, {}, None, None, None)
        theirs = plain.merge_environment_settings(url, {}, None, None, None)
        assert ours == theirs
    assert session.merge_environment_settings("https://api.hubapi.com/x", {}, None, None, None)[
        "proxies"].get("https") == "http://proxy.corp.example:3128"
    assert "https" not in session.merge_environment_settings(
        "https://internal.example/y", {}, None, None, None)["proxies"]


def test_api_session_reads_the_environment_once_per_host(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, no_proxy=None: reads.append(url) or real(url, no_proxy))
    session = ApiSession()
    for path in ("a", "b", "c"):
        session.merge_environment_settings(f"https://api.hubapi.com/{path}", {}, None, None, None)
    session.merge_environment_settings("https://other.example/a", {}, None, None, None)
    assert len(reads) == 2
    # a caller changing what it got back does not change what the next request gets
    got = session.merge_environment_settings("https://api.hubapi.com/d", {}, None, None, None)
    got["proxies"]["https"] = "http://evil.example:1"
    again = session.merge_environment_settings("https://api.hubapi.com/e", {}, None, None, None)
    assert again["proxies"] == {}
