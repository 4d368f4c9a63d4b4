"""A state made by real syncs against the sandbox, shaped for the status page's tests: two
forms (one named with markup), responses on days with a gap between them, a parked
response, and a last run that aborted with a long multi-line error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner

from connector.adapters.sqlite.ledger import State
from connector.cli import main
from connector.sandbox import Sandbox
from sync_helpers import T0, Org

DAY = 86_400_000
EVIL = 'Demo <script>alert("x")</script> & "Trials"'
LONG_ERROR = "\n".join(["Salesforce refused the query: MALFORMED_QUERY: unexpected token: 'FROM'"]
                       + [f"  SELECT Id, Email, Company, LeadSource FROM Lead WHERE Email IN (... line {i})"
                          for i in range(40)])
TOKEN = "tok-status-people-5be1"


@dataclass
class World:
    org: Org
    config: Path
    tmp: Path
    jane: str
    inbound: str


def write_world_config(org: Org, path: Path) -> Path:
    """The org's config with Berlin time and owner rules: the second form's responses go to
    Jane, the rest to the Inbound Leads queue."""
    org.write_config(path)
    with path.open("a") as handle:
        handle.write('[routing]\ntimezone = "Europe/Berlin"\nmode = "rules"\n'
                     'default_owner = "queue:Inbound_Leads"\n'
                     f'[[routing.rules]]\nowner = "user:jane@acme.example"\nform = ["{org.forms[1]}"]\n')
    return path


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with Sandbox(token=TOKEN) as sandbox:
        org = Org(sandbox, tmp_path / "leadsync.db")
        org.forms.append(org.hs.create_form(EVIL))
        org.campaigns.append(org.sf.insert("Campaign", {"Name": "Spring webinar", "IsActive": True}))
        org.forms.append(org.hs.create_form("Contact sales"))
        org.campaigns.append(org.sf.insert("Campaign", {"Name": "Website", "IsActive": True}))
        store = sandbox.app.salesforce.store
        jane = store.add_user("Doe", first_name="Jane", username="jane@acme.example")
        inbound = store.add_queue("Inbound Leads", developer_name="Inbound_Leads")
        config = write_world_config(org, tmp_path / "leadsync.toml")
        runner = CliRunner()
        # day 0 and day 1, then nothing on days 2 and 3, then day 4
        for day, fills in ((0, [(0, "ann@acme.example"), (1, "bo@beta.example")]),
                           (1, [(0, "cy@gamma.example")]),
                           (4, [(1, "di@delta.example"), (0, "not-an-email")])):
            org.clock = T0 + day * DAY
            for form, email in fills:
                org.fill(form, email, lastname="X", company="Acme")
            result = runner.invoke(main, ["sync", "--config", str(config)], env=org.env())
            assert result.exit_code in (0, 3), result.output
        state = State.open(org.state_path)
        try:
            state.start_run("run-aborted-1", "hybrid", False)
            state.finish_run("run-aborted-1", "aborted", {}, LONG_ERROR)
        finally:
            state.close()
        yield World(org, config, tmp_path, jane, inbound)
