"""Text and JSON views of a write-back pass (``leadsync writeback``)."""

from __future__ import annotations

from typing import Any

from connector.engine.writeback import WritebackReport


def to_json(report: WritebackReport) -> dict[str, Any]:
    return {"dry_run": report.dry_run, **report.counts.as_dict(),
            "salesforce_calls": report.salesforce_calls,
            "property_problems": [{"field": p.field, "property": p.property, "message": p.message,
                                   "switched_off": p.switched_off} for p in report.problems],
            "refused": list(report.counts.problems)}


def to_text(report: WritebackReport) -> str:
    c = report.counts
    verb = "would send" if report.dry_run else "sent"
    lines = [f"write-back{' (dry run)' if report.dry_run else ''}: {c.rows} people, {c.unchanged} unchanged, "
             f"{verb} {c.sent}, created {c.created}, missing in HubSpot {c.missing}, refused {c.failed}",
             f"calls: HubSpot {c.calls}, Salesforce {report.salesforce_calls}"]
    for p in report.problems:
        lines.append(f"  property {p.property} (writeback.properties.{p.field}): {p.message}"
                     + (" [switched off]" if p.switched_off else ""))
    for message in c.problems:
        lines.append(f"  {message}")
    return "\n".join(lines)
