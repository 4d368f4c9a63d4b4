"""One batch's plan steps turned into the ledger's outcomes: what each response became,
a failure shared with the responses that counted on it, and the raw email of a fill that
could not be decided (so an admin recognises it in ``parked list``)."""

from __future__ import annotations

from typing import Any, Sequence

from connector.core.methods import RunMemory
from connector.core.model import Action, Outcome, Status, Submission
from connector.core.normalise import clean_text
from connector.core.plan import Step
from connector.core.redact import redact


def share_failures(steps: Sequence[Step], outcomes: dict[str, Outcome], memory: RunMemory) -> None:
    """A response that counted on an earlier response's membership fails with it.

    Otherwise Bob's repeat fill would be recorded as applied while his membership (say,
    in a campaign someone deleted) never existed; and the run's memory forgets the failed
    membership, so the next batch tries to create it again.
    """
    failed = {cid for cid, o in outcomes.items() if o.status is Status.FAILED}
    if not failed:
        return
    memory.forget_memberships_of(failed)
    for step in steps:
        outcome = outcomes[step.decision.conversion_id]
        creator = outcomes.get(step.via) if step.via else None
        if creator is None or outcome.status is Status.FAILED:
            continue
        if creator.status is Status.FAILED:
            outcome.status = Status.FAILED
            outcome.member_existed = outcome.member_moved = False
            outcome.error_code = creator.error_code
            outcome.error = redact(f"{creator.error_code}: the campaign membership it shares "
                                   f"with response {step.via} was not created ({creator.error})")


def created_here(step: Step, outcome: Outcome) -> bool:
    """Whether this response's own new Lead (or Contact) was written before a later write of
    it failed: the report counts the record as created, as it is, besides the failure."""
    d = step.decision
    return (d.action in (Action.CREATE_LEAD, Action.CREATE_CONTACT) and d.target is not None
            and d.target.id is None and bool(outcome.lead_id or outcome.contact_id))


def outcome_of(step: Step, batch: Sequence[Submission]) -> Outcome:
    d = step.decision
    r = d.response
    if r is None:
        sub = next(s for s in batch if s.conversion_id == d.conversion_id)
        return Outcome(d.conversion_id, sub.form_id, sub.submitted_at,
                       raw_email(sub), Action.FAILED, Status.FAILED,
                       reason=d.reason, error_code=d.error_code, error=d.reason)
    target = d.target
    outcome = Outcome(d.conversion_id, r.form_id, r.submitted_at, r.email, d.action, Status.PENDING,
                      campaign_id=r.campaign_id, reason=d.reason, enrichment=step.enrichment)
    if r.left_out and target is not None:   # the answers left out of the record it lands on
        prefix = f"{target.sobject}."
        outcome.left_out = tuple(f for f in r.left_out if f.startswith(prefix))
    if target is not None and target.id:
        if target.sobject == "Lead":
            outcome.lead_id = target.id
        else:
            outcome.contact_id = target.id
    if step.member == "exists" and d.action not in (Action.CREATE_LEAD, Action.CREATE_CONTACT):
        outcome.member_existed = True
        outcome.member_id = step.member_id
    elif step.member == "exists":            # a replayed create's own membership, made by the
        outcome.member_id = step.member_id   # lost attempt: not one the person already had
    elif step.member == "update":
        outcome.member_id = step.member_id
        outcome.member_moved = True
    return outcome


def email_of(step: Step, batch: Sequence[Submission]) -> str:
    if step.decision.response is not None:
        return step.decision.response.email
    sub = next(s for s in batch if s.conversion_id == step.decision.conversion_id)
    return raw_email(sub)


def raw_email(sub: Submission) -> str:
    """What the form had in its email field, for an admin to recognise a rejected fill
    (control and invisible format characters dropped, so the ledger shows what it says)."""
    return clean_text(next((str(v) for k, v in sub.values.items() if k.lower() == "email"), ""))[:120]


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "lead_id": outcome.lead_id, "contact_id": outcome.contact_id,
            "member_id": outcome.member_id, "already_member": outcome.member_existed,
            "error_code": outcome.error_code, "error": outcome.error}
