"""Views of the lifecycle: a pass's report (text for the dry run, JSON), and the per-owner
figures ``status`` shows (``connector.core.lifecycle.figures``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from connector.core.lifecycle.clock import duration_text
from connector.core.lifecycle.figures import OwnerFigures
from connector.core.timefmt import iso_ms
from connector.engine.lifecycle import LifecycleReport

_VERBS = {"reassign": "reassign", "escalate": "escalate", "recycle": "recycle",
          "come_back": "come back", "touched": "touched", "exhausted": "breached",
          "close": "close"}


def report_text(report: LifecycleReport) -> str:
    head = "lifecycle dry run (nothing written)" if report.dry_run else "lifecycle pass"
    lines = [f"{head} at {iso_ms(report.now_ms)}: {report.watched} watched, "
             f"{report.taken_in} new hand-offs, {report.sf_calls} Salesforce calls"]
    for problem in report.problems:
        lines.append(f"  problem: {problem}")
    if report.replayed:
        lines.append(f"  finished {report.replayed} action(s) an earlier pass left pending")
    for line in report.actions:
        lines.append(f"  {_VERBS.get(line.kind, line.kind):<10} {line.lead_id}  {line.reason}")
    if not report.actions:
        lines.append("  no action: every watched hand-off is within its SLA or done")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
    lines.append(f"  {counts or 'nothing watched'}")
    if report.failed:
        lines.append(f"  {report.failed} action(s) failed; the next pass decides them again")
    if report.status != "ok":
        lines.append(f"  {report.status}: {report.error or 'stopped early'}")
    return "\n".join(lines)


def report_json(report: LifecycleReport) -> dict[str, Any]:
    return {"run_id": report.run_id, "at": iso_ms(report.now_ms), "dry_run": report.dry_run,
            "status": report.status, "error": report.error, "watched": report.watched,
            "taken_in": report.taken_in, "replayed": report.replayed, "failed": report.failed,
            "counts": dict(sorted(report.counts.items())), "sf_calls": report.sf_calls,
            "problems": [{"key": p.key, "message": p.message} for p in report.problems],
            "actions": [asdict(a) for a in report.actions]}


def figures_json(figures: list[OwnerFigures]) -> list[dict[str, Any]]:
    return [asdict(f) for f in figures]


def figures_text(figures: list[OwnerFigures]) -> str:
    """The per-owner table of ``status``: hand-offs, time to first touch, SLA share, breaches."""
    if not figures:
        return ""
    lines = ["Lead lifecycle (per owner at hand-off):",
             f"  {'owner':<20} {'hand-offs':>9} {'1st touch':>10} {'in SLA':>7} {'breaches':>8} "
             f"{'reassigned':>10} {'recycled':>8} {'came back':>9}"]
    for f in figures:
        median = duration_text(f.median_first_touch_seconds) \
            if f.median_first_touch_seconds is not None else "-"
        share = f"{f.within_sla_share:.0%}" if f.within_sla_share is not None else "-"
        lines.append(f"  {f.owner:<20} {f.handoffs:>9} {median:>10} {share:>7} {f.breaches:>8} "
                     f"{f.reassignments:>10} {f.recycled:>8} {f.came_back:>9}")
    return "\n".join(lines)


def figures_text_from_json(rows: list[dict[str, Any]]) -> str:
    """:func:`figures_text` of ``status``'s JSON rows (the text view renders the summary)."""
    return figures_text([OwnerFigures(**row) for row in rows])
