"""``leadsync status``: the admin's view of sync health, from the local state alone.

HubSpot's Sync Health and Marketo's Sync Status pages answer the same questions: is it
running, is it keeping up, what failed and why, how much of the org's API allowance does it
spend. Everything here comes from the SQLite state (runs, watermarks, parked rows) and the
lock file, so ``status`` makes no API call, costs nothing against the org's limit, needs no
token (the CLI loads the config with ``require_secrets=False``), and works while a daemon
holds the lock.

:func:`summarize` is pure (plain rows in, a plain dict out) and is what ``--json`` prints;
:func:`gather` is the adapter that reads the rows; :func:`render_text` words it for a person;
:func:`write_html` puts ``--html``'s page on disk.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from connector.core.counts import OUTCOMES, RUN_COUNTS
from connector.config.settings import Settings
from connector.core.timefmt import iso_ms as _iso_ms


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


def gather(settings: Settings, *, runs: int = 10) -> dict[str, Any]:
    """Read the state (read-only, never locked: a running daemon is not disturbed)."""
    from connector.adapters.sqlite.ledger import State

    state = State.open_read_only(settings.state_path)
    try:
        holder = State.lock_holder_at(settings.state_path)
        summary = summarize(runs=state.runs(runs), watermarks=state.watermarks(),
                         parked=state.park_summary(), daily=state.daily_outcomes(),
                         lock_holder=holder,
                         campaigns=[(c.form_id, c.campaign_id) for c in settings.campaigns],
                         budget_share=settings.salesforce.budget_share,
                         state_path=str(settings.state_path))
        from connector.commands.lifecycle import figures   # [lifecycle]: per-owner figures
        from connector.render.lifecycle import figures_json
        if settings.lifecycle is not None:
            summary["lifecycle"] = figures_json(figures(state))
        return summary
    finally:
        state.close()


def write_html(path: Path, page: str) -> None:
    """Write the ``--html`` report owner-only (0600), like the state it is read from.

    The page names the org's forms, campaigns and parked responses' reasons: no secret,
    but nothing for every user of a shared host either. It is written beside ``path`` under
    a temporary name (``mkstemp`` creates it 0600 whatever the umask) and renamed over it,
    so a report a browser or a mailer picks up is never half-written, and an existing file
    of wider mode is replaced, not reused. An ``OSError`` names ``path``, not the temporary.
    """
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(page)
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
