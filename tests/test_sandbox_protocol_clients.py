"""Reference clients nobody here wrote, driven against the sandbox: jsforce, the ``sf`` CLI and
@hubspot/api-client (issue 16's acceptance).

The node packages are pinned in ``tests/clients/package.json`` and its lock, and installed from
the npm registry at test time into ``tests/clients/node_modules`` (gitignored; kept between
runs while the lock is unchanged). Without ``node``/``npm``, or when the install fails, these
tests are skipped with the reason printed: the clients' absence must never fail CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from connector.sandbox import Sandbox, wire
from connector.sandbox.sf_store import WriteOptions

CLIENTS = Path(__file__).resolve().parent / "clients"
MODULES = CLIENTS / "node_modules"
STAMP = MODULES / ".leadsync-install-stamp"
INSTALL_TIMEOUT = 900           # a cold install of the sf CLI takes about a minute here
MIN_NODE = (18, 0)
TOKEN = "00D8c0000000001EAA!leadsync.client.tests"


def _skip(reason: str) -> None:
    print(f"\n[node clients skipped] {reason}", file=sys.stderr)
    pytest.skip(reason)


def _stamp() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((CLIENTS / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def node_clients() -> Path:
    """The installed client packages' folder, or skip with the reason."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _skip(f"node or npm not on PATH (node={node}, npm={npm})")
    raw = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    m = re.match(r"v(\d+)\.(\d+)", raw)
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_NODE:
        _skip(f"node {raw or '?'} is older than {MIN_NODE[0]}.{MIN_NODE[1]}")
    if STAMP.exists() and STAMP.read_text() == _stamp():
        return MODULES
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false"}
    try:
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                              cwd=CLIENTS, env=env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        _skip(f"npm ci did not finish in {INSTALL_TIMEOUT} s")
    if done.returncode != 0:
        _skip(f"npm ci failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    STAMP.write_text(_stamp())
    return MODULES


@pytest.fixture
def sandbox_for_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, list[int]]]:
    """A fresh sandbox with jobs completing at the first poll, and a count of chunked bodies."""
    chunked: list[int] = []
    real = wire.read_chunked

    def counting(rfile):  # type: ignore[no-untyped-def]
        body = real(rfile)
        chunked.append(len(body))
        return body

    monkeypatch.setattr(wire, "read_chunked", counting)
    with Sandbox(token=TOKEN) as sb:
        sb.app.salesforce.bulk.polls_to_complete = 1
        sb.app.salesforce.bulk_query.polls_to_complete = 1
        yield sb, chunked


def _node(script: str, *args: str, timeout: float = 120) -> dict:
    done = subprocess.run(["node", str(CLIENTS / script), *args], cwd=CLIENTS,
                          capture_output=True, text=True, timeout=timeout)
    last = (done.stdout.strip().splitlines() or ["{}"])[-1]
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return json.loads(last)


def test_jsforce_logs_in_queries_past_2000_describes_writes_and_runs_bulk_jobs(
        node_clients: Path, sandbox_for_clients: tuple[Sandbox, list[int]]) -> None:
    sb, chunked = sandbox_for_clients
    with sb.app.lock:
        for i in range(2_300):
            sb.app.salesforce.store.create("Lead", {"LastName": f"Seed {i:04d}", "Company": "Acme"},
                                           WriteOptions())
    out = _node("jsforce_suite.mjs", sb.url, sb.token)
    org_id = sb.app.salesforce.identity.org_id
    user_id = sb.app.salesforce.store.api_user_id
    assert out["soapLogin"] == {"userId": user_id, "orgId": org_id, "instanceUrl": sb.url}
    assert out["oauthLogin"] == {"userId": user_id}
    assert out["autoFetch"] == {"totalSize": 2_300, "fetched": 2_300, "distinct": 2_300}
    assert out["describe"]["name"] == "Lead" and out["describe"]["keyPrefix"] == "00Q"
    assert out["describe"]["hasOrganization"] is True
    assert len(out["collections"]["createdIds"]) == 1
    assert out["collections"]["createError"] == "INVALID_EMAIL_ADDRESS"
    assert out["collections"]["upsertCreated"] == [True, True]
    assert out["collections"]["againCreated"] == [False]
    assert out["composite"]["statuses"] == [201, 201, 200]
    assert out["bulkLoad"] == {"ok": 2, "failed": 1, "failedError": "INVALID_EMAIL_ADDRESS"}
    assert out["bulkQuery"] == {"count": 2, "names": ["Bulk One", "Bulk Two"]}
    assert [r["LastName"] for r in sb.app.salesforce.records("Lead")
            if r["Leadsync_Response_Id__c"] == "resp-1"] == ["Ups 1 bis"]
    # jsforce sends the SOAP login and the Bulk 2.0 upload with Transfer-Encoding: chunked.
    assert len(chunked) >= 2 and all(n > 0 for n in chunked)


