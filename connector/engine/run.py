"""One sync run: pull -> normalise -> resolve -> decide -> plan -> apply -> record.

The only room that does I/O on purpose; every choice it makes is delegated to a pure
room (``mapping``, ``resolve``, ``methods``, ``plan``, ``state.advance_watermark``).
``--dry-run`` is this flow stopped before ``apply`` and ``record``.
"""

from __future__ import annotations

import gc
import secrets
import time
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from connector.config.settings import Settings
from connector.errors import AmbiguousWrite, ApiError, BudgetExhausted, LeadsyncError, RecordError, TransientError
from connector.adapters.hubspot.forms import HubSpotClient
from connector.core.normalise import FieldMapping, to_response
from connector.core.methods import RunMemory, decide_all
from connector.core.model import Action, Decision, Method, Outcome, Response, Status, Submission
from connector.core.plan import ExistingMember, Step, WritePlan, plan_batch, step_json
from connector.core.enrich.shape import Shaping, shape
from connector.core.resolve import created_for, resolve, rows_to_records
from connector.core.enrich.routing import TaskKey, task_key, tasks_found
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.replies import result_error
from connector.adapters.sqlite.ledger import State
from connector.core.watermarks import advance_watermark


@dataclass
class RunReport:
    run_id: str
    method: Method
    dry_run: bool
    status: str = "running"            # ok | stopped | partial | budget | aborted | crashed
    error: str | None = None
    counts: Counter[str] = field(default_factory=Counter)
    responses: list[dict[str, Any]] = field(default_factory=list)
    sf_calls: int = 0
    hs_calls: int = 0
    api_used: int | None = None
    api_limit: int | None = None
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "stopped": 0, "partial": 3, "budget": 4}.get(self.status, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "method": self.method.value, "dry_run": self.dry_run,
            "status": self.status, "exit_code": self.exit_code, "error": self.error,
            "counts": dict(self.counts), "salesforce_calls": self.sf_calls,
            "hubspot_calls": self.hs_calls,
            "salesforce_api_usage": None if self.api_used is None else
            {"used": self.api_used, "limit": self.api_limit},
            "seconds": round(self.seconds, 3), "responses": self.responses,
        }


Progress = Callable[[int, int], None]


@dataclass
class Batches:
    """A run's responses in batches, oldest first; ``total`` is for progress."""

    total: int
    batches: Iterable[Sequence[Submission]]

    @classmethod
    def of(cls, submissions: Sequence[Submission], size: int) -> "Batches":
        """Batches of submissions already in memory (retry, reconcile --fix)."""
        ordered = sorted(submissions, key=lambda s: (s.submitted_at, s.conversion_id))
        return cls(len(ordered), (ordered[i:i + size] for i in range(0, len(ordered), size)))


