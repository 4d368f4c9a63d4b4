"""A backfill's Bulk API account in an admin's words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.commands.backfill import BackfillResult


def render_bulk(result: BackfillResult) -> str:
    """The Bulk lines under the run report, in an admin's words."""
    lines = [f"  Backfill since {result.since.isoformat()}"]
    writer = result.writer
    if writer is not None:
        lines[0] += (f"; Bulk API 2.0 past {writer.threshold:,} records a write: "
                     f"{writer.stats.jobs} job(s), {writer.stats.records:,} record(s), "
                     f"{writer.stats.polls} poll(s)")
        if writer.stats.job_ids:
            # Left in the org on purpose: Setup > Bulk Data Load Jobs shows each for 7 days.
            lines.append(f"  Bulk jobs (Setup > Bulk Data Load Jobs): "
                         f"{', '.join(writer.stats.job_ids)}")
    if result.plan is not None:
        lines[0] += f"; Bulk API 2.0 past {result.plan.threshold:,} records a write"
        lines += result.plan.lines()
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
