"""The ``leadsync`` command: parses arguments, calls the library, maps errors to exit codes.

No sync logic lives here. Exit codes (documented in the README):
0 every response applied or already in place; 3 some responses parked as failed, or a
form paused because its campaign cannot take members;
4 stopped at the Salesforce API budget or limit, state intact; 1 any other abort;
2 usage or configuration error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from connector import __version__
from connector.core.bulk_plan import DEFAULT_BATCH_SIZE, DEFAULT_THRESHOLD, MAX_BATCH_SIZE
from connector.cli.common import METHODS, config_option, handle_errors
from connector.core.model import Method


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadsync")
def main() -> None:
    """Move HubSpot form submissions into Salesforce by your lead management method.

    Methods: poi (every response a new Lead), hybrid (a new Lead unless an open Lead
    exists), unique (a new Lead only if neither a Lead nor a Contact exists).
    """


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Pull, resolve and decide for real; write nothing "
              "to Salesforce or to the state; print the plan.")
@click.option("--method", type=click.Choice(METHODS), help="Override the configured method "
              "(to preview another method on the same responses with --dry-run).")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@handle_errors
def sync(config: str | None, dry_run: bool, method: str | None, as_json: bool) -> None:
    """Run one sync: pull new responses, decide, write, record."""
    from connector.commands.sync import run_sync
    from connector.config.settings import load_settings
    from connector.render.progress import RunProgress
    from connector.render.run import render

    settings = load_settings(config)
    # A bar on a terminal, else a line every 10 s on stderr (stdout keeps the report).
    with RunProgress(stream=sys.stderr, tty=sys.stderr.isatty(), label="sync",
                     batch_size=settings.sync.batch_size) as shown:
        report = run_sync(settings, dry_run=dry_run, method=Method(method) if method else None,
                          keep_details=dry_run or as_json, watcher=shown)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(render(report, detail=dry_run))
    sys.exit(report.exit_code)


@main.command()
@config_option
@click.option("--code", help="Only the parked responses with this error code.")
@click.option("--form", help="Only this form's: its id, or its config entry as campaigns[i].")
@click.option("--id", "conversion_id", help="Only this parked response.")
@click.option("--dry-run", is_flag=True, help="Show what retrying would do; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@handle_errors
def retry(*, config: str | None, code: str | None, form: str | None, conversion_id: str | None,
          dry_run: bool, as_json: bool) -> None:
    """Re-attempt the parked (failed) responses after you fixed their cause.

    All of them, or those --code, --form and --id select. Works while a daemon runs: it
    waits for the daemon's run in progress to finish (never two writers at once).
    """
    from connector.commands.parked import run_retry, selection
    from connector.config.settings import load_settings
    from connector.render.run import render

    from connector.render.progress import RunProgress

    settings = load_settings(config)
    chosen = selection(settings, code=code, form=form, id=conversion_id)
    with RunProgress(stream=sys.stderr, tty=sys.stderr.isatty(), label="retry",
                     batch_size=settings.sync.batch_size) as shown:
        report = run_retry(settings, dry_run=dry_run, chosen=chosen, watcher=shown,
                           waiting=lambda holder: click.echo(
                               f"waiting for the state's writer lock, held by {holder}", err=True))
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else render(report, detail=True))
    sys.exit(report.exit_code)


@main.command()
@config_option
@click.option("--since", required=True, help="Start of the history by submission time: an ISO "
              "date or datetime (UTC unless it says), or an age such as 7d. Pulled for every form, whatever its watermark.")
@click.option("--dry-run", is_flag=True, help="Pull, resolve and decide for real; write nothing; "
              "print the plan.")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.option("--bulk-threshold", type=click.IntRange(min=0), default=DEFAULT_THRESHOLD,
              show_default=True,
              help="Write a batch's Leads or members through Bulk API 2.0 when there are more "
              "than this many (fewer go through sObject Collections, as in sync).")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=DEFAULT_BATCH_SIZE,
              show_default=True,
              help="Responses per batch (a sync's are at most 2,000).")
@handle_errors
def backfill(*, config: str | None, since: str, dry_run: bool, as_json: bool, bulk_threshold: int,
             batch_size: int) -> None:
    """First sync of a large history: same decisions and ledger as sync, big writes in Bulk.

    Exit codes as for sync; a rerun is a no-op (the ledger holds every response).
    """
    from connector.commands.backfill import run_backfill
    from connector.render.backfill import render_bulk
    from connector.config.settings import load_settings
    from connector.render.run import render

    from connector.render.progress import RunProgress

    settings = load_settings(config)
    with RunProgress(stream=sys.stderr, tty=sys.stderr.isatty(), label="backfill",
                     batch_size=batch_size) as shown:
        result = run_backfill(settings, since=since, dry_run=dry_run, bulk_threshold=bulk_threshold,
                              batch_size=batch_size, keep_details=as_json, watcher=shown)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(render(result.report, detail=dry_run))
        click.echo(render_bulk(result))
    sys.exit(result.report.exit_code)


@main.command()
@click.option("--method", type=click.Choice(METHODS + ["all"]), default="all", show_default=True,
              help="Which method(s) to demonstrate, each on a fresh copy of the same world.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the demo's SQLite state here (default: a temporary folder).")
@handle_errors
def demo(method: str, state_dir: Path | None) -> None:
    """Run a sync against the built-in sandbox with a small realistic world, offline."""
    from connector.commands.demo import run_demo

    methods = list(Method) if method == "all" else [Method(method)]
    code = run_demo(methods, state_dir, click.echo)
    # Parked junk is the demo working as intended, not a failure of the demo.
    sys.exit(0 if code in (0, 3) else code)


@main.group()
def sandbox() -> None:
    """The local Salesforce + HubSpot API emulator (not a vendor API)."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--token", default="sandbox", show_default=True,
              help="Bearer token both APIs accept.")
