"""What the status adds for people: names, links, local times, a headline, days without gaps.

Pure: the summary :func:`connector.commands.status.summarize` made, the ledger's rows as
:mod:`connector.adapters.sqlite.status_reads` reads them, the names and the moment the page
is made go in; plain data comes out, added to the summary under new keys (the old keys keep
their meaning: monitoring reads them). Text, JSON and HTML all render these, so the three
agree on every name, time and word.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connector.commands.status_names import StatusNames
from connector.core.counts import OUTCOMES
from connector.core.ids import SF_ID
from connector.core.refusals import CATEGORIES

CHART_DAYS = 30        # the chart's window, ending today in the configured zone
LINE = 140             # an error's one line, in characters

# Advice for the codes leadsync itself parks (Salesforce's own are in core.refusals).
LOCAL_ADVICE: Mapping[str, tuple[str, str]] = {
    "MISSING_EMAIL": ("no email", "the submission has no email address, so there is no one to "
                      "create or attach: nothing to fix in leadsync; dismiss it with "
                      "`leadsync parked dismiss --id ID --note TEXT`"),
    "INVALID_EMAIL": ("unusable email", "the address is not one Salesforce would take (a typo, a "
                      "test entry): correct the contact in HubSpot and run `leadsync retry`, or "
                      "dismiss it with `leadsync parked dismiss --id ID --note TEXT`"),
    "INVALID_INPUT": ("unreadable answer", "a form answer could not be turned into the mapped "
                      "field: adjust the mapping's transforms, then run `leadsync retry`"),
}
GENERIC_ADVICE = ("other", "read the error on each record; once its cause is fixed in "
                  "Salesforce, HubSpot or the configuration, run `leadsync retry`")
GOOD = ("ok", "partial", "stopped")


def advice_for(code: str) -> tuple[str, str]:
    """(category, what to do) for a parked code."""
    if code in CATEGORIES:
        return CATEGORIES[code].name, CATEGORIES[code].advice
    return LOCAL_ADVICE.get(code, GENERIC_ADVICE)


def ago(seconds: float) -> str:
    """An age as people say it: "just now", "4 min ago", "3 h ago", "2 days ago"."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def one_line(text: str | None, width: int = LINE) -> str:
    """An error's first line, cut to ``width`` characters ("…" when cut)."""
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = re.sub(r"\s+", " ", first)
    cut = len(first) > width or "\n" in text.strip()
    return (first[:width - 1] + "…") if len(first) > width else first + (" …" if cut else "")


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def local(text_or_ms: str | int | None, zone: ZoneInfo) -> str | None:
    """An ISO moment or epoch ms -> "2026-12-03 09:12 CET" in the zone (None stays None)."""
    if text_or_ms is None:
        return None
    moment = (datetime.fromtimestamp(text_or_ms / 1000, tz=zone) if isinstance(text_or_ms, int)
              else _moment(text_or_ms))
    if moment is None:
        return None
    moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or str(zone))


class Links:
    """Where a person opens a record: Salesforce by instance URL and Id, HubSpot by the
    portal's form page (known once the names were read from the API)."""

    def __init__(self, instance_url: str, names: StatusNames) -> None:
        self.instance = instance_url.rstrip("/")
        self.names = names

    def record(self, sf_id: str | None) -> str | None:
        return f"{self.instance}/{sf_id}" if sf_id and SF_ID.match(sf_id) else None

    def form(self, form_id: str) -> str | None:
        if not self.names.portal_id:
            return None
        domain = self.names.ui_domain or "app.hubspot.com"
        return (f"https://{quote(domain, safe='.-')}/forms/{self.names.portal_id}/editor/"
                f"{quote(form_id, safe='-')}/submissions")


def headline(summary: Mapping[str, Any], now: datetime) -> str:
    """"last good run 4 min ago; 2 parked need you" (and the last run's trouble, if any)."""
    parts = []
    good = _moment(summary.get("last_good_run_at"))
    parts.append(f"last good run {ago((now - good).total_seconds())}" if good else "no good run yet")
    last = summary.get("last_run")
    if last and last["status"] not in GOOD and last["status"] != "running":
        when = _moment(last.get("finished_at") or last.get("started_at"))
        parts.append(f"last run {last['status']}" + (f" {ago((now - when).total_seconds())}" if when else ""))
    parked = int(summary["parked"]["total"])
    parts.append(f"{parked} parked need{'s' if parked == 1 else ''} you" if parked else "nothing parked")
    return "; ".join(parts)


def chart_window(zone: ZoneInfo, now: datetime, newest_ms: int | None, *,
                 days: int = CHART_DAYS) -> tuple[date, date]:
    """The chart's first and last local day: the ``days`` up to today, or, when the newest
    response recorded is older than that (a quiet or stopped connector), up to its day, so
    the page shows the last activity rather than an empty month."""
    last = now.astimezone(zone).date()
    if newest_ms is not None:
        newest = datetime.fromtimestamp(newest_ms / 1000, tz=zone).date()
        if newest < last - timedelta(days=days - 1):
            last = newest
    return last - timedelta(days=days - 1), last


