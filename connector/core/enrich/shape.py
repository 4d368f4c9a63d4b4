"""What a response writes to its person's record, beyond the campaign membership.

Pure. Given a batch's plan (who is created, who is attached to) and what Salesforce holds
for those records, this room settles:

- **progressive profiling**: the blanks an attaching response may fill (or the fields its
  rule lets it overwrite), gathered per record so each record is written once a batch, and
  shown in ``--dry-run`` as before -> after. A converted Lead is never written: resolution
  already turned it into its Contact;
- **routing**: the owner of a new Lead (first matching rule), its Lead Status stage with the
  date of the change, and the matched Account it carries; a record that exists keeps its
  owner (sales owns it) and its status only ever moves up, from nurture to sales-ready;
- **the hand-off**: a follow-up Task for a sales-ready response, due by the SLA, carrying the
  moments (earlier responses) that made this person a lead.

So "what does Bob's fourth fill change on his Lead?" is answered here, and "does it create a
Lead?" in ``methods``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from connector.core.normalise import NOT_PROVIDED, FieldMapping, field_changes
from connector.core.model import AccountPick, Action, Enrichment, OwnerPick, Response, Target, TaskPick
from connector.core.plan import ContactWrite, LeadWrite, RecordUpdate, Step, TaskWrite, WritePlan
from connector.core.enrich.owners import reassign_existing, route
from connector.core.enrich.routing import Routing, RoutingFacts, facts_from
from connector.core.enrich.scoring import Score, Scoring, describe
from connector.core.enrich.stages import NURTURE, SALES_READY, stage_for, status_fields
from connector.core.timefmt import local_date, utc
from connector.core.enrich.tasks import task_for
from connector.core.ids import is_queue_id

if TYPE_CHECKING:
    from connector.core.accounts import AccountMatch
    from connector.core.schema import Schema

@dataclass(frozen=True)
class Shaping:
    """Everything beyond the decisions that the record writes depend on (plain data)."""

    mapping: FieldMapping
    routing: Routing
    current: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)   # record id -> fields
    accounts: Mapping[str, "AccountMatch"] = field(default_factory=dict)     # email -> Account
    account_field: str | None = None       # Lead field that carries the matched Account Id
    form_names: Mapping[str, str] = field(default_factory=dict)
    history: Mapping[str, Sequence[tuple[int, str]]] = field(default_factory=dict)
    now_ms: int = 0
    schema: "Schema | None" = None
    scores: Mapping[str, Score] = field(default_factory=dict)   # conversion id -> [scoring]
    scoring: Scoring | None = None


def shape(plan: WritePlan, shaping: Shaping) -> WritePlan:
    """The plan with its record fields, updates and Tasks filled in; steps carry the notes."""
    work = _Work(plan, shaping)
    plan.steps = [work.step(step) for step in plan.steps]
    plan.leads = [LeadWrite(lw.conversion_id, work.creates[lw.conversion_id],
                            work.paused.get(lw.conversion_id, "")) for lw in plan.leads]
    plan.contacts = [ContactWrite(cw.conversion_id, work.creates[cw.conversion_id])
                     for cw in plan.contacts]
    plan.updates = [u for u in work.updates.values() if u.fields]
    plan.tasks = work.tasks
    return plan


class _Work:
    """The state of shaping one batch: records' values as the batch leaves them."""

    def __init__(self, plan: WritePlan, shaping: Shaping) -> None:
        self.s = shaping
        self.creates: dict[str, dict[str, Any]] = {w.conversion_id: dict(w.fields)
                                                   for w in plan.leads}
        self.creates.update((w.conversion_id, dict(w.fields)) for w in plan.contacts)
        self.values: dict[str, dict[str, Any]] = {}     # record id -> values after this batch
        self.updates: dict[str, RecordUpdate] = {}
        self.owners: dict[str, str | None] = {}         # record key -> owner id, when known
        self.tasks: list[TaskWrite] = []
        self.seen: dict[str, list[tuple[int, str]]] = {}
        self.dates: dict[int, str] = {}                  # [scoring]: minute -> its local date
        self.paused: dict[str, str] = {}   # conversion id -> why its new Lead's owner is unusable
        scoring = shaping.scoring   # [scoring]: per object, (score, date, reasons) field names
        self.score_names = {o: scoring.written_fields(o) for o in ("Lead", "Contact")} \
            if scoring is not None else {}
        self.reasons_length = scoring.reasons_length if scoring is not None else 0
        routing = shaping.routing   # facts are read only when routing or stages look at them
        self.routes = (routing.stages is not None or routing.mode == "rules"
                       or bool(routing.sales_ready_streams))

    def step(self, step: Step) -> Step:
        d, r, target = step.decision, step.decision.response, step.decision.target
        if d.action is Action.FAILED or r is None or target is None:
            return step
        facts = self._facts(r) if self.routes else None
        stage = stage_for(self.s.routing, facts) if facts is not None else None
        scored = self.s.scores.get(r.conversion_id)
        notes: list[str] = []
        if scored is not None and stage == NURTURE and scored.ready:
            stage = SALES_READY                    # [scoring]: the score hands off as a form does
            notes.append(f"score: {scored.value} (behaviour {scored.behaviour:g}, fit "
                         f"{scored.fit:g}), sales-ready")
        if stage is not None and self.s.routing.too_old(r.submitted_at, self.s.now_ms):
            notes.append(self.s.routing.age_note(r.submitted_at, self.s.now_ms))
            stage = None             # history, not a hand-off: no status, date stamp or Task
        extra = Enrichment()
        changes: dict[str, tuple[Any, Any]] = {}
        account = self.s.accounts.get(r.email)
        if account is not None:
            extra.account = AccountPick(account.account_id, account.name, account.how)
            notes.append(f"account: {account.name} ({account.account_id}), matched by {account.how}"
                         + (f"; {account.note}" if account.note else ""))
        creating = target.id is None and target.new_lead_of == d.conversion_id
        if creating and d.action is Action.CREATE_LEAD:
            self._new_lead(r, facts, stage=stage, account=account, notes=notes, extra=extra)
            self._score_new(r, "Lead")
        elif creating and d.action is Action.CREATE_CONTACT:
            self._new_contact(r, account, notes, extra)
            self._score_new(r, "Contact")
        elif d.action in (Action.ATTACH_LEAD, Action.ATTACH_CONTACT):
            changes = self._attach(r, target, stage, notes)
        if stage:
            extra.stage = stage
        self._task(r, target, stage, notes=notes, extra=extra)
        if self.s.routing.tasks is not None:    # the history a later Task of the batch lists
            self.seen.setdefault(r.email, []).append((r.submitted_at, self._form_name(r.form_id)))
        if changes:
            extra.changed_fields = tuple(sorted(changes))
        if not (changes or notes or extra):
            return step                          # most steps of a plain sync: nothing to add
        # (the constructor, not dataclasses.replace: a scored sync changes nearly every step)
        return Step(step.decision, step.member, step.member_id, step.member_note, step.via,
                    changes, tuple(notes), extra)

    # -- new records -----------------------------------------------------------------------
    def _new_lead(self, r: Response, facts: Any, *, stage: str | None, account: "AccountMatch | None",
                  notes: list[str], extra: Enrichment) -> None:
        fields = self.creates[r.conversion_id]
        choice = route(self.s.routing, facts)
        if choice is not None and choice.paused:
            # The owner is gone and nothing is left to fall back to: this Lead waits, parked,
            # and every other goes on (``owners.with_owner_ids_or_default``).
            self.paused[r.conversion_id] = choice.paused
            notes.append(f"owner: {choice.owner} ({choice.why}) cannot own Leads in this org "
                         f"({choice.paused}): the response is parked until it is fixed")
            choice = None
        elif choice is not None:
            fields["OwnerId"] = choice.owner_id
            extra.owner = OwnerPick(choice.owner_id, choice.rule)
            notes.append(f"owner: {choice.owner or choice.owner_id} ({choice.why})")
        elif self.s.routing.mode == "assignment_rules":
            notes.append("owner: Salesforce's lead assignment rules (Sforce-Auto-Assign)")
        self.owners[f"new:{r.conversion_id}"] = choice.owner_id if choice else None
        status = status_fields(self.s.routing, stage, None, changed_at_ms=r.submitted_at) if stage else {}
        if status:
            fields.update(status)
            notes.append(f"status: {status.get('Status')} ({(stage or '').replace('_', '-')})")
        if account is not None and self.s.account_field:
            fields[self.s.account_field] = account.account_id

    def _new_contact(self, r: Response, account: "AccountMatch | None", notes: list[str],
                     extra: Enrichment) -> None:
        fields = self.creates[r.conversion_id]
        if not fields.get("LastName"):
            fields["LastName"] = NOT_PROVIDED
        fields.setdefault("Email", r.email)
        if account is not None:
            fields["AccountId"] = account.account_id
            if account.owner_id:
                fields["OwnerId"] = account.owner_id   # the account's owner owns its people
                extra.owner = OwnerPick(account.owner_id, "account owner")
                notes.append(f"owner: {account.owner_id} (the Account's owner)")
        self.owners[f"new:{r.conversion_id}"] = fields.get("OwnerId")

    # -- existing records ------------------------------------------------------------------
    def _attach(self, r: Response, target: Target, stage: str | None, notes: list[str]
                ) -> dict[str, tuple[Any, Any]]:
        incoming = r.lead_fields if target.sobject == "Lead" else r.contact_fields
        if target.id is None:
            # The record an earlier response of this batch creates: fill its blanks before
            # it is written, so it is still one write.
            base = self.creates.get(target.new_lead_of or "")
            if base is None:
                return {}
            changes = field_changes(self.s.mapping, target.sobject, incoming, base)
            changes.update(self._score_changes(r, target.sobject, base))
            if target.sobject == "Lead" and stage:
                changes.update(self._hand_off(r, stage, base, notes, new_of=target.new_lead_of))
            base.update({name: after for name, (_, after) in changes.items()})
            return changes
        base = self.values.get(target.id)
        if base is None:
            found = self.s.current.get(target.id)
            if found is None:
                notes.append("fields: not compared (the record was not in this batch's lookup)")
                return {}
            base = self.values[target.id] = dict(found)
        changes = field_changes(self.s.mapping, target.sobject, incoming, base)
        changes.update(self._score_changes(r, target.sobject, base))
        if target.sobject == "Lead" and stage:
            changes.update(self._hand_off(r, stage, base, notes))
        if changes:
            update = self.updates.setdefault(target.id, RecordUpdate(target.sobject, target.id))
            for name, (_, after) in changes.items():
                update.fields[name] = after
                base[name] = after
            update.conversion_ids.append(r.conversion_id)
        return changes

    def _hand_off(self, r: Response, stage: str, base: Mapping[str, Any], notes: list[str], *,
                  new_of: str | None = None) -> dict[str, tuple[Any, Any]]:
        """An existing Lead's status moves up only; a Lead still in a queue goes to the routed
        owner when this response makes it sales-ready (a rep's Lead stays the rep's)."""
        routing = self.s.routing
        fields = status_fields(routing, stage, base.get("Status"), changed_at_ms=r.submitted_at)
        changes = {k: (base.get(k), v) for k, v in fields.items() if base.get(k) != v}
        became = "Status" in changes
        owner = reassign_existing(route(routing, self._facts(r)),
                                  base.get("OwnerId"), became_sales_ready=became)
        if owner and owner != base.get("OwnerId"):
            changes["OwnerId"] = (base.get("OwnerId"), owner)
            notes.append("owner: handed over from the queue at sales-ready")
            if new_of is not None:
                self.owners[f"new:{new_of}"] = owner
        return changes

    # -- hand-off --------------------------------------------------------------------------
    def _task(self, r: Response, target: Target, stage: str | None, *, notes: list[str],
              extra: Enrichment) -> None:
        if stage != "sales_ready" or self.s.routing.tasks is None:
            return
        owner = self._owner_of(target)
        if owner and is_queue_id(owner):   # Salesforce rejects a Task owned by a queue
            # A queue cannot own a Task: the configured task owner, else the integration user.
            fallback = self.s.routing.tasks.owner
            owner = fallback.id if fallback is not None else None
        history = [*self.s.history.get(r.email, ()), *self.seen.get(r.email, ())]
        scored = self.s.scores.get(r.conversion_id)
        fields = task_for(self.s.routing, response=r, owner_id=owner, who_id=target.id or "",
                          form_name=self._form_name(r.form_id), history=history,
                          now_ms=self.s.now_ms, scored=scored,
                          score_lines=describe(scored) if scored is not None else ())
        if fields is None:
            return
        self.tasks.append(TaskWrite(r.conversion_id, fields, target))
        extra.task = TaskPick(fields.get("ReminderDateTime") or fields.get("ActivityDate"), owner)
        notes.append(f"task: {fields.get('Subject')!r} due {extra.task.due}"
                     + (f" for {owner}" if owner else ""))

    # -- [scoring] -------------------------------------------------------------------------
    def _facts(self, r: Response) -> RoutingFacts:
        """What routing looks at; with [scoring] the score is leadsync's, not a form field's."""
        scored = self.s.scores.get(r.conversion_id)
        if scored is not None:
            return facts_from(r, None, score=scored.total)
        return facts_from(r, self.s.routing.score_field)

    def _score_new(self, r: Response, sobject: str) -> None:
        """A new record's payload carries its score fields (a new record has none to compare)."""
        made = self._score_made(r, sobject)
        if made is not None:
            fields = self.creates[r.conversion_id]
            for name, value in made:
                fields[name] = value

    def _score_changes(self, r: Response, sobject: str, base: Mapping[str, Any]
                       ) -> dict[str, tuple[Any, Any]]:
        """The score's fields for this record, only those whose value differs: a score that
        did not change is not written (nor is its date moved)."""
        made = self._score_made(r, sobject, base)
        if made is None:
            return {}
        changes = {}
        for name, value in made:
            before = base.get(name)
            if before != value:
                changes[name] = (before, value)
        return changes

    def _score_made(self, r: Response, sobject: str, base: Mapping[str, Any] | None = None
                    ) -> tuple[tuple[str, Any], ...] | None:
        """(field, value) of the score a response gives its record; None when there is no
        score field on ``sobject`` or the record holds this score already. Runs for every
        response of a scored sync, so the names are worked out once (``self.score_names``)."""
        scored = self.s.scores.get(r.conversion_id)
        if scored is None:
            return None
        names = self.score_names.get(sobject)
        if names is None:
            return None
        target, date_field, reasons_field = names
        value = scored.value
        if base is not None and _same_number(base.get(target), value):
            return None                          # no change
        if date_field:
            minute = scored.as_of // 60_000      # a batch's responses share a few dates
            date = self.dates.get(minute)
            if date is None:
                date = self.dates[minute] = local_date(utc(minute * 60_000), self.s.routing.timezone)
            if reasons_field:                    # the usual configuration: all three, one tuple
                return ((target, value), (date_field, date),
                        (reasons_field, scored.reasons(self.reasons_length)))
            return (target, value), (date_field, date)
        if reasons_field:
            return (target, value), (reasons_field, scored.reasons(self.reasons_length))
        return ((target, value),)

    def _owner_of(self, target: Target) -> str | None:
        if target.id is None:
            return self.owners.get(f"new:{target.new_lead_of}")
        current = self.values.get(target.id) or self.s.current.get(target.id) or {}
        return current.get("OwnerId") or self.owners.get(f"new:{target.new_lead_of}")

    def _form_name(self, form_id: str) -> str:
        return self.s.form_names.get(form_id) or form_id


def _same_number(current: Any, value: int) -> bool:
    """A record's score field as Salesforce returns it (85.0, "85", None) against ours."""
    if current is None:
        return False
    if current == value:                 # a number (the usual case)
        return True
    try:
        return float(current) == float(value)
    except (TypeError, ValueError):
        return False
