"""Shared fixtures: a running sandbox and a simple-salesforce client pointed at it."""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

from connector.sandbox import Sandbox


class SandboxAdapter(HTTPAdapter):
    """simple-salesforce hard-codes https://; send everything to the sandbox (api-notes A1)."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(("http", self.target, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


def sandbox_session(url: str) -> requests.Session:
    session = requests.Session()
    session.mount("https://", SandboxAdapter(urlsplit(url).netloc))
    return session


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