def continuous_days(quarters: Iterable[Mapping[str, Any]], zone: ZoneInfo,
                    window: tuple[date, date]) -> list[dict[str, Any]]:
    """Responses per local day and outcome, every day of the window listed (a day without
    responses is an empty day, not a missing one)."""
    first, last = window
    out = {first + timedelta(days=i): dict.fromkeys(OUTCOMES, 0)
           for i in range((last - first).days + 1)}
    for row in quarters:
        day = datetime.fromtimestamp(int(row["start_ms"]) / 1000, tz=zone).date()
        if day in out:
            out[day][str(row["outcome"])] = out[day].get(str(row["outcome"]), 0) + int(row["n"])
    return [{"day": day.isoformat(), "counts": counts} for day, counts in out.items()]


def since_ms(zone: ZoneInfo, first: date) -> int:
    """The first moment of a local day (the chart's read starts there)."""
    return int(datetime(first.year, first.month, first.day, tzinfo=zone).timestamp() * 1000)


def people_view(summary: Mapping[str, Any], *, now: datetime, zone_name: str, names: StatusNames,
                instance_url: str, quarters: Iterable[Mapping[str, Any]],
                forms: Iterable[Mapping[str, Any]], owners: Iterable[Mapping[str, Any]],
                parked: Sequence[Mapping[str, Any]],
                window: tuple[date, date]) -> dict[str, Any]:
    """The new keys: names, links, local times, headline, per-form counts, parked groups."""
    zone = ZoneInfo(zone_name)
    links = Links(instance_url, names)
    by_form: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for row in forms:
        by_form[str(row["form_id"])][str(row["outcome"])] += int(row["n"])
    form_rows = []
    for mark in summary["watermarks"]:
        form_id, campaign_id = mark["form_id"], mark["campaign_id"]
        form_rows.append({
            "form_id": form_id, "form_name": names.form(form_id), "form_url": links.form(form_id),
            "campaign_id": campaign_id, "campaign_name": names.campaign(campaign_id),
            "campaign_url": links.record(campaign_id), "counts": dict(by_form[form_id]),
            "newest_local": local(mark["watermark_ms"], zone)})
    return {
        "generated_at": now.astimezone(zone).isoformat(timespec="seconds"),
        "timezone": zone_name,
        "headline": headline(summary, now),
        "names": {"source": names.source, "note": names.note,
                  "read_at": names.read_at.isoformat(timespec="seconds") if names.read_at else None,
                  "read_ago": ago((now - names.read_at).total_seconds()) if names.read_at else None,
                  "forms": dict(names.forms), "campaigns": dict(names.campaigns),
                  "owners": dict(names.owners)},
        "links": {"salesforce": links.instance, "hubspot_portal": names.portal_id},
        "forms": form_rows,
        "owners": [{"owner_id": r["owner_id"], "name": names.owner(str(r["owner_id"])),
                    "url": links.record(str(r["owner_id"])), "responses": int(r["n"])}
                   for r in owners],
        "parked_groups": _parked_groups(parked, names, links, zone, totals={
            p["error_code"]: p["count"] for p in summary["parked"]["by_reason"]}),
        "days": continuous_days(quarters, zone, window),
        "run_rows": [_run_row(r, zone, now) for r in summary["runs"]],
    }


def _run_row(run: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> dict[str, Any]:
    started = _moment(run.get("started_at"))
    return {"run_id": run["run_id"], "status": run["status"],
            "started_local": local(run.get("started_at"), zone),
            "started_ago": ago((now - started).total_seconds()) if started else None,
            "error_line": one_line(run.get("error")) or None}


def _parked_groups(rows: Sequence[Mapping[str, Any]], names: StatusNames, links: Links,
                   zone: ZoneInfo, *, totals: Mapping[str, int]) -> list[dict[str, Any]]:
    """Parked records by code, most first, each group with its advice; ``count`` is the
    code's whole count (the records listed may be fewer: the read is bounded)."""
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[str(row.get("error_code") or "UNKNOWN")].append(row)
    out = []
    for code, members in sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        category, advice = advice_for(code)
        out.append({"error_code": code, "category": category, "advice": advice,
                    "count": max(len(members), int(totals.get(code, 0))), "records": [{
                        "conversion_id": r["conversion_id"], "form_id": r["form_id"],
                        "form_name": names.form(str(r["form_id"])),
                        "form_url": links.form(str(r["form_id"])),
                        "submitted_local": local(int(r["submitted_at"]), zone),
                        "record_url": links.record(r.get("lead_id") or r.get("contact_id")),
                        "error": r.get("error"), "error_line": one_line(r.get("error")),
                        "attempts": int(r.get("attempts") or 0)} for r in members]})
    return out