@click.option("--data", "data", type=click.Path(exists=True, dir_okay=False),
              help="JSON dataset to load at start (see GET /_sandbox/dump).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for fault injection.")
@click.option("--latency-ms", default=0, show_default=True, type=int, help="Added latency per call.")
@click.option("--error-rate", default=0.0, show_default=True, type=float,
              help="Share of calls answered 500/503.")
@handle_errors
def sandbox_serve(*, host: str, port: int, token: str, data: str | None, seed: int, latency_ms: int,
                  error_rate: float) -> None:
    """Serve both APIs on one port until SIGINT/SIGTERM."""
    from connector.commands.sandbox_serve import serve_sandbox

    try:
        serve_sandbox(host=host, port=port, token=token, data=data, seed=seed,
                      latency_ms=latency_ms, error_rate=error_rate, echo=click.echo)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@main.command()
@config_option
@click.option("--interval", default="5m", show_default=True,
              help="Time between runs: 30s, 5m, 1h (a little jitter is added; failures back off).")
@click.option("--once", is_flag=True, help="Run one sync and exit with its exit code (for cron or "
              "a Kubernetes CronJob).")
@click.option("--log-format", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="One line per run: words, or JSON lines for a log shipper.")
@click.option("--http", "http", metavar="HOST:PORT", help="Serve /healthz (200 or 503, as status "
              "--check) and /metrics (Prometheus) on this address, e.g. :8080.")
@handle_errors
def daemon(*, config: str | None, interval: str, once: bool, log_format: str, http: str | None) -> None:
    """Sync at start and then every interval, until SIGTERM/SIGINT.

    Holds the state lock for its whole life (a second daemon is refused, naming this one's
    pid and host). A stop request finishes the batch in flight, records it, and exits 0.
    """
    from connector.config.settings import load_settings
    from connector.commands.daemon import parse_interval, serve

    seconds = parse_interval(interval)
    address = None
    if http is not None:
        from connector.commands.health import parse_http

        address = parse_http(http)
    settings = load_settings(config)
    sys.exit(serve(settings, interval_seconds=seconds, once=once, log_format=log_format,
                   emit=click.echo, http=address))


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON (for monitoring).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML page people read (names read from the APIs "
              "when they answer, else the cached ones; owner-only).")
