"""The lifecycle pass's people as the write-back's rows: what feeds ``Writeback.push``.

The pass knows a stage the Lead Status alone no longer shows: a Lead it recycled carries the
nurture status, yet marketing must see ``recycled`` (and a come-back that is not sales-ready,
``nurture``). So the rows come from the pass (``PassOptions.on_person`` or ``keep_people``),
not from the status.
"""

from __future__ import annotations

from typing import Iterable

from connector.core.writeback import RecordType, Stage, WritebackRow
from connector.engine.lifecycle import PersonRow


def writeback_rows(people: Iterable[PersonRow]) -> list[WritebackRow]:
    """One row per person (the last one read wins), every property but the score."""
    rows: dict[str, WritebackRow] = {}
    for p in people:
        rows[p.email.strip().lower()] = WritebackRow(
            email=p.email.strip().lower(), salesforce_id=p.record_id,
            record_type=RecordType(p.record_type), lead_status=p.lead_status,
            owner_email=p.owner_email, stage=Stage(p.stage),
            only=frozenset({"salesforce_id", "salesforce_type", "lead_status", "owner", "stage"}))
    return list(rows.values())
