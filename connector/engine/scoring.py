"""The engine's side of ``[scoring]`` in a sync: the stored history a batch's scores read, and
what a batch's applied responses leave for the next batch and the daily rescore."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from connector.adapters.sqlite.scoring import ScoreStore, synced
from connector.core.enrich.scoring import Event, Scoring, event_of
from connector.core.model import Outcome, Status
from connector.core.plan import WritePlan


def stored_history(state: Any, emails: Iterable[str]
                   ) -> tuple[dict[str, Sequence[Event]], dict[str, Mapping[str, str]]]:
    """The batch's people's applied responses (as scoring events) and last fit values: one
    read by the state's primary key (the first run with [scoring] copies the ledger's
    history in once)."""
    store = ScoreStore(state)
    store.backfill()
    people = store.people(emails)
    return ({e: p.events for e, p in people.items() if p.events},
            {e: p.fit_values for e, p in people.items() if p.fit_values})


def record_batch_scores(state: Any, plan: WritePlan, outcomes: Mapping[str, Outcome],
                        scoring: Scoring, *, then: Callable[[], None]) -> None:
    """After the writes: each applied response's event and its person's written score, then
    ``then`` (the ledger's outcomes), in one transaction: one commit a batch (each is a sync
    of the WAL), and a kill leaves both or neither. Either way a replay of the batch keeps
    its events once (by conversion id), so nothing is lost or counted twice."""
    rows = []
    scores, applied = plan.scores, Status.APPLIED
    for step in plan.steps:
        decision = step.decision
        scored = scores.get(decision.conversion_id)
        if scored is None:
            continue
        r, outcome = decision.response, outcomes.get(decision.conversion_id)
        if r is None or outcome is None or outcome.status is not applied:
            continue
        sobject, record_id = (("Contact", outcome.contact_id) if outcome.contact_id
                              else ("Lead", outcome.lead_id))
        if not record_id:
            continue
        event = scored.event or event_of(         # made by score_batch: not made again
            r.conversion_id, submitted_at=r.submitted_at, form_id=r.form_id,
            campaign_id=r.campaign_id, page=r.page_url, form_values=r.form_values,
            scoring=scoring)
        rows.append(synced(r.email, sobject, record_id, event, scored))
    with state.transaction():
        ScoreStore(state).record_sync(rows)      # a savepoint inside this one
        then()
