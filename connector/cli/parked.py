"""``leadsync parked list|dismiss``: parse, call ``commands/parked``, render (``render/parked``)."""

from __future__ import annotations

import click

from connector.cli.common import config_option, handle_errors


@click.group()
def parked() -> None:
    """Parked (failed) responses: list them, dismiss known junk with a note.

    Retry them with `leadsync retry [--code C] [--form F] [--id ID]`; the daemon retries
    transient ones (a locked record, a Salesforce outage) by itself, with backoff.
    """


@parked.command("list")
@config_option
@click.option("--code", help="Only this error code (e.g. DUPLICATES_DETECTED).")
@click.option("--form", help="Only this form: its id, or its config entry as campaigns[i].")
@click.option("--email", help="Only this person's responses (case-insensitive).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (every column) for a spreadsheet.")
@click.option("--all", "include_dismissed", is_flag=True, help="Include dismissed responses.")
@handle_errors
def parked_list(*, config: str | None, code: str | None, form: str | None, email: str | None,
                as_csv: bool, include_dismissed: bool) -> None:
    """What is parked and why, oldest first. Reads the state only (works while a daemon runs)."""
    from connector.commands.parked import list_parked, selection
    from connector.config.settings import load_settings
    from connector.render.parked import to_csv, to_text

    settings = load_settings(config, require_secrets=False)
    found = list_parked(settings, selection(settings, code=code, form=form, email=email),
                        include_dismissed=include_dismissed)
    click.echo(to_csv(found) if as_csv else to_text(found), nl=not as_csv)


@parked.command("dismiss")
@config_option
@click.option("--id", "conversion_id", required=True, help="The parked response's id (parked list).")
@click.option("--note", required=True, help="Why: kept with who dismissed it and when.")
@handle_errors
def parked_dismiss(config: str | None, conversion_id: str, note: str) -> None:
    """Dismiss known junk: kept with its note, never retried, not drift for reconcile."""
    from connector.commands.parked import dismiss
    from connector.config.settings import load_settings

    done = dismiss(load_settings(config, require_secrets=False), conversion_id, note,
                   waiting=_waiting)
    click.echo(f"dismissed {done.conversion_id} ({done.error_code}) by {done.by}")


def _waiting(holder: str) -> None:
    click.echo(f"waiting for the state's writer lock, held by {holder}", err=True)
