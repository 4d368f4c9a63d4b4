"""The command line as users call it: exit codes, JSON, errors named by key, docs kept true."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.sandbox import Sandbox
from sync_helpers import Org

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def org(tmp_path):
    with Sandbox(token="tok-7f3a9c-very-secret") as sandbox:
        o = Org(sandbox, tmp_path / "leadsync.db")
        o.add_forms(2)
        yield o






def test_sync_json_and_exit_codes(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "bob@acme.example", lastname="Smith")
    org.fill(1, "bob@acme.example", lastname="Smith")
    runner = CliRunner()
    result = runner.invoke(main, ["sync", "--config", str(config), "--json"], env=org.env())
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["created_leads"] == 1 and report["counts"]["attached"] == 1
    assert org.sandbox.token not in result.output

    org.fill(0, "junk", lastname="X")
    result = runner.invoke(main, ["sync", "--config", str(config)], env=org.env())
    assert result.exit_code == 3
    assert "failed" in result.output and org.sandbox.token not in result.output


def test_dry_run_prints_the_plan(org, tmp_path):
    # --method poi previews poi: the config opts in to at-least-once poi (no external id field)
    config = org.write_config(tmp_path / "c.toml", sync={"poi_delivery": "at_least_once"})
    for form in (0, 1):
        org.fill(form, "bob@acme.example", lastname="Smith")
    result = CliRunner().invoke(main, ["sync", "--config", str(config), "--dry-run", "--method", "poi"],
                                env=org.env())
    assert result.exit_code == 0, result.output
    assert result.output.count("create lead") == 2
    assert "Dry run" in result.output and "why: poi" in result.output
    assert not org.state_path.exists()


def test_config_errors_exit_2_naming_the_key(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml", method="sometimes")
    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env=org.env())
    assert result.exit_code == 2
    assert "method" in result.output
    config = org.write_config(tmp_path / "c2.toml")
    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env={})
    assert result.exit_code == 2 and "salesforce.access_token" in result.output


def test_refused_token_is_exit_1_without_the_token(org, tmp_path):
    config = org.write_config(tmp_path / "c.toml")
    org.fill(0, "bob@acme.example")
    bad = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": "wrong-token-123", "LEADSYNC_HUBSPOT_ACCESS_TOKEN": org.sandbox.token}
    result = CliRunner().invoke(main, ["sync", "--config", str(config)], env=bad)
    assert result.exit_code == 1
    assert "INVALID_SESSION_ID" in result.output and "wrong-token-123" not in result.output


def test_every_command_has_help_and_a_readme_section():
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    commands = ["sync", "demo", "sandbox serve"]
    commands += [c for c in main.commands if c not in ("sandbox", "sync", "demo")]
    for command in commands:
        result = runner.invoke(main, command.split() + ["--help"])
        assert result.exit_code == 0 and "Usage" in result.output, command
        assert f"leadsync {command}" in readme, f"README has no section for leadsync {command}"


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    demo_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert demo_cmd.endswith("leadsync demo")
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
