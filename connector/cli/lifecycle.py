"""``leadsync lifecycle --config F [--dry-run] [--json]``: one pass after the hand-off."""

from __future__ import annotations

import json
import sys

import click

from connector.cli.common import config_option, handle_errors


@click.command("lifecycle")
@config_option
@click.option("--dry-run", is_flag=True, help="List each action with its reason; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the pass's report as JSON.")
@handle_errors
def lifecycle(config: str | None, dry_run: bool, as_json: bool) -> None:
    """Watch what sales does with the hand-offs: reassign or escalate a breach of the SLA,
    recycle a Lead a rep sends back to marketing, and bring it back on its date ([lifecycle]).
    Exit 0; 4 when it stopped at the API budget share (as a sync does); 1 when it was
    interrupted (a lost reply: the next pass finishes it)."""
    from connector.commands.lifecycle import run
    from connector.config.settings import load_settings
    from connector.render.lifecycle import report_json, report_text

    report = run(load_settings(config), dry_run=dry_run)
    click.echo(json.dumps(report_json(report), indent=2) if as_json else report_text(report))
    sys.exit({"ok": 0, "stopped": 0, "budget": 4}.get(report.status, 1))
