"""A response's key: the one id the ledger, the plans and the records written use for it.

HubSpot calls a submission's ``conversionId`` unique, and it is a UUID, so leadsync keyed
everything by it alone: the ledger row, the run's outcomes and memory, the Lead's external
id value, the Task's key value. Yet the same conversionId has been seen on two forms, and
keyed by it alone the pair shares one ledger row: one response is lost and the other's Lead
written twice. So a response is keyed by its stream (form) and its id together, written
so that what earlier releases recorded keeps its meaning:

- the key is the bare conversion id, as always, unless another form already *owns* that id;
- the owner is the form the ledger holds under the bare id; when the ledger holds none, the
  earliest of the window's claimants by (submitted_at, form id), so every run, retry and
  reconcile that sees the same ledger and window picks the same one;
- any other form's submission with that id is keyed ``"{conversion_id}:{form_id}"``.

A key is assigned once, where submissions enter a run (the stage of a pull, the retry and
reconcile matches, a what-if's window); everything downstream takes ``Submission.conversion_id``
as the key unchanged. The ledger's existing rows, Leads' external ids and Tasks' keys, all
bare ids, are still found by a replay after an upgrade, because a non-colliding response
keeps its bare id as its key.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from connector.core.model import Submission

SEPARATOR = ":"


def collision_key(conversion_id: str, form_id: str) -> str:
    """The key of a submission whose conversion id another form owns."""
    return f"{conversion_id}{SEPARATOR}{form_id}"


def key_of(conversion_id: str, form_id: str, owner_form: str | None) -> str:
    """The key of ``conversion_id`` on ``form_id`` when ``owner_form`` owns the bare id
    (None: nobody does yet, so this submission may take it)."""
    if owner_form is None or owner_form == form_id:
        return conversion_id
    return collision_key(conversion_id, form_id)


def keyed(submissions: Iterable[Submission], owners: Mapping[str, str]) -> list[Submission]:
    """``submissions`` with their keys as ``conversion_id``: ``owners`` maps a bare id to the
    form whose ledger row holds it; an id the ledger lacks is owned by its earliest
    (submitted_at, form id) in ``submissions``. A submission keeps its object when its key
    is its bare id (every one, unless ids collide)."""
    subs = list(submissions)
    first: dict[str, tuple[int, str]] = {}
    for s in subs:
        if s.conversion_id not in owners:
            claim = (s.submitted_at, s.form_id)
            held = first.get(s.conversion_id)
            if held is None or claim < held:
                first[s.conversion_id] = claim
    out = []
    for s in subs:
        owner = owners.get(s.conversion_id) or first[s.conversion_id][1]
        key = key_of(s.conversion_id, s.form_id, owner)
        out.append(s if key == s.conversion_id else replace(s, conversion_id=key))
    return out


def match_recorded(sub: Submission, recorded: set[str]) -> str | None:
    """The key under which a HubSpot submission's form holds a ledger row among
    ``recorded`` (the keys of that form's rows), or None: a retry finds its parked
    responses in HubSpot by (form, bare id), whichever of the two keys the row has."""
    if sub.conversion_id in recorded:
        return sub.conversion_id
    key = collision_key(sub.conversion_id, sub.form_id)
    return key if key in recorded else None