class Engine:
    def __init__(self, settings: Settings, *, salesforce: SalesforceClient, hubspot: HubSpotClient,
                 state: State, mapping: FieldMapping, clock: Callable[[], float] = time.time,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.sf = salesforce
        self.hs = hubspot
        self.state = state
        self.mapping = mapping
        self.clock = clock
        self.progress = progress
        # Checked between batches: a daemon asked to stop finishes the batch in flight,
        # records it, and ends the run cleanly ("stopped").
        self.should_stop: Callable[[], bool] = lambda: False
        # Per-response lines for --dry-run and --json; a scheduled run keeps only counts,
        # so its memory follows the batch, not the backlog.
        self.keep_details = True
        # Who writes Leads and members (create/upsert/create_members): the client's
        # collections, or a backfill's Bulk API writer (connector.adapters.salesforce.bulk) past a size.
        self.writer: Any = salesforce
        # A backfill pulls every form from here (epoch ms) instead of from its watermark.
        self.since_ms: int | None = None
        self.routing = settings.routing          # owner names turned into Ids by _prepare
        self.schema: Any = None                  # the org's Lead/Contact describe, when needed
        self.task_key = TaskKey()                # how a follow-up Task is kept to one (_prepare)
        self.form_names: dict[str, str] = {}
        self._prepared = False

    # -- the run -------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, method: Method | None = None) -> RunReport:
        """A scheduled sync: everything new since each form's watermark."""
        return self._run(self._pull, dry_run=dry_run, method=method)

    def backfill(self, since_ms: int, *, dry_run: bool = False, method: Method | None = None
                 ) -> RunReport:
        """A first sync of a long history: every mapped form's submissions since ``since_ms``,
        whatever the watermarks say. Same decisions, writes and ledger as :meth:`run`; the
        ledger skips what it holds, and watermarks still only move forward."""
        self.since_ms = since_ms
        try:
            return self.run(dry_run=dry_run, method=method)
        finally:
            self.since_ms = None

    def process(self, submissions: Sequence[Submission], *, dry_run: bool = False,
                method: Method | None = None) -> RunReport:
        """Apply given submissions (``retry``, ``reconcile --fix``) through the same path.

        Watermarks never move backwards, so re-applying old submissions is safe.
        """
        def given(report: RunReport) -> Batches:
            report.counts["pulled"] += len(submissions)
            return Batches.of(submissions, self.settings.sync.batch_size)

        return self._run(given, dry_run=dry_run, method=method)

    def retry(self, *, dry_run: bool = False, method: Method | None = None) -> RunReport:
        """Re-attempt the parked (failed) responses, after the admin fixed their cause.

        Their submissions are read again from HubSpot (the ledger keeps no form values), as
        far back as the oldest parked one; a parked response HubSpot no longer has is
        reported, not dropped.
        """
        return self._run(self._parked, dry_run=dry_run, method=method)

    def _parked(self, report: RunReport) -> Batches:
        """The parked responses' submissions, read again as far back as each form's oldest
        parked one; pages are filtered as they arrive, so only the parked are held."""
        wanted: dict[str, set[str]] = {}
        since: dict[str, int] = {}
        for row in self.state.rows(Status.FAILED.value):
            form_id = row["form_id"]
            wanted.setdefault(form_id, set()).add(row["conversion_id"])
            since[form_id] = min(since.get(form_id, row["submitted_at"]), row["submitted_at"])
        for form_id in [f for f in wanted if self.settings.campaign_for(f) is None]:
            report.counts["parked_form_not_mapped"] += len(wanted.pop(form_id))
            del since[form_id]
        found: dict[str, Submission] = {}
        with closing(self.hs.pages_many(since)) as pages:
            for page in pages:
                found.update((s.conversion_id, s) for s in page if s.conversion_id in wanted[s.form_id])
        if since:
            report.counts["parked_not_in_hubspot"] += sum(map(len, wanted.values())) - len(found)
        report.counts["pulled"] += len(found)
        return Batches.of(list(found.values()), self.settings.sync.batch_size)

    def _run(self, source: Callable[[RunReport], Batches], *, dry_run: bool,
             method: Method | None) -> RunReport:
        method = method or self.settings.method
        report = RunReport(new_run_id(), method, dry_run)
        started = time.monotonic()
        start_ms = int(self.clock() * 1000)
        calls_before = (self.sf.calls, self.hs.calls)
        self.sf.usage = None  # a reading from an earlier run says nothing about now
        if not dry_run:
            self.state.lock()
            self.state.start_run(report.run_id, method.value, dry_run)
        try:
            self._prepare()
            with fewer_collections():
                finished = self._process(source(report), method, report, dry_run, start_ms)
            report.status = "partial" if report.counts["failed"] else ("ok" if finished else "stopped")
        except BudgetExhausted as exc:
            report.status, report.error = "budget", str(exc)
        except LeadsyncError as exc:
            report.status, report.error = "aborted", str(exc)
        except Exception as exc:
            # A bug, not a vendor's answer: record the run as crashed, then let it surface.
            report.status, report.error = "crashed", type(exc).__name__
            raise
        finally:
            self._finish(report, started, calls_before)
            self.state.unstage_all()  # the ledger holds what the run did; the stage is spent
        return report

    def _process(self, work: Batches, method: Method, report: RunReport,
                 dry_run: bool, start_ms: int) -> bool:
        """Batches in order; False when asked to stop before the end."""
        memory, planned = RunMemory(), {}
        done = 0
        for batch in work.batches:
            if self.should_stop():
                return False
            self._check_budget()
            for attempt in range(1, self.REPLANS + 1):
                saved = (memory.copy(), dict(planned))
                try:
                    self._batch(batch, method, memory, planned, report, dry_run, start_ms)
                    if not dry_run:
                        # Written: later batches find these records and memberships in
                        # their own lookups, so the run's memory stays the batch's size.
                        memory.settle()
                        planned.clear()
                    break
                except (AmbiguousWrite, TransientError) as exc:
                    # The reply to a write was lost (or the vendor stayed down past the
                    # retry policy). Resolve the batch again: the lookups find what the
                    # lost write did, so nothing is applied twice.
                    if attempt == self.REPLANS or not self._replan_is_safe(method):
                        raise ApiError(f"{exc}; the batch's responses stay pending and the "
                                       "next run resumes them", service="salesforce") from None
                    memory, planned = saved[0], saved[1]
                    report.counts["replanned_batches"] += 1
            done += len(batch)
            if self.progress:
                self.progress(done, work.total)
        return True

    REPLANS = 4

    def _replan_is_safe(self, method: Method) -> bool:
        """Replanning finds a lost Lead by email (hybrid, unique) or by external id (any
        method). Under poi without the external id a lost Lead cannot be told from an older
        one of the same person, so the run stops and leaves the responses pending."""
        return method is not Method.POI or bool(self.settings.salesforce.lead_external_id_field)

    def _finish(self, report: RunReport, started: float, calls_before: tuple[int, int]) -> None:
        report.sf_calls = self.sf.calls - calls_before[0]
        report.hs_calls = self.hs.calls - calls_before[1]
        if self.sf.usage:
            report.api_used, report.api_limit = self.sf.usage.used, self.sf.usage.limit
        report.seconds = time.monotonic() - started
        if report.dry_run:
            return
        self.state.finish_run(report.run_id, report.status, {
            **report.counts, "sf_calls": report.sf_calls, "hs_calls": report.hs_calls,
            "api_used": report.api_used, "api_limit": report.api_limit}, report.error)

    def _check_budget(self) -> None:
        usage = self.sf.usage
        share = self.settings.salesforce.budget_share
        if usage and usage.limit and usage.share >= share:
            raise BudgetExhausted(
                f"Salesforce API usage {usage.used}/{usage.limit} has reached the configured "
                f"budget ({share:.0%}); stopping before the next batch, state intact",
                service="salesforce", code="BUDGET")

    # -- once per engine: what the mapping and routing need from the vendors ---------------
    DESCRIBE_MAX_AGE = 24 * 3600   # fields and picklists change rarely; a day-old copy is fine

    def _prepare(self) -> None:
        """Owner names -> Ids, the org's describe, form names: each fetched only when the
        configuration uses it, so a plain sync spends no call on them."""
        if self._prepared:
            return
        from connector.core.enrich.routing import owner_names, split_owner_names, with_owner_ids

        names = owner_names(self.routing)
        if names:
            users, queues = split_owner_names(names)
            self.routing = with_owner_ids(self.routing, self.sf.find_owners(users, queues))
        needs_schema, tasks = self._needs_schema(), self.routing.tasks is not None
        wanted = (["Lead", "Contact"] if needs_schema else []) + (["Task"] if tasks else [])
        if wanted:
            from connector.core.schema import schema_from_describes

            described = schema_from_describes(self._describes(wanted))
            if needs_schema:
                self.schema = {name: described[name] for name in ("Lead", "Contact")}
            if tasks:
                self.task_key = task_key(described.get("Task"),
                                         self.settings.salesforce.lead_external_id_field)
        if tasks:
            self.form_names = self.hs.form_names()
        self._prepared = True

    def _needs_schema(self) -> bool:
        wanted = {"truncate", "country", "state"}
        return any(wanted & set(spec.transforms) for spec in self.mapping.fields)

    def _describes(self, names: Sequence[str]) -> dict[str, Any]:
        """The describes of ``names``, from the state's day-old copy when it holds them all,
        else read in one composite call (with the copy's others, so they age together)."""
        described = self.state.cached("describe", self.DESCRIBE_MAX_AGE) or {}
        if not all(name in described for name in names):
            described = self.sf.describe([*described, *names])
            self.state.cache("describe", described)
        return described

    def _forget_describe(self) -> None:
        """The org changed under the cached describe (a Task field deleted or redefined):
        drop the copy, so the next run reads the org again instead of failing for a day."""
        self.state.cache("describe", None)

    # -- pull ----------------------------------------------------------------------------
    def _pull(self, report: RunReport) -> Batches:
        """New submissions of every mapped form, oldest first; the ledger drops repeats.

        HubSpot pages each form newest first, so the response to apply first is on a form's
        last page and the whole window is read before the first batch. It is staged in
        SQLite page by page as the paging threads hand the pages over, then read back a
        batch at a time: memory follows the batch, not the backlog.
        """
        lookback_ms = self.settings.sync.lookback_seconds * 1000
        since_by_form = {}
        for campaign in self.settings.campaigns:
            mark = self.state.watermark(campaign.form_id)
            since_by_form[campaign.form_id] = 0 if mark is None else max(0, mark - lookback_ms)
            if self.since_ms is not None:
                since_by_form[campaign.form_id] = self.since_ms
        self.state.unstage_all()  # an earlier run's, on a daemon's connection: pulled again below
        with closing(self.hs.pages_many(since_by_form)) as pages:
            for page in pages:
                report.counts["skipped"] += len(page) - self.state.stage(page)
        report.counts["skipped"] += self.state.unstage_recorded()
        total = self.state.staged_count()
        report.counts["pulled"] += total
        return Batches(total, self.state.staged_batches(self.settings.sync.batch_size))

    # -- one batch -----------------------------------------------------------------------
    def _batch(self, batch: Sequence[Submission], method: Method, memory: RunMemory,
               planned: dict[tuple[str, str], str], report: RunReport, dry_run: bool,
               start_ms: int) -> None:
        responses, rejected = self._normalise(batch)
        decisions, found = self._decide(responses, method, memory)
        plan = plan_batch(decisions, self._existing_members(responses, decisions), planned)
        plan = shape(plan, self._shaping(responses, found))
        order = {sub.conversion_id: i for i, sub in enumerate(batch)}
        plan.steps = sorted(plan.steps + [Step(d, "none") for d in rejected],
                            key=lambda step: order[step.decision.conversion_id])

        if dry_run:
            for step in plan.steps:
                report.counts[_count_key(step.decision.action, step.member)] += 1
                if self.keep_details:
                    report.responses.append({**step_json(step), "email": _email_of(step, batch)})
            return

        outcomes = {step.decision.conversion_id: _outcome(step, batch) for step in plan.steps}
        for step in plan.steps:
            outcomes[step.decision.conversion_id].extra.update(step.extra)
        replayed = self._replayed_tasks(plan)   # read before this attempt's intents
        self.state.record_intents([o for o in outcomes.values() if o.status is Status.PENDING],
                                  report.run_id)
        self._apply(plan, outcomes, memory, replayed)
        self._share_failures(plan.steps, outcomes, planned, report)
        watermarks = self._watermarks(outcomes.values(), start_ms)
        self.state.record_outcomes(outcomes.values(), report.run_id, watermarks)
        for step in plan.steps:
            outcome = outcomes[step.decision.conversion_id]
            report.counts[_outcome_key(outcome)] += 1
            if self.keep_details:
                report.responses.append({**step_json(step), **_outcome_json(outcome),
                                         "email": outcome.email})

    def _normalise(self, batch: Sequence[Submission]) -> tuple[list[Response], list[Decision]]:
        responses, rejected = [], []
        for sub in batch:
            campaign = self.settings.campaign_for(sub.form_id)
            assert campaign is not None  # only mapped forms are pulled
            try:
                responses.append(to_response(sub, self.mapping, campaign_id=campaign.campaign_id,
                                             member_status=campaign.member_status,
                                             schema=self.schema))
            except RecordError as exc:
                rejected.append(Decision(None, sub.conversion_id, Action.FAILED, None,
                                         exc.message, exc.code))
        return responses, rejected

    def _decide(self, responses: list[Response], method: Method, memory: RunMemory
                ) -> tuple[list[Decision], "Found"]:
        if not responses:
            return [], Found()
        ext = self.settings.salesforce.lead_external_id_field
        lead_rows, contact_rows = self.sf.find_people(
            {r.email for r in responses}, external_id_field=ext,
            lead_fields=self._read_fields("Lead"), contact_fields=self._read_fields("Contact"))
        leads, contacts = rows_to_records(lead_rows, contact_rows, external_id_field=ext)
        matches = resolve({r.email for r in responses}, leads, contacts,
                          choose=self.settings.sync.on_multiple_matches)
        batch_ids = {r.conversion_id for r in responses}
        recovered = {cid: rec for cid, rec in created_for(leads).items() if cid in batch_ids}
        accounts = self._match_accounts(responses, matches, memory, method)
        decisions = decide_all(method, responses, matches, memory,
                               unique_prefers=self.settings.sync.unique_prefers, recovered=recovered,
                               accounts=accounts, new_person=self.settings.accounts.new_person)
        notes = {email: m.note for email, m in matches.items() if m.note}
        found = Found({row["Id"]: row for row in [*lead_rows, *contact_rows]}, accounts)
        return [_with_note(d, notes.get(d.response.email if d.response else "", ""))
                for d in decisions], found

    def _read_fields(self, sobject: str) -> tuple[str, ...]:
        """Fields whose current values the rules and routing compare against."""
        fields = list(self.mapping.read_fields(sobject)) + ["OwnerId"]
        stages = self.routing.stages
        if sobject == "Lead" and stages is not None:
            fields += ["Status"] + ([stages.date_field] if stages.date_field else [])
        return tuple(fields)

    def _match_accounts(self, responses: list[Response], matches: dict[str, Any], memory: RunMemory,
                        method: Method) -> dict[str, Any]:
        """The Account each person who will get a new record belongs to (one call a batch)."""
        settings = self.settings.accounts
        if not settings.enabled:
            return {}
        from connector.core.accounts import lookup_terms, match_accounts

        people: dict[str, str | None] = {}
        for r in responses:
            match = matches.get(r.email)
            known = match is not None and (match.lead is not None or
                                           (method is Method.UNIQUE and match.contact is not None))
            if method is Method.POI or not (known or r.email in memory.people):
                people[r.email] = r.lead_fields.get("Company")
        terms = lookup_terms(people, settings)
        if not terms.domains and not terms.company_prefixes:
            return {}
        rows = self.sf.find_accounts(terms.domains, terms.company_prefixes)
        return match_accounts(people, rows, settings)

    def _shaping(self, responses: list[Response], found: "Found") -> Shaping:
        history: dict[str, list[tuple[int, str]]] = {}
        if self.routing.tasks is not None:
            names = self.form_names
            history = {email: [(at, names.get(form, form)) for at, form in moments]
                       for email, moments in self.state.history(r.email for r in responses).items()}
        return Shaping(self.mapping, self.routing, found.current, found.accounts,
                       self.settings.accounts.lead_field, self.form_names, history,
                       int(self.clock() * 1000), self.schema)

    def _existing_members(self, responses: list[Response], decisions: list[Decision]
                          ) -> dict[tuple[str, str], ExistingMember]:
        record_ids = {d.target.id for d in decisions if d.target and d.target.id}
        rows = self.sf.find_members({r.campaign_id for r in responses}, record_ids)
        existing: dict[tuple[str, str], ExistingMember] = {}
        for row in rows:
            member = ExistingMember(row["Id"], row.get("Status") or "", bool(row.get("HasResponded")))
            for key in ("LeadId", "ContactId"):
                if row.get(key):
                    existing[(row["CampaignId"], row[key])] = member
        return existing

    # -- apply ---------------------------------------------------------------------------
    def _apply(self, plan: WritePlan, outcomes: dict[str, Outcome], memory: RunMemory,
               replayed: frozenset[str] = frozenset()) -> None:
        created = self._write_leads(plan, outcomes, memory)
        created.update(self._write_contacts(plan, outcomes, memory))
        self._write_members(plan, outcomes, created)
        self._write_updates(plan, outcomes)
        self._write_tasks(plan, outcomes, created, replayed)
        _share_ids(plan.steps, outcomes, created)
        for outcome in outcomes.values():
            if outcome.status is Status.PENDING:
                outcome.status = Status.APPLIED

    def _write_leads(self, plan: WritePlan, outcomes: dict[str, Outcome], memory: RunMemory
                     ) -> dict[str, str]:
        """Create the plan's Leads; returns conversion id -> new Lead Id."""
        if not plan.leads:
            return {}
        ext = self.settings.salesforce.lead_external_id_field
        records = [dict(lw.fields) for lw in plan.leads]
        if ext:
            for record, lw in zip(records, plan.leads):
                record[ext] = lw.conversion_id
            results = self.writer.upsert("Lead", ext, records)
        else:
            results = self.writer.create("Lead", records)
        created: dict[str, str] = {}
        for lw, result in zip(plan.leads, results):
            outcome = outcomes[lw.conversion_id]
            if result.get("success") and result.get("id"):
                created[lw.conversion_id] = result["id"]
                outcome.lead_id = result["id"]
                memory.created(lw.conversion_id, result["id"])
            else:
                _fail(outcome, result)
                memory.failed(lw.conversion_id)
        return created

    def _share_failures(self, steps: Sequence[Step], outcomes: dict[str, Outcome],
                        planned: dict[tuple[str, str], str], report: RunReport) -> None:
        """A response that counted on an earlier response's membership fails with it.

        Otherwise Bob's repeat fill would be recorded as applied while his membership (say,
        in a campaign someone deleted) never existed; and the run's memory forgets the failed
        membership, so the next batch tries to create it again.
        """
        failed = {cid for cid, o in outcomes.items() if o.status is Status.FAILED}
        if not failed:
            return
        for key in [k for k, cid in planned.items() if cid in failed]:
            del planned[key]
        for step in steps:
            outcome = outcomes[step.decision.conversion_id]
            creator = outcomes.get(step.via) if step.via else None
            if creator is None or outcome.status is Status.FAILED:
                continue
            if creator.status is Status.FAILED:
                outcome.status = Status.FAILED
                outcome.member_existed = False
                outcome.error_code = creator.error_code
                outcome.error = (f"{creator.error_code}: the campaign membership it shares with "
                                 f"response {step.via} was not created ({creator.error})")

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
                _fail(outcome, result)
                memory.failed(cw.conversion_id)
        return created

    def _write_updates(self, plan: WritePlan, outcomes: dict[str, Outcome]) -> None:
        """Member statuses and filled blanks travel together: one collections call a batch."""
        records = [("CampaignMember", {"id": u.member_id, "Status": u.status})
                   for u in plan.member_updates]
        records += [(u.sobject, {"id": u.id, **u.fields}) for u in plan.updates]
        if not records:
            return
        results = self.sf.update_mixed(records)
        for update, result in zip(plan.member_updates, results):
            if not result.get("success"):
                _fail(outcomes[update.conversion_id], result)
        for change, result in zip(plan.updates, results[len(plan.member_updates):]):
            if not result.get("success"):
                for cid in change.conversion_ids:
                    _fail(outcomes[cid], result)

    def _replayed_tasks(self, plan: WritePlan) -> frozenset[str]:
        """The batch's Task-bearing responses an earlier attempt may have written a Task for:
        those the ledger holds as ``pending`` (a run, or this run's previous attempt at the
        batch, recorded the intent but not the outcome) or ``failed`` (a retry: a response
        failed with a shared membership after its Task was written). Only they are looked
        up, so a fresh response costs no call; a local read, and only when the key is a
        plain field (an upsert needs no look)."""
        if not (plan.tasks and self.task_key.lookup):
            return frozenset()
        statuses = self.state.statuses(tw.conversion_id for tw in plan.tasks)
        return frozenset(cid for cid, status in statuses.items()
                         if status in (Status.PENDING.value, Status.FAILED.value))

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
                    outcomes[tw.conversion_id].extra["task_id"] = found[tw.conversion_id.lower()]
            kept = [i for i, tw in enumerate(writes) if tw.conversion_id.lower() not in found]
            writes, records = [writes[i] for i in kept], [records[i] for i in kept]
        results = self._send_tasks(records)
        for tw, result in zip(writes, results):
            outcome = outcomes[tw.conversion_id]
            if result.get("success"):
                outcome.extra["task_id"] = result.get("id")
            else:
                self._check_task_key(result)
                _fail(outcome, result)

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
                return self.sf.upsert("Task", key.field, records)
            return self.sf.create("Task", records)
        except (AmbiguousWrite, BudgetExhausted):
            raise                      # a lost reply replans; the budget ends the run
        except ApiError as exc:
            raise self._stale_task_key(exc) from None

    def _stale_task_key(self, exc: ApiError) -> ApiError:
        """A request about Tasks refused as a whole for a field (the key deleted, hidden from
        the integration user, or no longer an External ID since the describe was cached):
        drop the cached describe so the next run decides again. The batch stays pending."""
        field_name = self.task_key.field
        if field_name and (exc.status == 404 or exc.code in _FIELD_ERRORS):
            self._forget_describe()
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
        if field_name and code in _FIELD_ERRORS and field_name.lower() in message.lower():
            self._forget_describe()

    def _write_members(self, plan: WritePlan, outcomes: dict[str, Outcome], lead_ids: dict[str, str]) -> None:
        writes, records = [], []
        for mw in plan.members:
            outcome = outcomes[mw.conversion_id]
            if outcome.status is Status.FAILED:
                continue  # its own Lead failed; that error is the one to keep
            target_id = mw.target.id or lead_ids.get(mw.target.new_lead_of or "")
            if target_id is None:
                creator = outcomes.get(mw.target.new_lead_of or "")
                why = creator.error if creator and creator.error else "it was not created"
                _fail(outcome, {"errors": [{"statusCode": "LEAD_NOT_CREATED",
                                            "message": f"the person's new Lead failed: {why}"}]})
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
            else:
                _fail(outcome, result)

    def _watermarks(self, outcomes: Iterable[Outcome], start_ms: int) -> dict[str, int]:
        by_form: dict[str, list[int]] = {}
        for outcome in outcomes:
            if outcome.status is not Status.PENDING:  # recorded (applied or parked) only
                by_form.setdefault(outcome.form_id, []).append(outcome.submitted_at)
        marks = {}
        for form_id, times in by_form.items():
            mark = advance_watermark(self.state.watermark(form_id), times, start_ms)
            if mark is not None:
                marks[form_id] = mark
        return marks


@contextmanager
def fewer_collections(young: int = 20_000) -> Iterator[None]:
    """Run with Python's cycle collector woken less often, then put it back as it was.

    A batch makes many short-lived containers (rows, field dicts) that reference counting
    frees, and almost no cycles; at the default young-generation threshold (700) the
    collector woke about 500 times per 10,000 responses, and each older-generation pass
    walked everything already loaded (modules, the org's describe, the geography tables).
    That was a tenth of a sync's CPU. Freezing what exists before the run takes it out of
    those passes; cycles are still collected, just in larger, rarer sweeps.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


# -- small helpers ---------------------------------------------------------------------------

# Salesforce's words for a field that is not (or no longer) there for the integration user.
_FIELD_ERRORS = frozenset({"NOT_FOUND", "INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE"})

def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("run-%Y%m%dT%H%M%S-") + secrets.token_hex(3)


def _with_note(decision: Decision, note: str) -> Decision:
    if not note:
        return decision
    return replace(decision, reason=f"{decision.reason} ({note})")


def _share_ids(steps: Sequence[Step], outcomes: dict[str, Outcome], created: dict[str, str]) -> None:
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


def _outcome(step: Step, batch: Sequence[Submission]) -> Outcome:
    d = step.decision
    r = d.response
    if r is None:
        sub = next(s for s in batch if s.conversion_id == d.conversion_id)
        return Outcome(d.conversion_id, sub.form_id, sub.submitted_at,
                       _raw_email(sub), Action.FAILED, Status.FAILED,
                       reason=d.reason, error_code=d.error_code, error=d.reason)
    target = d.target
    outcome = Outcome(d.conversion_id, r.form_id, r.submitted_at, r.email, d.action, Status.PENDING,
                      campaign_id=r.campaign_id, reason=d.reason)
    if target is not None and target.id:
        if target.sobject == "Lead":
            outcome.lead_id = target.id
        else:
            outcome.contact_id = target.id
    if step.member == "exists":
        outcome.member_existed = True
        outcome.member_id = step.member_id
    elif step.member == "update":
        outcome.member_id = step.member_id
    return outcome


def _email_of(step: Step, batch: Sequence[Submission]) -> str:
    if step.decision.response is not None:
        return step.decision.response.email
    sub = next(s for s in batch if s.conversion_id == step.decision.conversion_id)
    return _raw_email(sub)


def _raw_email(sub: Submission) -> str:
    """What the form had in its email field, for an admin to recognise a rejected fill."""
    return next((str(v) for k, v in sub.values.items() if k.lower() == "email"), "")[:120]


def _fail(outcome: Outcome, result: dict[str, Any]) -> None:
    outcome.status = Status.FAILED
    outcome.error_code, message = result_error(result)
    outcome.error = f"{outcome.error_code}: {message}"


def _count_key(action: Action, member: str) -> str:
    if action is Action.FAILED:
        return "failed"
    if member == "exists":
        return "already_member"
    return {"create_lead": "created_leads", "create_contact": "created_contacts",
            "attach_lead": "attached", "attach_contact": "attached"}[action.value]


def _outcome_key(outcome: Outcome) -> str:
    if outcome.status is Status.FAILED:
        return "failed"
    return _count_key(outcome.action, "exists" if outcome.member_existed else "create")


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"status": outcome.status.value, "lead_id": outcome.lead_id, "contact_id": outcome.contact_id,
            "member_id": outcome.member_id, "already_member": outcome.member_existed,
            "error_code": outcome.error_code, "error": outcome.error}


@dataclass
class Found:
    """What a batch's lookups found beyond the decisions: records' current fields by Id,
    and the Account each new person matched."""

    current: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, Any] = field(default_factory=dict)


class Session:
    """Everything a run needs, built from Settings; closes the state when done."""

    def __init__(self, settings: Settings, *, dry_run: bool = False, retry: Any = None,
                 progress: Progress | None = None) -> None:
        from connector.core.normalise import load_mapping
        from connector.adapters.transport import RetryPolicy

        retry = retry or RetryPolicy()
        self.state = State.open_read_only(settings.state_path) if dry_run else State.open(settings.state_path)
        try:
            self.engine = Engine(
                settings,
                salesforce=SalesforceClient(settings.salesforce, retry=retry),
                hubspot=HubSpotClient(settings.hubspot, retry=retry),
                state=self.state, mapping=load_mapping(settings.mapping_path()), progress=progress)
        except BaseException:
            self.state.close()
            raise

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.state.close()
