"""What the lifecycle pass does about one watched hand-off. (pure)

Order of the questions, each answered from the Lead as read this pass:

1. gone or converted: the watch closes (a converted Lead is a customer-side record now);
2. recycled and waiting: on its come-back date it is routed again by ``[routing]`` (and, if a
   response made the person sales-ready meanwhile, handed off again with a new Task);
3. put in ``recycled_status`` by the rep: back to marketing (``recycle_owner``, nurture status),
   to come back on the rep's date or after ``recycle_delay``;
4. open: touched (``touched_when``) ends the timing; else past the SLA is a breach, which
   reassigns through the pool (the clock restarts), and past ``max_reassignments`` escalates.

A touch is read from what Salesforce keeps, never from ``LastActivityDate``: that is a date,
and the follow-up Task's own due date sets it, so it would count leadsync's Task as the rep's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

from connector.core.enrich.owners import route
from connector.core.enrich.routing import Routing, RoutingFacts
from connector.core.enrich.stages import SALES_READY, stage_for
from connector.core.ids import is_user_id
from connector.core.lifecycle.clock import (date_start_ms, duration_text, elapsed_seconds,
                                            local_day, ordinal)
from connector.core.lifecycle.model import (Kind, LeadFacts, NewTask, PoolMember, Verdict, Watch,
                                            WatchState)
from connector.core.lifecycle.rules import LifecycleRules, Touch

# Lifecycle stages a person is at, as the write-back tells HubSpot.
NURTURE, SALES_READY_STAGE, WORKING, RECYCLED, CUSTOMER = (
    "nurture", "sales_ready", "working", "recycled", "customer")
STAGES = (NURTURE, SALES_READY_STAGE, WORKING, RECYCLED, CUSTOMER)


def decide(watch: Watch, lead: LeadFacts | None, rules: LifecycleRules, *, now_ms: int,
           pool: Sequence[PoolMember] = (), rotation: int = 0, routing: Routing = Routing(),
           forms_since_recycled: Sequence[str] = (), names: Mapping[str, str] | None = None,
           score_ready_since_recycled: bool = False) -> Verdict:
    """The verdict for one watch at ``now_ms``; ``rotation`` is the pool's position (the
    index of the member who got the last reassignment), returned moved on a reassignment.
    ``score_ready_since_recycled``: [scoring]'s score, computed after the Lead was recycled,
    is at the sales-ready threshold (a come-back is then a hand-off, as a form's would be)."""
    names = dict(names or {})
    if lead is not None and lead.owner_id and lead.owner_name:
        names.setdefault(lead.owner_id, lead.owner_name)
    if lead is None:
        return _close(watch, WatchState.GONE, "the Lead no longer exists (deleted or merged)")
    if lead.converted:
        return _close(watch, WatchState.CONVERTED, "the Lead was converted", CUSTOMER)
    if watch.state is WatchState.RECYCLED:
        return _recycled(watch, lead, rules, now_ms=now_ms, routing=routing, names=names,
                         forms_since=forms_since_recycled, score_ready=score_ready_since_recycled)
    if rules.recycled_status and _same(lead.status, rules.recycled_status) \
            and rules.recycle_owner is not None:
        return _recycle(watch, lead, rules, now_ms=now_ms, names=names)
    if watch.state is not WatchState.OPEN:
        # touched, escalated, exhausted or back in nurture: no longer timed, but read for a
        # while, because a rep may still recycle it
        since = max(watch.handed_off_ms, watch.come_back_ms or 0)   # a come-back starts anew
        if now_ms - since > rules.watch_seconds * 1000:
            return _close(watch, WatchState.EXPIRED, f"{watch.state.value.replace('_', ' ')} "
                          "and watched long enough", stage_of(lead, rules, watch))
        return Verdict(Kind.LEAVE, watch.lead_id, f"{watch.state.value.replace('_', ' ')}; "
                       "watched for recycling", watch, stage=stage_of(lead, rules, watch))
    return _open(watch, lead, rules, now_ms=now_ms, pool=pool, rotation=rotation, names=names)


def stage_of(lead: LeadFacts | None, rules: LifecycleRules, watch: Watch | None = None) -> str:
    """The person's lifecycle stage: customer, recycled, sales_ready, nurture or working."""
    if lead is not None and lead.converted:
        return CUSTOMER
    if watch is not None and watch.state is WatchState.RECYCLED:
        return RECYCLED
    status = lead.status if lead is not None else None
    if rules.recycled_status and _same(status, rules.recycled_status):
        return RECYCLED
    if _same(status, rules.sales_ready_status):
        return SALES_READY_STAGE
    if rules.nurture_status and _same(status, rules.nurture_status):
        return NURTURE
    return WORKING


# -- open hand-offs ---------------------------------------------------------------------------

def first_touch(watch: Watch, lead: LeadFacts, rules: LifecycleRules) -> tuple[int, str] | None:
    """When and how sales first acted on the hand-off, or None: the earliest of the touches
    ``touched_when`` counts (a status change is dated by the Lead's last modification, the
    closest Salesforce keeps without field history)."""
    found: list[tuple[int, str]] = []
    if Touch.STATUS in rules.touched_when and lead.status \
            and not _same(lead.status, rules.sales_ready_status):
        found.append((lead.modified_ms, f"Lead Status is {lead.status}"))
    for task in lead.tasks:
        if task.id == watch.task_id:
            if Touch.TASK in rules.touched_when and task.closed:
                found.append((task.modified_ms, "the follow-up Task was completed"))
        elif Touch.ACTIVITY in rules.touched_when and task.created_ms > watch.handed_off_ms:
            found.append((task.created_ms, "an activity was logged"))
    return min(found) if found else None


def _open(watch: Watch, lead: LeadFacts, rules: LifecycleRules, *, now_ms: int,
          pool: Sequence[PoolMember], rotation: int, names: Mapping[str, str]) -> Verdict:
    touch = first_touch(watch, lead, rules)
    stage = stage_of(lead, rules, watch)
    if touch is not None:
        at, how = touch
        at = max(at, watch.handed_off_ms)
        took = elapsed_seconds(watch.clock_ms, at, rules.business_hours)
        within = watch.reassignments == 0 and took <= rules.sla_seconds
        after = replace(watch, state=WatchState.TOUCHED, touched_ms=at, within_sla=within,
                        owner_id=lead.owner_id or watch.owner_id)
        return Verdict(Kind.TOUCHED, watch.lead_id,
                       f"touched: {how}, {duration_text(took)} after the hand-off", after,
                       stage=stage)
    waited = elapsed_seconds(watch.clock_ms, now_ms, rules.business_hours)
    if waited <= rules.sla_seconds:
        return Verdict(Kind.LEAVE, watch.lead_id, f"within the SLA: {duration_text(waited)} of "
                       f"{duration_text(rules.sla_seconds)}", watch, stage=stage)
    breach = f"breach: {duration_text(waited)} without a touch"
    current = lead.owner_id or watch.owner_id
    if rules.reassigns and watch.reassignments < rules.max_reassignments:
        pick = next_in_pool(pool, rotation, current)
        if pick is not None:
            index, member = pick
            count = watch.reassignments + 1
            task = _open_task(lead, watch)
            after = replace(watch, owner_id=member.id, clock_ms=now_ms, reassignments=count)
            who = f"from {_name(current, names)} to {member.name}, {ordinal(count)} reassignment"
            return Verdict(Kind.REASSIGN, watch.lead_id, f"{breach}; {who}", after,
                           owner_id=member.id, from_owner_id=current,
                           move_tasks=(task,) if task and is_user_id(member.id) else (),
                           task_owner_id=member.id, rotation=index, stage=stage)
    if rules.escalates and rules.escalate_to is not None and rules.escalate_to.id:
        after = replace(watch, state=WatchState.ESCALATED)
        tries = (f" after {watch.reassignments} reassignment{'s' * (watch.reassignments != 1)}"
                 if watch.reassignments else "")
        target = rules.escalate_to.id
        note = NewTask(
            subject=f"SLA breach: Lead not followed up within {duration_text(rules.sla_seconds)}",
            description=(f"leadsync handed this Lead off and nobody acted on it: {breach}{tries}. "
                         f"Current owner: {_name(current, names)}."),
            owner_id=target, due_date=local_day(now_ms, rules.timezone))
        return Verdict(Kind.ESCALATE, watch.lead_id,
                       f"{breach}{tries}; escalated to {_name(target, names)}", after,
                       from_owner_id=current, new_task=note, stage=stage)
    why = ("no active pool member to reassign to" if rules.reassigns
           and watch.reassignments < rules.max_reassignments else "nothing left to do")
    return Verdict(Kind.EXHAUSTED, watch.lead_id, f"{breach}; {why}",
                   replace(watch, state=WatchState.EXHAUSTED), from_owner_id=current, stage=stage)


def next_in_pool(pool: Sequence[PoolMember], rotation: int, current: str | None
                 ) -> tuple[int, PoolMember] | None:
    """The next active member after position ``rotation`` that is not the current owner
    (round-robin: fair across runs because the position is kept in the state)."""
    n = len(pool)
    for step in range(1, n + 1):
        index = (rotation + step) % n
        member = pool[index]
        if member.active and member.id != current:
            return index, member
    return None


def _open_task(lead: LeadFacts, watch: Watch) -> str | None:
    """The follow-up Task, when it is still open: it moves with the Lead."""
    for task in lead.tasks:
        if task.id == watch.task_id and not task.closed:
            return task.id
    return None


# -- recycling ----------------------------------------------------------------------------------

def _recycle(watch: Watch, lead: LeadFacts, rules: LifecycleRules, *, now_ms: int,
             names: Mapping[str, str]) -> Verdict:
    assert rules.recycle_owner is not None
    target = rules.recycle_owner.id
    back = date_start_ms(lead.come_back_date, rules.timezone) if lead.come_back_date else None
    when = (f"comes back on {lead.come_back_date[:10]}" if back is not None and lead.come_back_date
            else f"no come-back date: comes back after {duration_text(rules.recycle_delay_seconds)}")
    if back is None:
        back = now_ms + rules.recycle_delay_seconds * 1000
    reason = f" ({lead.recycle_reason})" if lead.recycle_reason else ""
    after = replace(watch, state=WatchState.RECYCLED, recycled_ms=now_ms, come_back_ms=back,
                    owner_id=target)
    return Verdict(Kind.RECYCLE, watch.lead_id,
                   f"recycled by {_name(lead.owner_id, names)}{reason}; to "
                   f"{_name(target, names)}, {when}", after,
                   owner_id=target, from_owner_id=lead.owner_id, status=rules.nurture_status,
                   stage=RECYCLED)


def _recycled(watch: Watch, lead: LeadFacts, rules: LifecycleRules, *, now_ms: int,
              routing: Routing, names: Mapping[str, str], forms_since: Sequence[str],
              score_ready: bool = False) -> Verdict:
    if watch.come_back_ms is None or now_ms < watch.come_back_ms:
        day = local_day(watch.come_back_ms or now_ms, rules.timezone)
        return Verdict(Kind.LEAVE, watch.lead_id, f"recycled; comes back on {day}", watch,
                       stage=RECYCLED)
    facts = RoutingFacts(form_id=(forms_since[-1] if forms_since else watch.form_id) or "",
                         email=watch.email, country=lead.country, state=lead.state,
                         company=lead.company)
    choice = route(routing, facts)
    owner = choice.owner_id if choice is not None else lead.owner_id
    by_form = any(stage_for(routing, replace(facts, form_id=f)) == SALES_READY for f in forms_since)
    ready = by_form or score_ready
    why = f"by {choice.why}" if choice is not None else "no routing rule: owner unchanged"
    if not ready:
        after = replace(watch, state=WatchState.CAME_BACK, owner_id=owner)
        return Verdict(Kind.COME_BACK, watch.lead_id,
                       f"come-back date reached; routed to {_name(owner, names)} {why}; "
                       "not sales-ready: stays in nurture", after,
                       owner_id=owner if owner != lead.owner_id else None,
                       from_owner_id=lead.owner_id, stage=NURTURE)
    task_owner = owner if is_user_id(owner) else (
        routing.tasks.owner.id if routing.tasks and routing.tasks.owner else None)
    task = NewTask(
        subject="Follow up: back from recycling (sales-ready again)",
        description=(f"This Lead was recycled to marketing and came back on "
                     f"{local_day(now_ms, rules.timezone)}; "
                     f"{'a response' if by_form else 'its score'} since made it sales-ready. "
                     f"Routed {why}."),
        owner_id=task_owner, due_date=local_day(now_ms + rules.sla_seconds * 1000, rules.timezone))
    after = replace(watch, state=WatchState.OPEN, owner_id=owner, clock_ms=now_ms,
                    handed_off_ms=now_ms, reassignments=0, touched_ms=None, within_sla=None,
                    task_id=None, first_owner_id=owner)
    return Verdict(Kind.COME_BACK, watch.lead_id,
                   f"come-back date reached; sales-ready: handed off again to "
                   f"{_name(owner, names)} {why}, with a new Task", after,
                   owner_id=owner, from_owner_id=lead.owner_id, status=rules.sales_ready_status,
                   new_task=task, stage=SALES_READY_STAGE)


# -- small helpers --------------------------------------------------------------------------------

def _close(watch: Watch, state: WatchState, why: str, stage: str | None = None) -> Verdict:
    return Verdict(Kind.CLOSE, watch.lead_id, why, replace(watch, state=state), stage=stage)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and (a or "").strip().casefold() == (b or "").strip().casefold()


def _name(owner_id: str | None, names: Mapping[str, str]) -> str:
    if not owner_id:
        return "nobody"
    return names.get(owner_id) or owner_id
