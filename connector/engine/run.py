"""One sync run: pull -> gather -> decide (core) -> apply -> record, batch after batch.

The engine wires the rooms and decides nothing itself: ``connector.engine.gather`` reads a
batch's facts, ``connector.core.batch.decide_batch`` turns them into a ``WritePlan``,
``connector.engine.apply`` writes it, and the ledger records intents before the writes and
outcomes after. ``--dry-run`` is this flow stopped before apply and record.
"""

from __future__ import annotations

import time
from dataclasses import replace
from contextlib import closing
from typing import Any, Callable, Iterable, Sequence

from connector.config.settings import Settings, check_method
from connector.config.sources import FORM, stream_kind
from connector.core.batch import BatchPolicy, decide_batch
from connector.core.progression import Ladder
from connector.engine.streams import ladders_of, landing_of, routing_of
from connector.core.counts import Count, count_of, count_of_outcome
from connector.core.enrich.tasks import TaskKey, task_key
from connector.core.keys import match_recorded
from connector.core.methods import RunMemory, replan_is_safe
from connector.core.model import MemberAction, Method, Outcome, Status, Submission
from connector.core.normalise import FieldMapping
from connector.core.plan import WritePlan
from connector.core.watermarks import advance_watermark, first_since
from connector.ports import Crm, Ledger, Source
from connector.engine.apply import Applier
from connector.engine.collector import fewer_collections
from connector.engine.gather import Gatherer
from connector.engine.outcomes import created_here, email_of, outcome_json, outcome_of, share_failures
from connector.engine.pauses import pause_missing, resolve_owners
from connector.engine.scoring import mark_scores
from connector.render.steps import step_json
from connector.engine.report import (Batches, Progress, PullWatcher, RunOptions, RunReport,
                                     Select, new_run_id)
from connector.errors import (AmbiguousWrite, ApiError, BudgetExhausted, ConfigError, LeadsyncError,
                              TransientError)


