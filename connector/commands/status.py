"""``leadsync status``: the admin's view of sync health, from the local state alone.

HubSpot's Sync Health and Marketo's Sync Status pages answer the same questions: is it
running, is it keeping up, what failed and why, how much of the org's API allowance does it
spend. Everything here comes from the SQLite state (runs, watermarks, parked rows) and the
lock file, so the text and ``--json`` make no API call, cost nothing against the org's limit,
need no token (the CLI loads the config with ``require_secrets=False``), and work while a
daemon holds the lock. The ``--html`` page for people also asks the APIs for the names of
forms, campaigns and owners, and falls back to the copy cached in the state when they cannot
be asked (:mod:`connector.commands.status_names`).

:func:`summarize` is pure (plain rows in, a plain dict out) and is what ``--json`` prints;
:func:`gather` is the adapter that reads the rows and adds what people read (names, links,
local times, the headline: :mod:`connector.commands.status_view`); the renderers are in
``connector/render/status_text.py`` and ``status_html.py``; :func:`write_html` puts
``--html``'s page on disk.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from connector.core.counts import OUTCOMES, RUN_COUNTS
from connector.config.settings import Settings
from connector.core.timefmt import iso_ms as _iso_ms
from connector.render.html_file import write_private


# How far back ``status`` counts the answers the mapping left out (by when they were synced).
LEFT_OUT_WINDOW = timedelta(days=7)


def summarize(*, runs: Sequence[Mapping[str, Any]], watermarks: Mapping[str, int],
              parked: Sequence[Mapping[str, Any]], daily: Sequence[Mapping[str, Any]],
              lock_holder: str | None, campaigns: Iterable[tuple[str, str]],
              budget_share: float, state_path: str) -> dict[str, Any]:
    """The status report as plain data (stable keys: monitoring reads them)."""
    run_items = [_run(r) for r in runs]
    usage_run = next((r for r in runs if r.get("api_limit")), None)
    usage = None
    if usage_run is not None:
        used, limit = int(usage_run["api_used"] or 0), int(usage_run["api_limit"])
        usage = {"used": used, "limit": limit, "share": round(used / limit, 4),
                 "budget_share": budget_share, "over_budget": used / limit >= budget_share,
                 "seen_at": usage_run.get("finished_at") or usage_run.get("started_at"),
                 "run_id": usage_run["id"]}
    totals = {o: 0 for o in OUTCOMES}
    for row in daily:
        totals[row["outcome"]] = totals.get(row["outcome"], 0) + int(row["n"])
    last_ok = next((r for r in run_items if r["status"] in ("ok", "partial", "stopped")), None)
    return {
        "state": state_path,
        "daemon": {"running": lock_holder is not None, "lock_holder": lock_holder},
        "last_run": run_items[0] if run_items else None,
        "last_good_run_at": last_ok["finished_at"] if last_ok else None,
        "runs": run_items,
        "watermarks": [{"form_id": form, "campaign_id": campaign,
                        "watermark_ms": watermarks.get(form),
                        "watermark": _iso_ms(watermarks.get(form))} for form, campaign in campaigns],
        "ledger": totals,
        "parked": {"total": sum(int(p["n"]) for p in parked),
                   "by_reason": [{"error_code": p.get("error_code") or "UNKNOWN", "count": int(p["n"]),
                                  "example": p.get("example")} for p in parked]},
        "salesforce_api": usage,
        "daily": [dict(r) for r in daily],
    }


def _run(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "run_id": row["id"], "started_at": row.get("started_at"), "finished_at": row.get("finished_at"),
        "seconds": _seconds(row.get("started_at"), row.get("finished_at")),
        "status": row.get("status"), "method": row.get("method"),
        "counts": {k.value: int(row.get(k) or 0) for k in RUN_COUNTS},
        "salesforce_calls": int(row.get("sf_calls") or 0), "hubspot_calls": int(row.get("hs_calls") or 0),
        "error": row.get("error"),
    }


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except ValueError:
        return None


def gather(settings: Settings, *, runs: int = 10, refresh_names: bool = False,
           now: datetime | None = None, vendors: Any = None) -> dict[str, Any]:
    """Read the state (read-only, never locked: a running daemon is not disturbed).

    ``refresh_names`` (the HTML page) asks the APIs for the names of forms, campaigns and
    owners and keeps them in the state's cache; without it the cached names are used and
    no API is called (:mod:`connector.commands.status_names`)."""
    from connector.adapters.sqlite import status_reads as reads
    from connector.adapters.sqlite.ledger import State
    from connector.commands.status_names import names_for_status
    from connector.commands.status_view import chart_window, people_view, since_ms

    now = now or datetime.now(timezone.utc)
    zone_name = settings.routing.timezone
    state = State.open_read_only(settings.state_path)
    try:
        holder = State.lock_holder_at(settings.state_path)
        from connector.adapters.sqlite.parked import last_run_warnings

        summary = summarize(runs=state.runs(runs), watermarks=state.watermarks(),
                            parked=state.park_summary(), daily=state.daily_outcomes(),
                            lock_holder=holder,
                            campaigns=[(c.form_id, c.campaign_id) for c in settings.campaigns],
                            budget_share=settings.salesforce.budget_share,
                            state_path=str(settings.state_path))
        # what the last run went on without (an owner fallen back, a form paused)
        summary["warnings"] = last_run_warnings(state.db)
        # answers the mapping could not place (a phone with no digits): a form to fix
        # (the state's own timestamp format, so the text compares as the moments do)
        since = (now - LEFT_OUT_WINDOW).astimezone(timezone.utc).isoformat(timespec="milliseconds")
        summary["left_out"] = {"since": since, "days": LEFT_OUT_WINDOW.days,
                               "by_field": reads.left_out_counts(state.db, since)}
        owners = reads.owner_counts(state.db)
        names = names_for_status(settings, state, owner_ids=[str(r["owner_id"]) for r in owners],
                                 refresh=refresh_names, now=now, vendors=vendors)
        zone = ZoneInfo(zone_name)
        newest = max((w["watermark_ms"] for w in summary["watermarks"] if w["watermark_ms"]),
                     default=None)
        window = chart_window(zone, now, newest)
        summary.update(people_view(
            summary, now=now, zone_name=zone_name, names=names, window=window,
            instance_url=settings.salesforce.instance_url,
            quarters=reads.quarter_outcomes(state.db, since_ms(zone, window[0])),
            forms=reads.form_outcomes(state.db), owners=owners,
            parked=reads.parked_records(state.db)))
        if settings.lifecycle is not None:   # [lifecycle]: per-owner figures
            from connector.commands.lifecycle import figures
            from connector.render.lifecycle import figures_json

            summary["lifecycle"] = figures_json(figures(state))
        return summary
    finally:
        state.close()


def write_html(path: Path, page: str) -> None:
    """Write the ``--html`` report owner-only and atomically (the writer every HTML report
    shares: :func:`connector.render.html_file.write_private`)."""
    write_private(path, page)