def test_hubspot_client_pages_forms_and_the_v1_submissions_feed(
        node_clients: Path, sandbox_for_clients: tuple[Sandbox, list[int]]) -> None:
    sb, _ = sandbox_for_clients
    hs = sb.app.hubspot
    forms = [hs.create_form(f"Form {i}") for i in range(5)]
    conversions = [hs.add_submission(forms[0], {"email": f"p{i}@example.com", "firstname": "P"},
                                     submitted_at=1_714_557_600_000 + i * 1_000)
                   for i in range(45)]
    out = _node("hubspot_suite.mjs", sb.url, sb.token, forms[0])
    assert out["forms"] == {"pages": [2, 2, 1], "ids": forms}
    assert out["submissions"]["pages"] == [20, 20, 5]
    assert out["submissions"]["conversions"] == list(reversed(conversions))   # newest first


def test_sf_cli_logs_in_with_an_access_token_queries_creates_and_bulk_loads(
        node_clients: Path, sandbox_for_clients: tuple[Sandbox, list[int]],
        tmp_path: Path) -> None:
    sb, chunked = sandbox_for_clients
    sb.app.salesforce.insert("Lead", {"LastName": "Before", "Company": "Acme",
                                      "Email": "before@acme.example"})
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{node_clients / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(home), "SF_ACCESS_TOKEN": sb.token, "SF_DISABLE_TELEMETRY": "true",
           "SF_AUTOUPDATE_DISABLE": "true", "SF_SKIP_NEW_VERSION_CHECK": "true",
           "SF_USE_GENERIC_UNIX_KEYCHAIN": "true", "SF_HIDE_RELEASE_NOTES": "true",
           "SF_DISABLE_SOURCE_MEMBER_POLLING": "true", "NODE_NO_WARNINGS": "1"}

    def sf(*args: str) -> dict:
        done = subprocess.run(["sf", *args, "--json"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        try:
            body = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            body = {}
        assert done.returncode == 0 and body.get("status") == 0, \
            f"sf {' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return body["result"]

    login = sf("org", "login", "access-token", "--instance-url", sb.url, "--alias", "sb",
               "--no-prompt")
    assert login["username"] == "integration@leadsync.sandbox"
    assert login["orgId"] == sb.app.salesforce.identity.org_id
    assert login["isSandbox"] is True and login["instanceUrl"].startswith(sb.url)

    created = sf("data", "create", "record", "--sobject", "Lead", "--target-org", "sb",
                 "--values", "LastName=Cli Company=Acme Email=cli@acme.example")
    assert created["success"] is True and created["id"].startswith("00Q")

    queried = sf("data", "query", "--target-org", "sb", "--query",
                 "SELECT Id, Email FROM Lead WHERE Company = 'Acme' ORDER BY Email")
    assert [r["Email"] for r in queried["records"]] == ["before@acme.example", "cli@acme.example"]
    # `sf data query` asks query/?columns=true after the query (for its table and CSV output).
    assert sb.counters["salesforce.query"] >= 2

    (tmp_path / "leads.csv").write_text(
        "LastName,Company,Email,Leadsync_Response_Id__c\n"
        "Bulk A,Acme,bulk.a@acme.example,resp-a\nBulk B,Acme,bulk.b@acme.example,resp-b\n")
    imported = sf("data", "import", "bulk", "--sobject", "Lead", "--file", "leads.csv",
                  "--target-org", "sb", "--wait", "2")
    assert imported["processedRecords"] == 2 and imported["failedRecords"] == 0

    (tmp_path / "upsert.csv").write_text(
        "LastName,Company,Email,Leadsync_Response_Id__c\n"
        "Bulk A2,Acme,bulk.a@acme.example,resp-a\nBulk C,Acme,bulk.c@acme.example,resp-c\n")
    upserted = sf("data", "upsert", "bulk", "--sobject", "Lead", "--file", "upsert.csv",
                  "--external-id", "Leadsync_Response_Id__c", "--target-org", "sb",
                  "--wait", "2")
    assert upserted["jobInfo"]["state"] == "JobComplete"
    assert upserted["jobInfo"]["numberRecordsProcessed"] == 2
    by_response = {r["Leadsync_Response_Id__c"]: r["LastName"]
                   for r in sb.app.salesforce.records("Lead") if r["Leadsync_Response_Id__c"]}
    assert by_response == {"resp-a": "Bulk A2", "resp-b": "Bulk B", "resp-c": "Bulk C"}
    assert chunked, "the sf CLI uploads bulk CSV with Transfer-Encoding: chunked"
