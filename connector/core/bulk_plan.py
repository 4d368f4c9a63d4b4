"""Which of a backfill's writes go through Bulk API 2.0: the rule, and a dry run's account of it.

The rule lives here, pure, so that :class:`connector.adapters.salesforce.bulk.BulkWriter` (which acts on it) and
``leadsync backfill --dry-run`` (which only counts the plan's writes against it, and must
write nothing) can never disagree: a write goes through one Bulk job when it holds *more*
than ``threshold`` records and Bulk may carry that object; otherwise, including every write
of a dry run's smaller batches, through sObject Collections as in ``sync``. Contacts, Tasks
and updates always take collections (:class:`~connector.adapters.salesforce.bulk.BulkWriter` only carries Leads
and CampaignMembers), so they are not counted here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

BULK = "bulk"
COLLECTIONS = "collections"

# The backfill's defaults live here, in a module with no I/O imports, so the CLI can show them
# without loading the engine.
DEFAULT_THRESHOLD = 10_000     # records in one write before it goes through Bulk (see README)
# A batch's records are all in memory at once (about 6 KB a response with its lookups and
# CSV): 20,000 keeps a 100,000-response backfill near 225 MB (50,000 took 447 MB) while the
# members of a batch still clear the default Bulk threshold.
DEFAULT_BATCH_SIZE = 20_000
MAX_BATCH_SIZE = 200_000


def through_bulk(records: int, threshold: int, *, allowed: bool = True) -> bool:
    """True when a write of ``records`` goes through a Bulk job rather than collections."""
    return allowed and records > 0 and records > threshold


@dataclass(frozen=True)
class WriteRoute:
    """One write of one batch: how many records, and which API would carry them."""

    records: int
    via: str | None          # "bulk" | "collections" | None (nothing to write)

    @property
    def jobs(self) -> int:
        return 1 if self.via == BULK else 0

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "via": self.via, "jobs": self.jobs}


def route(records: int, threshold: int, *, allowed: bool = True) -> WriteRoute:
    if records <= 0:
        return WriteRoute(0, None)
    return WriteRoute(records, BULK if through_bulk(records, threshold, allowed=allowed)
                      else COLLECTIONS)


@dataclass(frozen=True)
class BatchRoutes:
    responses: int
    leads: WriteRoute
    members: WriteRoute


def plan_batch(responses: int, leads: int, members: int, *, threshold: int,
               leads_in_bulk: bool) -> BatchRoutes:
    """A batch's Lead and member writes against the threshold (Leads only when allowed)."""
    return BatchRoutes(responses, route(leads, threshold, allowed=leads_in_bulk),
                       route(members, threshold))


def count_writes(responses: Iterable[Mapping[str, Any]]) -> tuple[int, int, int]:
    """(responses, new Leads, new members) of a batch from its dry-run response lines.

    A new Lead is a ``create_lead`` decision with no record yet (``target.id`` empty: not one
    an earlier batch created); a new member is a ``member == "create"`` step, exactly the
    plan's ``leads`` and ``members`` lists the engine hands to the writer.
    """
    n = leads = members = 0
    for r in responses:
        n += 1
        target = r.get("target") or {}
        if r.get("action") == "create_lead" and not target.get("id"):
            leads += 1
        if r.get("member") == "create":
            members += 1
    return n, leads, members


@dataclass
class BulkPlan:
    """What a backfill would send through Bulk, batch by batch and in total (dry run)."""

    threshold: int
    leads_in_bulk: bool
    batches: list[BatchRoutes] = field(default_factory=list)

    def add(self, responses: int, leads: int, members: int) -> BatchRoutes:
        routes = plan_batch(responses, leads, members, threshold=self.threshold,
                            leads_in_bulk=self.leads_in_bulk)
        self.batches.append(routes)
        return routes

    def totals(self) -> dict[str, dict[str, int]]:
        out = {}
        for kind in ("leads", "members"):
            writes = [getattr(b, kind) for b in self.batches]
            out[kind] = {BULK: sum(w.records for w in writes if w.via == BULK),
                         COLLECTIONS: sum(w.records for w in writes if w.via == COLLECTIONS),
                         "jobs": sum(w.jobs for w in writes)}
        return out

    def summary(self) -> str:
        t = self.totals()
        return (f"would write {_describe(t['leads'], 'Lead')} and "
                f"{_describe(t['members'], 'member')}")

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold, "leads_in_bulk": self.leads_in_bulk,
            "batches": [{"batch": i, "responses": b.responses, "leads": b.leads.to_json(),
                         "members": b.members.to_json()}
                        for i, b in enumerate(self.batches, 1)],
            "total": self.totals(), "summary": self.summary(),
        }

    def lines(self) -> list[str]:
        """The dry run's text: the total, then each batch when there are several."""
        out = [f"  Dry run: {self.summary()}"]
        if len(self.batches) > 1:
            for i, b in enumerate(self.batches, 1):
                t = {kind: {BULK: w.records if w.via == BULK else 0,
                            COLLECTIONS: w.records if w.via == COLLECTIONS else 0,
                            "jobs": w.jobs}
                     for kind, w in (("leads", b.leads), ("members", b.members))}
                out.append(f"    batch {i} ({_plural(b.responses, 'response')}): would write "
                           f"{_describe(t['leads'], 'Lead')} and {_describe(t['members'], 'member')}")
        return out


def split_batches(responses: Sequence[Mapping[str, Any]], ends: Sequence[int]
                  ) -> list[Sequence[Mapping[str, Any]]]:
    """A dry run's response lines cut at the batch ends the engine reported (cumulative
    counts, one line per pulled response); without ends, one batch of everything."""
    cuts = [e for e in ends if 0 < e <= len(responses)]
    if not cuts or cuts[-1] != len(responses):
        cuts.append(len(responses))
    out, start = [], 0
    for end in cuts:
        if end > start:
            out.append(responses[start:end])
            start = end
    return out


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _describe(total: Mapping[str, int], noun: str) -> str:
    bulk, coll, jobs = total[BULK], total[COLLECTIONS], total["jobs"]
    job_text = _plural(jobs, "job")
    if not bulk and not coll:
        return f"no {noun}s"
    if not coll:
        return f"{_plural(bulk, noun)} through Bulk API 2.0 ({job_text})"
    if not bulk:
        return f"{_plural(coll, noun)} through collections"
    return (f"{_plural(bulk + coll, noun)} ({bulk:,} through Bulk API 2.0 in {job_text}, "
            f"{coll:,} through collections)")
