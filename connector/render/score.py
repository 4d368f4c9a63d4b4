"""Views of ``leadsync score``: the rescore's summary (what crossed the threshold, up or down)
and a person's explained score, as text and JSON."""

from __future__ import annotations

from typing import Any

from connector.commands.score import Explained, RescoreReport
from connector.core.timefmt import iso_z, utc

SHOWN = 50     # people listed per direction in text; --json lists them all


def rescore_text(report: RescoreReport) -> str:
    c = report.counts
    head = "dry run: nothing written" if report.dry_run else "rescored"
    lines = [f"{head}: {c['people']} people, {c['changed']} scores changed, "
             f"{c['up']} cross up to sales-ready, {c['down']} drop below it"]
    for title, people in (("up (sales-ready now)", report.up), ("down (below sales-ready)", report.down)):
        if not people:
            continue
        lines.append(f"{title}: {len(people)}")
        lines += [f"  {email}  {_old(old)} -> {new}" for email, new, old in people[:SHOWN]]
        if len(people) > SHOWN:
            lines.append(f"  ... {len(people) - SHOWN} more (--json lists all)")
    if not report.dry_run:
        lines.append(f"written: {report.written} records ({report.failed} failed), promoted "
                     f"{report.promoted}, left to their rep {report.kept}, Tasks {report.tasks}, "
                     f"demoted {report.demoted}; Salesforce calls: {report.sf_calls}")
    if report.down and not report.dry_run and not report.demoted:
        lines.append("drops are reported only: no Lead was moved back ([scoring] demote = false)")
    return "\n".join(lines)


def rescore_json(report: RescoreReport) -> dict[str, Any]:
    return {"dry_run": report.dry_run, "counts": report.counts,
            "up": [{"email": e, "score": n, "was": o} for e, n, o in report.up],
            "down": [{"email": e, "score": n, "was": o} for e, n, o in report.down],
            "promoted": report.promoted, "kept": report.kept, "demoted": report.demoted,
            "tasks": report.tasks, "written": report.written, "failed": report.failed,
            "sf_calls": report.sf_calls}


def explain_json(explained: Explained) -> dict[str, Any]:
    """Exactly ``{"email", "total", "behaviour", "fit", "points": [{"rule", "points", "at",
    "decayed_to"}]}`` (issue 19); ``at`` is ISO 8601 UTC, null for fit and caps."""
    s = explained.score
    if s is None:
        return {"email": explained.email, "total": 0, "behaviour": 0, "fit": 0, "points": []}
    return {"email": explained.email, "total": s.total, "behaviour": s.behaviour, "fit": s.fit,
            "points": [{"rule": p.rule, "points": p.points,
                        "at": iso_z(utc(p.at)) if p.at is not None else None,
                        "decayed_to": p.decayed_to} for p in s.points]}


def explain_text(explained: Explained) -> str:
    s = explained.score
    if s is None:
        return f"{explained.email}: no responses in the ledger"
    lines = [f"{explained.email}: score {s.value} (behaviour {s.behaviour:g} + fit {s.fit:g})"
             + (", sales-ready" if s.ready else "")]
    if explained.stored is not None and explained.stored != s.value:
        lines.append(f"  the record holds {explained.stored}; the next rescore writes {s.value}")
    for p in s.points:
        when = iso_z(utc(p.at))[:10] if p.at is not None else "          "
        decayed = f" -> {p.decayed_to:g}" if p.at is not None and p.decayed_to != p.points else ""
        shown = f"{p.points:+g}{decayed}" if p.at is not None or p.points else f"{p.decayed_to:+g}"
        lines.append(f"  {when}  {shown:>16}  {p.rule}")
    lines.append(f"  {'total':>28}  {s.total:g}")
    return "\n".join(lines)


def _old(value: int | None) -> str:
    return "unscored" if value is None else str(value)
