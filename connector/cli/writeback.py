"""``leadsync writeback``: push Salesforce outcomes onto HubSpot contacts ([writeback])."""

from __future__ import annotations

import json

import click

from connector.cli.common import config_option, handle_errors


@click.command("writeback")
@config_option
@click.option("--dry-run", is_flag=True, help="Read Salesforce and HubSpot's properties; send nothing, "
              "record nothing; say how many contacts would change.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@handle_errors
def writeback(config: str | None, dry_run: bool, as_json: bool) -> None:
    """Write each handed-off person's Salesforce Id, type, Lead Status, owner and stage onto
    their HubSpot contact (only changed values; 100 contacts a call)."""
    from connector.commands.writeback import run_writeback
    from connector.config.settings import load_settings
    from connector.render.writeback import to_json, to_text

    report = run_writeback(load_settings(config), dry_run=dry_run)
    click.echo(json.dumps(to_json(report), indent=2) if as_json else to_text(report))