class Engine:
    REPLANS = 4
    DESCRIBE_MAX_AGE = 24 * 3600   # fields and picklists change rarely; a day-old copy is fine

    def __init__(self, settings: Settings, *, salesforce: Crm, hubspot: Source, state: Ledger,
                 mapping: FieldMapping, clock: Callable[[], float] = time.time,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.sf = salesforce
        self.hs = hubspot
        self.state = state
        self.mapping = mapping
        self.clock = clock
        self.progress = progress
        self.watcher: PullWatcher | None = None  # pages while pulling (a progress display)
        self.routing = routing_of(settings.routing, settings.campaigns)   # owner Ids: _prepare
        self.schema: Any = None                  # the org's Lead/Contact describe, when needed
        self.task_key = TaskKey()                # how a follow-up Task is kept to one (_prepare)
        self.form_names: dict[str, str] = {}
        self.paused: dict[str, str] = {}         # stream -> why its campaign is paused (_pause)
        self.ladders: dict[str, Ladder] = {}     # campaign id -> its status progression (_pause)
        self.owner_warnings: list[dict[str, str]] = []   # owners fallen back to the default (_prepare)
        self._prepared = False

    # -- the runs --------------------------------------------------------------------------
    def run(self, options: RunOptions | None = None, *, dry_run: bool = False,
            method: Method | None = None) -> RunReport:
        """A scheduled sync: everything new since each form's watermark (or, with
        ``options.since_ms``, a backfill's every submission since then)."""
        options = options or RunOptions(dry_run=dry_run, method=method)
        return self._run(lambda report: self._pull(report, options.since_ms, options.forms), options)

    def backfill(self, since_ms: int, options: RunOptions | None = None, *, dry_run: bool = False,
                 method: Method | None = None) -> RunReport:
        """A first sync of a long history: every mapped form's submissions since ``since_ms``,
        whatever the watermarks say. Same decisions, writes and ledger as :meth:`run`; the
        ledger skips what it holds, and watermarks still only move forward."""
        from dataclasses import replace

        options = options or RunOptions(dry_run=dry_run, method=method)
        return self.run(replace(options, since_ms=since_ms))

    def process(self, submissions: Sequence[Submission], options: RunOptions | None = None, *,
                dry_run: bool = False, method: Method | None = None) -> RunReport:
        """Apply given submissions (``retry``, ``reconcile --fix``) through the same path.

        Watermarks never move backwards, so re-applying old submissions is safe.
        """
        def given(report: RunReport) -> Batches:
            report.counts[Count.PULLED] += len(submissions)
            return Batches.of(submissions, self.settings.sync.batch_size)

        return self._run(given, options or RunOptions(dry_run=dry_run, method=method))

    def retry(self, options: RunOptions | None = None, *, dry_run: bool = False,
              method: Method | None = None, select: Select | None = None) -> RunReport:
        """Re-attempt the parked (failed) responses, after the admin fixed their cause.

        Their submissions are read again from HubSpot (the ledger keeps no form values), as
        far back as the oldest parked one; a parked response HubSpot no longer has is
        reported, not dropped. ``select`` keeps only the parked rows it accepts (``retry
        --code/--form/--id``, the daemon's transient retries); pending rows are always settled.
        """
        return self._run(lambda report: self._parked(report, select),
                         options or RunOptions(dry_run=dry_run, method=method))

    def _run(self, source: Callable[[RunReport], Batches], options: RunOptions) -> RunReport:
        method = options.method or self.settings.method
        check_method(self.settings, method)   # a --method poi override meets the config's rule
        dry_run = options.dry_run
        report = RunReport(new_run_id(), method, dry_run)
        started = time.monotonic()
        start_ms = int(self.clock() * 1000)
        calls_before = (self.sf.calls, self.hs.calls)
        self.sf.reset_usage()
        if not dry_run:
            self.state.lock()
            self.state.start_run(report.run_id, method.value, dry_run)
        try:
            self._prepare()
            if (options.forms != frozenset() or self.state.oldest_pending()
                    or any(stream_kind(c.form_id) != FORM for c in self.settings.campaigns)):
                self._pause(report)   # (a probed cycle paging no form, no event: no campaign read)
            report.warnings.extend(self.owner_warnings)
            with fewer_collections():
                finished = self._process(source(report), method, report, options=options,
                                         start_ms=start_ms)
            report.status = ("partial" if report.counts[Count.FAILED] or report.paused else
                             "ok" if finished else "stopped")
        except BudgetExhausted as exc:
            report.status, report.error = "budget", str(exc)
        except ConfigError as exc:
            # The mapping does not fit the org (``_prepare``): refused before any write, and
            # said as a configuration error (exit 2), not as a vendor's failure.
            report.status, report.error = "config", str(exc)
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

    def _process(self, work: Batches, method: Method, report: RunReport, *,
                 options: RunOptions, start_ms: int) -> bool:
        """Batches in order; False when asked to stop before the end."""
        memory = RunMemory()
        applier = Applier(salesforce=self.sf, writer=options.writer or self.sf,
                          task_key=self.task_key,
                          external_id_field=self.settings.salesforce.lead_external_id_field,
                          forget_describe=self._forget_describe)
        keyed = bool(self.settings.salesforce.lead_external_id_field)
        done = 0
        for batch in work.batches:
            if options.should_stop():
                return False
            self._check_budget()
            for attempt in range(1, self.REPLANS + 1):
                saved = memory.copy()
                try:
                    self._batch(batch, method, memory, report=report, options=options,
                                start_ms=start_ms, applier=applier)
                    if not options.dry_run:
                        # Written: later batches find these records and memberships in
                        # their own lookups, so the run's memory stays the batch's size.
                        memory.settle()
                    break
                except (AmbiguousWrite, TransientError) as exc:
                    # The reply to a write was lost (or the vendor stayed down past the
                    # retry policy). Resolve the batch again: the lookups find what the
                    # lost write did, so nothing is applied twice.
                    if attempt == self.REPLANS or not replan_is_safe(method, keyed=keyed):
                        raise ApiError(f"{exc}; the batch's responses stay pending and the "
                                       "next run resumes them", service="salesforce") from None
                    memory = saved
                    report.counts[Count.REPLANNED_BATCHES] += 1
            done += len(batch)
            if self.progress:
                self.progress(done, work.total)
        return True

    def _finish(self, report: RunReport, started: float, calls_before: tuple[int, int]) -> None:
        report.sf_calls = self.sf.calls - calls_before[0]
        report.hs_calls = self.hs.calls - calls_before[1]
        if self.sf.usage:
            report.api_used, report.api_limit = self.sf.usage.used, self.sf.usage.limit
        report.seconds = time.monotonic() - started
        if report.dry_run:
            return
        self.state.record_warnings(report.run_id, report.warning_rows())
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
    def _prepare(self) -> None:
        """Owner names -> Ids, the org's describe, form names: each fetched only when the
        configuration uses it, so a plain sync spends no call on them."""
        if self._prepared:
            return
        from connector.config.mapping_file import protected_of, refuse_protected

        refuse_protected(self.mapping, protected_of(self.settings))   # also for a given mapping
        # Owners' Ids; one who left or is misspelt falls back to the default owner, warned
        self.routing, self.owner_warnings = resolve_owners(self.routing, self.sf)
        needs_schema, tasks = self._needs_schema(), self.routing.tasks is not None
        wanted = (["Lead", "Contact"] if needs_schema else []) + (["Task"] if tasks else [])
        if wanted:
            from connector.core.schema import schema_from_describes

            described = schema_from_describes(self._describes(wanted))
            if needs_schema:
                self.schema = {name: described[name] for name in ("Lead", "Contact")}
                self._hold_against_org(self.schema)
            if tasks:
                self.task_key = task_key(described.get("Task"),
                                         self.settings.salesforce.lead_external_id_field)
        if tasks:
            self.form_names = self.hs.form_names()
        self._prepared = True

    def _hold_against_org(self, schema: Any) -> None:
        """Refuse the run when the describe it read shows the mapping (or the stages' Lead
        Status) wrong, as ``leadsync mappings check`` would: each such record would otherwise
        be refused mid-sync or written with a value the org does not hold. Only a run that
        reads the describe anyway holds it (no call is added for this); the cached copy is
        dropped, so the org's fix is seen by the next run, not a day later."""
        from connector.config.mapping_file import refuse_against_org

        try:
            refuse_against_org(self.mapping, schema, self.routing, self.settings.source)
        except ConfigError:
            self._forget_describe()
            raise

    def _pause(self, report: RunReport) -> None:
        """Read the configured campaigns and their member statuses (one call, every run and
        dry run: an admin may rename a status between runs) and pause the forms whose
        campaign cannot take members. A paused form is not pulled and its given responses
        are held, so nothing is created for it and its watermark stays; once the entry or
        the campaign is fixed the next run picks its responses up."""
        from connector.adapters.salesforce.campaigns import campaign_entries, read_campaigns
        from connector.core.campaigns import check_campaigns

        entries = campaign_entries(self.settings.campaigns)
        org = read_campaigns(self.sf, entries)
        problems = check_campaigns(entries, org)
        self.paused = {p.entry.form_id: str(p) for p in problems}
        self.ladders = ladders_of(self.settings.campaigns, org)
        report.paused = [p.to_json() for p in problems]
        if problems:
            report.counts[Count.PAUSED_FORMS] = len(problems)

    def prepared_policy(self) -> BatchPolicy:
        """The policy after owner names, describes and form names are read (once an engine):
        for a command that decides without running the engine (``whatif``)."""
        self._prepare()
        return self.policy()

    def policy(self) -> BatchPolicy:
        """The run's configuration as the pure core takes it (after ``_prepare``)."""
        s = self.settings
        return BatchPolicy(
            mapping=self.mapping, routing=self.routing,
            landings={c.form_id: landing_of(c) for c in s.campaigns},
            accounts=s.accounts, external_id_field=s.salesforce.lead_external_id_field,
            on_multiple_matches=s.sync.on_multiple_matches, unique_prefers=s.sync.unique_prefers,
            schema=self.schema, form_names=self.form_names, ladders=self.ladders,
            scoring=s.scoring)

    def _needs_schema(self) -> bool:
        wanted = {"truncate", "country", "state"}
        return any(wanted & set(spec.transforms) for spec in self.mapping.fields)

    def _describes(self, names: Sequence[str]) -> dict[str, Any]:
        """The describes of ``names``, from the state's day-old copy when it holds them all,
        else read in one composite call (with the copy's others, so they age together)."""
        described: dict[str, Any] = self.state.cached("describe", self.DESCRIBE_MAX_AGE) or {}
        if not all(name in described for name in names):
            described = self.sf.describe([*described, *names])
            self.state.cache("describe", described)
        return described

    def _forget_describe(self) -> None:
        """The org changed under the cached describe (a Task field deleted or redefined):
        drop the copy, so the next run reads the org again instead of failing for a day."""
        self.state.cache("describe", None)

    # -- what a run reads ----------------------------------------------------------------
    def _pull(self, report: RunReport, since_ms: int | None,
              only: frozenset[str] | None = None) -> Batches:
        """New submissions of every mapped form, oldest first; the ledger drops repeats.

        HubSpot pages each form newest first, so the response to apply first is on a form's
        last page and the whole window is read before the first batch. It is staged in
        SQLite page by page as the paging threads hand the pages over, then read back a
        batch at a time: memory follows the batch, not the backlog.
        """
        lookback_ms = self.settings.sync.lookback_seconds * 1000
        pending = self.state.oldest_pending()
        since_by_form = {}
        now_ms = int(self.clock() * 1000)
        for campaign in self.settings.campaigns:   # a new form starts at [sync] start
            if campaign.form_id in self.paused:
                continue                     # not pulled: its responses wait, unrecorded
            if (only is not None and campaign.form_id not in only and campaign.form_id not in pending
                    and stream_kind(campaign.form_id) == FORM):
                continue   # the probe saw nothing new on this form (freshness; it sees forms only)
            since_by_form[campaign.form_id] = first_since(
                self.state.watermark(campaign.form_id), self.settings.sync.start, now_ms, lookback_ms)
            if since_ms is not None:
                since_by_form[campaign.form_id] = since_ms
            # Every pending row is resolved, however old: a run killed mid-batch (a sync, a
            # retry, a backfill) left intents behind the watermark that nothing else re-reads.
            if campaign.form_id in pending:
                since_by_form[campaign.form_id] = min(since_by_form[campaign.form_id],
                                                      pending[campaign.form_id])
        self.state.unstage_all()  # an earlier run's, on a daemon's connection: pulled again below
        with closing(self.hs.pages_many(since_by_form)) as pages:
            for page in pages:
                report.counts[Count.SKIPPED] += len(page) - self.state.stage(page)
                if self.watcher is not None and page:
                    self.watcher.page(page[0].form_id, len(page))
        pause_missing(self.settings, self.hs, self.paused, report)   # a form 404: it alone
        report.counts[Count.SKIPPED] += self.state.unstage_recorded()
        total = self.state.staged_count()
        if self.watcher is not None:
            self.watcher.pulled(total)
        report.counts[Count.PULLED] += total
        return Batches(total, self.state.staged_batches(self.settings.sync.batch_size))

    def _parked(self, report: RunReport, select: Select | None = None) -> Batches:
        """The parked responses' submissions, read again as far back as each form's oldest
        parked one; pages are filtered as they arrive, so only the parked are held."""
        wanted: dict[str, set[str]] = {}
        since: dict[str, int] = {}
        # Parked, and pending (a killed retry's intents): both are settled here.
        parked = [r for r in self.state.rows(Status.FAILED.value) if select is None or select(r)]
        for row in [*parked, *self.state.rows(Status.PENDING.value)]:
            form_id = row["form_id"]
            wanted.setdefault(form_id, set()).add(row["conversion_id"])
            since[form_id] = min(since.get(form_id, row["submitted_at"]), row["submitted_at"])
        for form_id in [f for f in wanted if self.settings.campaign_for(f) is None]:
            report.counts[Count.PARKED_FORM_NOT_MAPPED] += len(wanted.pop(form_id))
            del since[form_id]
        found: dict[str, Submission] = {}
        with closing(self.hs.pages_many(since)) as pages:
            for page in pages:     # matched by (form, id), under the key the row was given
                if self.watcher is not None and page:
                    self.watcher.page(page[0].form_id, len(page))
                for s in page:
                    if (key := match_recorded(s, wanted[s.form_id])) is not None:
                        found[key] = s if key == s.conversion_id else replace(s, conversion_id=key)
        pause_missing(self.settings, self.hs, self.paused, report)   # a form 404: it alone
        if since:
            report.counts[Count.PARKED_NOT_IN_HUBSPOT] += sum(map(len, wanted.values())) - len(found)
        report.counts[Count.PULLED] += len(found)
        if self.watcher is not None:
            self.watcher.pulled(len(found))
        return Batches.of(list(found.values()), self.settings.sync.batch_size)

    # -- one batch -----------------------------------------------------------------------
    def _batch(self, batch: Sequence[Submission], method: Method, memory: RunMemory, *,
               report: RunReport, options: RunOptions, start_ms: int, applier: Applier) -> None:
        held = [s for s in batch if s.form_id in self.paused]
        if held:                             # retry / --fix given a paused form's responses
            report.counts[Count.PAUSED_RESPONSES] += len(held)
            batch = [s for s in batch if s.form_id not in self.paused]
            if not batch:
                return
        policy = self.policy()
        facts = Gatherer(salesforce=self.sf, state=self.state, clock=self.clock).gather(
            batch, policy, [(method, memory)])
        plan = decide_batch(facts, method, memory, policy=policy)
        if options.dry_run:
            for step in plan.steps:
                count = count_of(step.decision.action, step.member)
                if count is Count.CREATED_LEADS and step.decision.conversion_id in facts.people.counted:
                    count = Count.ATTACHED      # as the real run counts it, below
                report.counts[count] += 1
                if step.member == MemberAction.UPDATE:
                    report.counts[Count.STATUS_MOVES] += 1
                if options.keep_details:
                    report.responses.append({**step_json(step), "email": email_of(step, batch)})
            report.counts[Count.UPDATED_RECORDS] += len(plan.updates)
            report.counts[Count.TASKS] += len(plan.tasks)
            return

        outcomes = {step.decision.conversion_id: outcome_of(step, batch) for step in plan.steps}
        replayed = self._replayed_tasks(plan)   # read before this attempt's intents
        self.state.record_intents([o for o in outcomes.values() if o.status is Status.PENDING],
                                  report.run_id)
        report.counts[Count.UPDATED_RECORDS] += applier.apply(plan, outcomes, memory, replayed)
        share_failures(plan.steps, outcomes, memory)
        watermarks = self._watermarks(outcomes.values(), start_ms)
        if policy.scoring is not None:            # [scoring]: the history the next batch reads
            mark_scores(plan, outcomes)
        self.state.record_outcomes(outcomes.values(), report.run_id, watermarks)
        # follow-up Tasks of the applied responses: written now, or found again on a replay
        report.counts[Count.TASKS] += sum(1 for o in outcomes.values()
                                          if o.task_id and o.status is Status.APPLIED)
        for step in plan.steps:
            outcome = outcomes[step.decision.conversion_id]
            count = count_of_outcome(outcome)
            if count is Count.CREATED_LEADS and outcome.conversion_id in facts.people.counted:
                count = Count.ATTACHED          # its Lead was counted by the run that made it
            report.counts[count] += 1
            if step.member == MemberAction.UPDATE and outcome.status is Status.APPLIED:
                report.counts[Count.STATUS_MOVES] += 1
            if outcome.status is Status.FAILED and outcome.error_code:
                report.refused[outcome.error_code] += 1
                if created_here(step, outcome):   # its membership failed, its record exists
                    report.counts[Count.CREATED_LEADS if outcome.lead_id else
                                  Count.CREATED_CONTACTS] += 1
            if options.keep_details:
                report.responses.append({**step_json(step), **outcome_json(outcome),
                                         "email": outcome.email})

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


