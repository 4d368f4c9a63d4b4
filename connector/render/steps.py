"""A planned or written response as --dry-run and --json show it (pure)."""

from __future__ import annotations

from typing import Any

from connector.core.model import Action, MemberAction
from connector.core.plan import Step


def describe_step(step: Step) -> str:
    """An admin's one-line account of a response: the action and the record it lands on."""
    d = step.decision
    if d.action is Action.FAILED:
        return f"failed: {d.reason}"
    target = d.target
    assert target is not None
    if d.action is Action.CREATE_LEAD:
        text = "create lead" if target.id is None else f"create lead (done earlier: {target.id})"
    elif d.action is Action.CREATE_CONTACT:
        text = "create contact" if target.id is None else f"create contact (done earlier: {target.id})"
    elif target.id is None:
        text = f"attach to the {target.sobject} this run creates"
    else:
        text = f"attach to {target.sobject.lower()} {target.id}"
    if step.member in (MemberAction.EXISTS, MemberAction.UPDATE):
        text += f"; {step.member_note}"
    return text


def describe_changes(step: Step) -> list[str]:
    """The lines under a response in --dry-run: each field as before -> after, what the
    mapping left out or changed (a phone with no digits, an answer cut to the field's
    length), then routing."""
    lines = [f"{name}: {_shown(before)} -> {_shown(after)}"
             for name, (before, after) in step.changes.items()]
    response = step.decision.response
    return lines + list(response.notes if response is not None else ()) + list(step.notes)


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(blank)"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def step_json(step: Step, campaign_id: str | None = None) -> dict[str, Any]:
    d = step.decision
    response = d.response
    target = d.target
    return {
        "conversion_id": d.conversion_id,
        "email": response.email if response else None,
        "form_id": response.form_id if response else None,
        "campaign_id": response.campaign_id if response else campaign_id,
        "action": d.action.value,
        "target": None if target is None else {
            "sobject": target.sobject, "id": target.id, "new_lead_of": target.new_lead_of},
        "member": step.member.value,
        "member_id": step.member_id,
        "already_member": step.member is MemberAction.EXISTS,
        "reason": d.reason,
        "member_note": step.member_note,
        "error_code": d.error_code,
        "changes": {name: {"before": before, "after": after}
                    for name, (before, after) in step.changes.items()},
        **step.enrichment.to_json(),
        "summary": describe_step(step),
        "details": describe_changes(step),
    }
