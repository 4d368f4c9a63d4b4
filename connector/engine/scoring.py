"""The engine's side of ``[scoring]`` in a sync: the stored history a batch's scores read, and
what a batch's applied responses leave for the next batch and the daily rescore."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from connector.adapters.sqlite.schema import now_iso
from connector.adapters.sqlite.scoring import ScoreStore, SyncedScore
from connector.core.enrich.scoring import Event, Scoring
from connector.core.model import Outcome, Status
from connector.core.plan import WritePlan


def stored_history(state: Any, emails: Iterable[str]
                   ) -> tuple[dict[str, list[Event]], dict[str, Mapping[str, str]]]:
    """The batch's people's applied responses (as scoring events) and last fit values: two
    local reads per batch, by the ledger's email index."""
    store = ScoreStore(state)
    wanted = set(emails)
    return store.events(wanted), {e: p.fit_values for e, p in store.people(wanted).items()}


def record_batch_scores(state: Any, plan: WritePlan, outcomes: Mapping[str, Outcome],
                        scoring: Scoring) -> None:
    """After the outcomes: each applied response's extras and its person's written score."""
    wanted = scoring.answer_fields()
    rows = []
    for step in plan.steps:
        r = step.decision.response
        outcome = outcomes.get(step.decision.conversion_id)
        scored = plan.scores.get(step.decision.conversion_id)
        if r is None or outcome is None or scored is None or outcome.status is not Status.APPLIED:
            continue
        sobject, record_id = (("Contact", outcome.contact_id) if outcome.contact_id
                              else ("Lead", outcome.lead_id))
        if not record_id:
            continue
        answers = {k: v for k, v in r.form_values.items() if k in wanted and v}
        rows.append(SyncedScore(r.conversion_id, r.email, sobject, record_id, r.page_url,
                                answers, scored))
    ScoreStore(state).record_sync(rows, now_iso())
