"""The engine's side of ``[scoring]`` in a sync: the stored history a batch's scores read, and
the score each applied response leaves on its ledger row (the history of the next batch and
of the daily rescore)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from connector.adapters.sqlite.scoring import ScoreStore
from connector.core.enrich.scoring import Event
from connector.core.model import Outcome, Status
from connector.core.plan import WritePlan


def stored_history(state: Any, emails: Iterable[str]
                   ) -> tuple[dict[str, Sequence[Event]], dict[str, Mapping[str, str]]]:
    """The batch's people's applied responses (as scoring events) and last fit values: the
    ledger's rows, read by its email index (``people`` makes it on the first scored batch)."""
    people = ScoreStore(state).people(emails)
    return ({e: p.events for e, p in people.items() if p.events},
            {e: p.fit_values for e, p in people.items() if p.fit_values})


def mark_scores(plan: WritePlan, outcomes: Mapping[str, Outcome]) -> None:
    """After the writes, before the ledger records the outcomes: each applied response's
    score goes on its outcome, which the ledger settles with it in one statement. A response
    joins the history exactly when it is recorded applied, so a kill or a replay can neither
    lose it nor count it twice."""
    scores, applied = plan.scores, Status.APPLIED
    for conversion_id, outcome in outcomes.items():
        if outcome.status is applied and (outcome.lead_id or outcome.contact_id):
            outcome.score = scores.get(conversion_id)
