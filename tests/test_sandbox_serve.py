"""`leadsync sandbox serve` as a user runs it: a process, its printed URL, real clients, SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import hubspot
import requests
from simple_salesforce import Salesforce

from connector.adapters.transport import session_for

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_its_url_answers_both_apis_and_stops_on_sigterm(tmp_path):
    data = tmp_path / "world.json"
    data.write_text(json.dumps({"salesforce": {"records": {"Lead": [
        {"LastName": "Smith", "Company": "Acme", "Email": "bob@acme.example"}]}},
        "hubspot": {"portal_id": 4242}}))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "connector", "sandbox", "serve", "--port", str(port),
                             "--token", "tok-serve", "--data", str(data)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)
        assert url == f"http://127.0.0.1:{port}" and "4242" in first

        sf = Salesforce(instance_url=url, session_id="tok-serve", session=session_for(url), version="59.0")
        rows = sf.query("SELECT Id, Email FROM Lead WHERE Email = 'BOB@acme.example'")["records"]
        assert [r["Email"] for r in rows] == ["bob@acme.example"]

        client = hubspot.Client.create(access_token="tok-serve", host=url, base_url=url)
        assert client.api_request({"method": "GET", "path": "/account-info/v3/details"}).json()["portalId"] == 4242

        refused = requests.get(f"{url}/services/data/v59.0/limits/", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401 and refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert proc.returncode == 0
