"""``leadsync score [--dry-run]`` (the rescore) and ``leadsync score explain EMAIL``: parse and call."""

from __future__ import annotations

import json

import click

from connector.cli.common import config_option, handle_errors


@click.group("score", invoke_without_command=True)
@config_option
@click.option("--dry-run", is_flag=True, help="List who would cross the threshold; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handle_errors
def score(ctx: click.Context, config: str | None, dry_run: bool, as_json: bool) -> None:
    """Rescore everyone in the ledger ([scoring]): decay without new responses.

    Writes only the scores that changed (1,000 records a call), promotes a person who now
    reaches sales_ready as a sales-ready form would, and only reports a drop. --dry-run
    (e.g. after a change of rules) lists who would cross the threshold up or down.
    """
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    if ctx.invoked_subcommand is not None:
        return
    from connector.commands.score import score_command
    from connector.config.settings import load_settings
    from connector.render.score import rescore_json, rescore_text

    report = score_command(load_settings(config), dry_run=dry_run)
    click.echo(json.dumps(rescore_json(report), indent=2) if as_json else rescore_text(report))


@score.command("explain")
@click.argument("email")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the score as JSON.")
@click.pass_context
@handle_errors
def explain(ctx: click.Context, email: str, config: str | None, as_json: bool) -> None:
    """Show EMAIL's score: each point with its rule and date, decay applied, and the total."""
    from connector.commands.score import explain_command
    from connector.config.settings import load_settings
    from connector.render.score import explain_json, explain_text

    settings = load_settings(config or (ctx.obj or {}).get("config"))
    explained = explain_command(settings, email)
    click.echo(json.dumps(explain_json(explained), indent=2) if as_json else explain_text(explained))
