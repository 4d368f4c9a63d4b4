"""A ``WritePlan`` applied: Leads, Contacts, memberships, updates and Tasks written in that
order, each response's ``Outcome`` filled in as Salesforce answers.

A response that fails here is parked with Salesforce's reason (or ours, when a write it
depended on failed); the rest of the batch goes on. Lost replies are not handled here: they
surface as ``AmbiguousWrite`` and the run decides the batch again (``connector.engine.run``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from connector.adapters.salesforce.replies import result_error
from connector.core.enrich.tasks import TaskKey, tasks_found
from connector.core.methods import RunMemory
from connector.core.model import Outcome, Status
from connector.core.plan import Step, WritePlan
from connector.core.redact import redact
from connector.errors import AmbiguousWrite, ApiError, BudgetExhausted
from connector.ports import Crm, Writer

# Salesforce's words for a field that is not (or no longer) there for the integration user.
FIELD_ERRORS = frozenset({"NOT_FOUND", "INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE"})


class Applier:
    def __init__(self, *, salesforce: Crm, writer: Writer, task_key: TaskKey,
                 external_id_field: str | None, forget_describe: Callable[[], None]) -> None:
        self.sf = salesforce
        self.writer = writer            # collections (the client) or a backfill's Bulk writer
        self.task_key = task_key
        self.ext = external_id_field
        self.forget_describe = forget_describe

    def apply(self, plan: WritePlan, outcomes: dict[str, Outcome], memory: RunMemory,
              replayed: frozenset[str] = frozenset()) -> int:
        """Write the plan; returns how many existing Leads and Contacts Salesforce updated
        (the run's ``updated_records``: an outcome says what became of a response, not of
        the record several responses may have changed)."""
        created = self._write_leads(plan, outcomes, memory)
        created.update(self._write_contacts(plan, outcomes, memory))
        self._write_members(plan, outcomes, created)
        updated = self._write_updates(plan, outcomes)
        self._write_tasks(plan, outcomes, created, replayed)
        share_ids(plan.steps, outcomes, created)
        for outcome in outcomes.values():
            if outcome.status is Status.PENDING:
                outcome.status = Status.APPLIED
        return updated

    def _write_leads(self, plan: WritePlan, outcomes: dict[str, Outcome], memory: RunMemory
                     ) -> dict[str, str]:
        """Create the plan's Leads; returns conversion id -> new Lead Id."""
        if not plan.leads:
            return {}
        leads = []
        for lw in plan.leads:
            if lw.paused:      # its routed owner is unusable this run: parked, not sent
                failed(outcomes[lw.conversion_id], "OWNER_UNAVAILABLE",
                       f"{lw.paused}; parked until the owner is fixed, then `leadsync retry`")
                memory.failed(lw.conversion_id)
            else:
                leads.append(lw)
        if not leads:
            return {}
        records = [dict(lw.fields) for lw in leads]
        if self.ext:
            for record, lw in zip(records, leads):
                record[self.ext] = lw.conversion_id
            results = self.writer.upsert("Lead", self.ext, records)
        else:
            results = self.writer.create("Lead", records)
        created: dict[str, str] = {}
        for lw, result in zip(leads, results):
            outcome = outcomes[lw.conversion_id]
            if result.get("success") and result.get("id"):
                created[lw.conversion_id] = result["id"]
                outcome.lead_id = result["id"]
                memory.created(lw.conversion_id, result["id"])
            else:
                refused(outcome, result)
                memory.failed(lw.conversion_id)
        return created

    def _write_contacts(self, plan: WritePlan, outcomes: dict[str, Outcome], memory: RunMemory
                        ) -> dict[str, str]:
        """Create the Contacts for new people at matched Accounts; conversion id -> Id.

        No external id here: a lost reply is found again by the next lookup, by email."""
        if not plan.contacts:
            return {}
        results = self.sf.create("Contact", [dict(cw.fields) for cw in plan.contacts])
        created: dict[str, str] = {}
        for cw, result in zip(plan.contacts, results):
            outcome = outcomes[cw.conversion_id]
            if result.get("success") and result.get("id"):
                created[cw.conversion_id] = outcome.contact_id = result["id"]
                memory.created(cw.conversion_id, result["id"])
            else:
                refused(outcome, result)
                memory.failed(cw.conversion_id)
        return created

    def _write_members(self, plan: WritePlan, outcomes: dict[str, Outcome],
                       lead_ids: dict[str, str]) -> None:
        writes, records = [], []
        for mw in plan.members:
            outcome = outcomes[mw.conversion_id]
            if outcome.status is Status.FAILED:
                continue  # its own Lead failed; that error is the one to keep
            target_id = mw.target.id or lead_ids.get(mw.target.new_lead_of or "")
            if target_id is None:
                creator = outcomes.get(mw.target.new_lead_of or "")
                why = creator.error if creator and creator.error else "it was not created"
                failed(outcome, "LEAD_NOT_CREATED", f"the person's new Lead failed: {why}")
                continue
            field_name = "LeadId" if mw.target.sobject == "Lead" else "ContactId"
            writes.append(mw)
            records.append({"CampaignId": mw.campaign_id, field_name: target_id, "Status": mw.status})
        results = self.writer.create_members(records) if records else []
        for mw, result in zip(writes, results):
            outcome = outcomes[mw.conversion_id]
            if result.get("success"):
                outcome.member_id = result.get("id")
                outcome.member_existed = bool(result.get("existed"))
                continue
            refused(outcome, result)
            made = mw.target.id or lead_ids.get(mw.conversion_id)
            if made and mw.target.new_lead_of == mw.conversion_id:   # its own new record
                # Not an orphan: the ledger keeps the Lead on the parked response, and a
                # retry adds the membership to it (engine.gather, with_parked_leads).
                outcome.error = (f"{outcome.error} (its {mw.target.sobject} {made} was created; "
                                 "`leadsync retry` adds the membership to it)")

    def _write_updates(self, plan: WritePlan, outcomes: dict[str, Outcome]) -> int:
        """Member statuses and filled blanks travel together: one collections call a batch.
        Returns how many Leads and Contacts were updated."""
        records = [("CampaignMember", {"id": u.member_id, "Status": u.status})
                   for u in plan.member_updates]
        records += [(u.sobject, {"id": u.id, **u.fields}) for u in plan.updates]
        if not records:
            return 0
        results = self.sf.update_mixed(records)
        for update, result in zip(plan.member_updates, results):
            if not result.get("success"):
                refused(outcomes[update.conversion_id], result)
        updated = 0
        for change, result in zip(plan.updates, results[len(plan.member_updates):]):
            if result.get("success"):
                updated += 1
            else:
                for cid in change.conversion_ids:
                    refused(outcomes[cid], result)
        return updated

    # -- follow-up Tasks, kept to one per response ---------------------------------------
    def _write_tasks(self, plan: WritePlan, outcomes: dict[str, Outcome], created: dict[str, str],
                     replayed: frozenset[str] = frozenset()) -> None:
        """Follow-up Tasks, once the records they are about exist.

        With the org's response-id field on Task (``task_key``) each Task carries its
        response's conversion id: an External ID is written by upsert on it, so a replay
        updates the Task it wrote; a plain field is looked up for replayed responses, and a
        Task found there is recorded as theirs instead of being created again.
        """
        key = self.task_key
        writes, records = [], []
        for tw in plan.tasks:
            who = tw.who.id or created.get(tw.who.new_lead_of or "")
            if who is None or outcomes[tw.conversion_id].status is Status.FAILED:
                continue
            record = {**tw.fields, "WhoId": who}
            if key.field:
                record[key.field] = tw.conversion_id
            writes.append(tw)
            records.append(record)
        found = self._found_tasks([tw.conversion_id for tw in writes], replayed)
        if found:
            for tw in writes:
                if tw.conversion_id.lower() in found:
                    outcomes[tw.conversion_id].task_id = found[tw.conversion_id.lower()]
            kept = [i for i, tw in enumerate(writes) if tw.conversion_id.lower() not in found]
            writes, records = [writes[i] for i in kept], [records[i] for i in kept]
        results = self._send_tasks(records)
        for tw, result in zip(writes, results):
            outcome = outcomes[tw.conversion_id]
            if result.get("success"):
                outcome.task_id = result.get("id")
            else:
                self._check_task_key(result)
                refused(outcome, result)

    def _found_tasks(self, conversion_ids: list[str], replayed: frozenset[str]) -> dict[str, str]:
        """The Tasks the replayed ones of these responses already have, by conversion id
        (lower-cased); no call unless the key is a plain field and some are replayed."""
        field_name = self.task_key.field
        asked = [cid for cid in conversion_ids if cid in replayed]
        if not (self.task_key.lookup and field_name and asked):
            return {}
        try:
            rows = self.sf.find_tasks(field_name, asked)
        except ApiError as exc:
            raise self._stale_task_key(exc) from None
        return tasks_found(rows, field_name)

    def _send_tasks(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        key = self.task_key
        if not records:
            return []
        try:
            if key.upsert and key.field:
                result: list[dict[str, Any]] = self.sf.upsert("Task", key.field, records)
                return result
            created: list[dict[str, Any]] = self.sf.create("Task", records)
            return created
        except (AmbiguousWrite, BudgetExhausted):
            raise                      # a lost reply replans; the budget ends the run
        except ApiError as exc:
            raise self._stale_task_key(exc) from None

    def _stale_task_key(self, exc: ApiError) -> ApiError:
        """A request about Tasks refused as a whole for a field (the key deleted, hidden from
        the integration user, or no longer an External ID since the describe was cached):
        drop the cached describe so the next run decides again. The batch stays pending."""
        field_name = self.task_key.field
        if field_name and (exc.status == 404 or exc.code in FIELD_ERRORS):
            self.forget_describe()
            return ApiError(f"{exc.message}; Task.{field_name} may have changed since the org's "
                            "describe was read: the batch stays pending and the next run reads "
                            "the describe again", service="salesforce", status=exc.status,
                            code=exc.code)
        return exc

    def _check_task_key(self, result: dict[str, Any]) -> None:
        """A Task rejected for the key field itself (the field gone or read-only): the cached
        describe is stale, so the next run (or ``retry``) reads the org again."""
        field_name = self.task_key.field
        code, message = result_error(result)
        if field_name and code in FIELD_ERRORS and field_name.lower() in message.lower():
            self.forget_describe()


def share_ids(steps: Sequence[Step], outcomes: dict[str, Outcome], created: dict[str, str]) -> None:
    """A repeat fill records the Ids its earlier fill of the batch got: the record created
    for the person and the membership they share, so the ledger says where every response
    landed (reconcile and an admin's audit read them from there)."""
    for step in steps:
        outcome = outcomes[step.decision.conversion_id]
        target = step.decision.target
        if target is not None and target.id is None and target.new_lead_of in created:
            new_id = created[target.new_lead_of]
            if target.sobject == "Lead":
                outcome.lead_id = outcome.lead_id or new_id
            else:
                outcome.contact_id = outcome.contact_id or new_id
        creator = outcomes.get(step.via) if step.via else None
        if creator is not None and outcome.member_id is None:
            outcome.member_id = creator.member_id


def refused(outcome: Outcome, result: dict[str, Any]) -> None:
    """The response is parked with Salesforce's reason for refusing its record."""
    code, message = result_error(result)
    failed(outcome, code, message)


def failed(outcome: Outcome, code: str, message: str) -> None:
    outcome.status = Status.FAILED
    outcome.error_code = code
    outcome.error = redact(f"{code}: {message}")   # kept in the ledger: no email, capped
