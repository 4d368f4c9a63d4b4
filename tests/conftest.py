"""Shared fixtures: a running sandbox and a simple-salesforce client pointed at it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from connector.sandbox import Sandbox
from connector.adapters.transport import session_for


def sandbox_session(url: str) -> requests.Session:
    """The production route to the sandbox (connector.adapters.transport), as tests use it."""
    return session_for(url)


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Sandbox]:
    with Sandbox(token="00Dsandbox!TOKEN") as sb:
        yield sb


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The shared sandbox, emptied: default org, no faults, zeroed counters."""
    app = _sandbox_server.app
    app.reset()
    app.faults.reset(seed=0)
    yield _sandbox_server
    app.faults.reset(seed=0)


@pytest.fixture
def sf(sandbox: Sandbox) -> Salesforce:
    """simple-salesforce with direct (session id) auth against the sandbox."""
    return Salesforce(instance_url=sandbox.url, session_id=sandbox.token,
                      session=sandbox_session(sandbox.url), version="59.0")


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP server standing for a Slack webhook: (its URL, the JSON bodies posted).
    The URL's last part stands for the secret a real webhook URL carries."""
    got: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/T0/SECRETPART", got
    server.shutdown()
    server.server_close()
