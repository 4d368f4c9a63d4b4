"""The daemon's log lines: JSON for collectors, or one human line per event."""

from __future__ import annotations

import json
from typing import Any


def format_event(event: dict[str, Any], log_format: str) -> str:
    """A daemon event as one line: JSON, or words for a person reading the journal."""
    if log_format == "json":
        return json.dumps(event, sort_keys=True)
    kind = event.get("event")
    if kind != "run":
        details = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("ts", "event", "message"))
        return f"{event['ts']} {event.get('message') or kind}" + (f" ({details})" if details else "")
    c = event["counts"]
    usage = event["salesforce_api_usage"]
    parts = [f"{event['ts']} {event['run_id']} {event['status']}",
             f"pulled {c['pulled']}, created {c['created_leads']}, attached {c['attached']}, "
             f"already members {c['already_member']}, failed {c['failed']}, skipped {c['skipped']}",
             f"calls sf {event['salesforce_calls']} hs {event['hubspot_calls']}"
             + (f" (org usage {usage['used']}/{usage['limit']})" if usage else ""),
             f"{event['seconds']:.2f}s"]
    if event.get("error"):
        parts.append(f"error: {event['error']}")
    if event["consecutive_failures"]:
        parts.append(f"{event['consecutive_failures']} failed in a row, backing off")
    if event.get("next_run_in") is not None:
        parts.append(f"next in {_human_seconds(event['next_run_in'])}")
    return " · ".join(parts)


def _human_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