@click.option("--check", is_flag=True, help="Print \"ok\" and exit 0 when healthy; else one line "
              "per reason (stale, aborted, budget, new_parked) and exit 3. For cron and monitors.")
@handle_errors
def status(config: str | None, as_json: bool, html_path: Path | None, check: bool) -> None:
    """Sync health from the local state: last runs, watermarks, parked failures, API usage,
    and whether a daemon holds the lock. Makes no API call, so needs no token."""
    from connector.config.settings import load_settings
    from connector.commands.status import gather, write_html
    from connector.render.status_text import render_text
    from connector.render.status_html import render_html

    settings = load_settings(config, require_secrets=False)
    if check:
        from connector.commands.health import CHECK_EXIT_CODE, read_health

        health = read_health(settings)
        click.echo("\n".join(health.lines()))
        sys.exit(0 if health.ok else CHECK_EXIT_CODE)
    summary = gather(settings, refresh_names=html_path is not None)
    if html_path is not None:
        write_html(html_path, render_html(summary))
    click.echo(json.dumps(summary, indent=2) if as_json else render_text(summary))


@main.command()
@config_option
@click.option("--since", help="Start of the window by submission time: an ISO date or datetime "
              "(UTC unless it says), or an age such as 7d. Default: 30 days ago.")
@click.option("--fix", is_flag=True, help="Repair what is safe (missed responses, lost memberships "
              "on surviving records, unresponded statuses), after a preview.")
@click.option("--yes", is_flag=True, help="With --fix: do not ask (needed when there is no terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def reconcile(*, config: str | None, since: str | None, fix: bool, yes: bool, as_json: bool) -> None:
    """Compare HubSpot, the ledger and Salesforce over a window; report drift by category.

    Exit 0 when clean, 3 when drift remains.
    """
    from connector.config.settings import load_settings
    from connector.commands.reconcile import reconcile as run_reconcile

    settings = load_settings(config)
    ask = (lambda q: click.confirm(q, default=False, err=True)) if _can_ask() else None
    sys.exit(run_reconcile(settings, since=since, fix=fix, yes=yes, confirm=ask, echo=click.echo,
                           as_json=as_json))


def _can_ask() -> bool:
    """Whether a person is there to confirm a change (a terminal on stdin)."""
    return sys.stdin.isatty()


@main.command()
@config_option
@click.option("--since", required=True, help="Start of the window by submission time: an ISO "
              "date or datetime (UTC unless it says), or an age such as 7d.")
@click.option("--methods", default="poi,hybrid,unique", show_default=True,
              help="Comma-separated methods to compare.")
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False),
              help="Another configuration (a new mapping, routing or scoring) for the same "
              "org: its decisions side by side with this one's.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML report (owner-only) for people to read.")
@handle_errors
def whatif(*, config: str | None, since: str, methods: str, against: str | None,
           as_json: bool, html_path: str | None) -> None:
    """Decide the window's responses under each method, side by side; write nothing.

    One set of lookups serves every method (and the --against configuration, when it asks
    for no other records); what leadsync made for these responses is left out, so the
    answer is the same before and after the sync.
    """
    from connector.commands.whatif import run_whatif
    from connector.config.settings import load_settings
    from connector.errors import ConfigError
    from connector.render.whatif import to_text

    try:
        chosen = [Method(m.strip()) for m in methods.split(",") if m.strip()]
    except ValueError:
        raise ConfigError(f"one of {', '.join(METHODS)}, comma-separated", key="--methods") from None
    if not chosen:
        raise ConfigError(f"one of {', '.join(METHODS)}, comma-separated", key="--methods")
    result = run_whatif(load_settings(config), since=since, methods=chosen, against=against,
                        config=config or "", names=html_path is not None)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else to_text(result))
    if html_path:
        from connector.render.whatif_html import write_html

        click.echo(f"HTML report written to {write_html(result, html_path)}", err=True)


@main.command()
@config_option
@click.option("--since", help="Start of the window by submission time: an ISO date or "
              "datetime (UTC unless it says); default 30 days.")
