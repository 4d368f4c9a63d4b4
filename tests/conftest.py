"""Shared fixtures: a running sandbox and a simple-salesforce client pointed at it."""

from __future__ import annotations

from typing import Iterator

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
