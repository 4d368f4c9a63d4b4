"""A daemon cycle that pages only the forms with news: the probe, then the run, then the marks.

The decisions are pure (``connector.core.freshness``); this module sequences them around the
vendors and the state: read the marks, sweep or probe (``adapters/hubspot/probe.py``),
resolve conversion names to forms (form names cached in the state for a day, read again
when a name resolves to no form), run the engine on the chosen forms, and keep the new marks
only after a run that finished (``ok`` or ``partial``): a failed or stopped run leaves the
old marks, so the next cycle asks HubSpot again from the same point and nothing is skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from connector.adapters.hubspot.forms import HubSpotClient
from connector.adapters.hubspot.probe import ConversionProbe
from connector.config.settings import Settings
from connector.config.sources import FORM, stream_kind
from connector.core.freshness import (CyclePlan, FreshMarks, ProbeResult, mapped_forms, marks_after,
                                      plan_from_probe, probe_since, sweep_due)
from connector.engine.report import RunOptions, RunReport
from connector.engine.run import Engine
from connector.errors import AuthError
from connector.adapters.sqlite.ledger import State

MARKS_KEY = "freshness"
NAMES_KEY = "form_names"
NAMES_MAX_AGE = 24 * 3600
FOREVER = 10 * 365 * 24 * 3600.0
FINISHED = frozenset({"ok", "partial"})
PROBE_REFUSED = ("the contacts search was refused (403: does the app have the "
                 "crm.objects.contacts.read scope?); every form is paged")


@dataclass(frozen=True)
class CycleResult:
    report: RunReport
    plan: CyclePlan
    probe_calls: int          # HubSpot calls the probe and the name reads cost (in the report's)

    def event(self) -> dict[str, object]:
        """The daemon's log line about the choice (no names of people, only counts and why)."""
        return {"event": "freshness", "sweep": self.plan.sweep, "why": self.plan.why,
                "forms_paged": None if self.plan.sweep else len(self.plan.forms),
                "probe_calls": self.probe_calls,
                "unresolved_names": len(self.plan.unresolved)}


class Freshness:
    """Chooses each cycle's forms and keeps the marks between cycles (in the state)."""

    def __init__(self, settings: Settings, *, state: State, hubspot: HubSpotClient,
                 clock: Callable[[], float] = time.time,
                 probe: ConversionProbe | None = None) -> None:
        self.settings = settings
        self.state = state
        self.hubspot = hubspot
        self.clock = clock
        self.probe = probe or ConversionProbe(hubspot)

    def cycle(self, engine: Engine, options: RunOptions) -> CycleResult:
        """One cycle: decide, run the engine on the chosen forms, keep the marks."""
        started_ms = int(self.clock() * 1000)
        marks = FreshMarks.from_json(self.state.cached(MARKS_KEY, FOREVER))
        calls_before = self.hubspot.calls
        plan, result, scheduled, since = self._plan(marks, started_ms)
        probe_calls = self.hubspot.calls - calls_before
        report = engine.run(replace(options, forms=None if plan.sweep else plan.forms))
        report.hs_calls += probe_calls
        if report.status in FINISHED and not options.dry_run:
            newest = max(self.state.watermarks().values(), default=None) if plan.sweep else None
            after = marks_after(plan=plan, before=marks, started_ms=started_ms, result=result,
                                newest_recorded_ms=newest, scheduled=scheduled,
                                mapped=self._mapped(), since_ms=since)
            self.state.cache(MARKS_KEY, after.to_json())
        return CycleResult(report, plan, probe_calls)

    def _plan(self, marks: FreshMarks | None, now_ms: int
              ) -> tuple[CyclePlan, ProbeResult | None, bool, int | None]:
        """The plan, the probe's answer, whether it is a scheduled sweep, the probe's base."""
        sync = self.settings.sync
        mapped = self._mapped()
        why = "probe off ([sync] probe = false)" if not sync.probe else sweep_due(
            marks, now_ms, sync.full_sweep_seconds * 1000, mapped)
        if not sync.probe:
            return CyclePlan(True, why=why or ""), None, True, None
        # A sweep probes too, first: what the probe sees now the sweep pages, so the next
        # probe's overlap does not page those forms again (the marks remember them as seen).
        # with no marks yet, the newest submission the ledger holds (HubSpot's time) is the
        # base, or this host's clock on a first install
        newest = max(self.state.watermarks().values(), default=None)
        since = probe_since(marks or FreshMarks(newest, now_ms), now_ms)
        try:
            result = self.probe.probe(since)
        except AuthError as exc:
            if exc.status != 403:
                raise                     # the token itself is refused: the run would be too
            # 403 is a missing scope (the contacts search needs crm.objects.contacts.read):
            # the forms can still be read, so the cycle pages every form, as before the probe
            return CyclePlan(True, why=PROBE_REFUSED), None, why is not None, None
        if why is not None or marks is None:
            return CyclePlan(True, why=why or "first cycle"), result, True, since
        seen = set(marks.seen)
        if all((c.contact_id, c.recent_ms) in seen for c in result.conversions) and result.complete:
            return CyclePlan(False, why="no new conversion"), result, False, since
        plan = plan_from_probe(result, marks=marks, names=self._names(), mapped=mapped,
                               since_ms=since)
        if plan.unresolved:   # a form renamed or added since the names were read? read again
            plan = plan_from_probe(result, marks=marks, names=self._names(fresh=True),
                                   mapped=mapped, since_ms=since)
        if plan.unresolved:
            plan = replace(plan, sweep=True, forms=frozenset(),
                           why="conversion names that no form carries")
        return plan, result, False, since

    def _mapped(self) -> list[str]:
        # forms only: events and meetings are read every cycle (the probe sees form conversions)
        return mapped_forms([c.form_id for c in self.settings.campaigns
                             if stream_kind(c.form_id) == FORM])

    def _names(self, fresh: bool = False) -> Mapping[str, str]:
        """Every form's name (all form types), from the state's day-old copy unless ``fresh``."""
        names = None if fresh else self.state.cached(NAMES_KEY, NAMES_MAX_AGE)
        if not isinstance(names, dict):
            names = self.hubspot.form_names()
            self.state.cache(NAMES_KEY, names)
        return names