@click.option("--by", "by", type=click.Choice(["campaign", "form", "owner", "method"]),
              default="campaign", show_default=True, help="What each row is.")
@click.option("--json", "as_json", is_flag=True, help="Print the funnel as JSON.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write a self-contained HTML report (owner-only).")
@click.option("--target-opportunities", type=click.IntRange(min=1),
              help="Plan: the sales-ready leads and responses each row needs for N Opportunities.")
@click.option("--target-revenue", type=click.FloatRange(min=0, min_open=True),
              help="Plan: the sales-ready leads and responses each row needs for this won revenue.")
@click.option("--min-people", type=click.IntRange(min=1), default=20, show_default=True,
              help="Plan only from rates measured over at least this many people.")
@handle_errors
def funnel(*, config: str | None, since: str | None, by: str, as_json: bool,
           html_path: str | None, target_opportunities: int | None,
           target_revenue: float | None, min_people: int) -> None:
    """From responses to won deals, per campaign (or form, owner, method).

    Responses, people, new Leads and attached, sales-ready (a follow-up Task or a sales-ready
    form), accepted (Task closed or Lead Status moved on), converted, Opportunities, won;
    the rate and median time of each step, and the accounts whose people responded. Reads
    the ledger and a bounded number of Salesforce queries; writes nothing. With a target,
    works back through each row's measured rates (no plan from fewer than --min-people).
    """
    from connector.commands.funnel import run_funnel
    from connector.config.settings import load_settings
    from connector.core.funnel import plan
    from connector.errors import ConfigError
    from connector.render.funnel import plan_text, to_text

    if target_opportunities is not None and target_revenue is not None:
        raise ConfigError("give one target: --target-opportunities or --target-revenue",
                          key="--target-revenue")
    result, calls = run_funnel(load_settings(config), since=since, by=by)
    lead_plan = (plan(result, opportunities=target_opportunities, revenue=target_revenue,
                      min_people=min_people)
                 if target_opportunities is not None or target_revenue is not None else None)
    if as_json:
        data = result.to_json()
        if lead_plan is not None:
            data["plan"] = lead_plan.to_json()
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(to_text(result, calls))
        if lead_plan is not None:
            click.echo(plan_text(lead_plan))
    if html_path:
        from connector.render.funnel_html import write_html

        click.echo(f"HTML report written to {write_html(result, html_path, lead_plan)}", err=True)


# -- mappings --------------------------------------------------------------------------

@main.group()
def mappings() -> None:
    """Field mappings (mappings/*.toml): check one against the org."""


@mappings.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@handle_errors
def mappings_check(config: str | None, as_json: bool) -> None:
    """Check the configured mapping against the org's describe of Lead and Contact.

    Fields exist and are writable, lengths, picklist values; one line per problem, with the
    mapping file's line. The config's [routing.stages] statuses and date field are checked
    against the Lead too, and with [routing.tasks] whether Task carries the response-id field
    that keeps a follow-up Task to one. Each [[campaigns]] entry's campaign must exist, be
    active and hold the entry's member_status (else its form pauses in a sync). Exit 0 when
    clean (warnings allowed), 3 when errors are found.
    """
    from connector.commands.mappings_check import check
    from connector.config.settings import load_settings
    from connector.render.mappings_check import to_json, to_text

    report = check(load_settings(config))
    click.echo(json.dumps(to_json(report), indent=2) if as_json else to_text(report))
    sys.exit(report.exit_code)


# -- commands that live in their own modules -------------------------------------------
# A new command goes in connector/cli/<name>.py (parse and call only, like the ones above)
# and is added here, one line each, so this module stays the index of the CLI.
from connector.cli.writeback import writeback as _writeback; main.add_command(_writeback)  # noqa: E402
from connector.cli.parked import parked as _parked; main.add_command(_parked)  # noqa: E402
from connector.cli.lifecycle import lifecycle as _lifecycle; main.add_command(_lifecycle)  # noqa: E402
from connector.cli.score import score as _score; main.add_command(_score)  # noqa: E402
