"""Which forms a daemon cycle pages: the conversion probe's answer, or every form (the sweep).

An idle cycle used to cost one HubSpot call per mapped form (the v1 submissions feed has no
"anything new?" question), so at 100 forms a 2,500-call daily budget allowed one cycle an
hour. A cycle now asks HubSpot once which contacts converted since the last probe (the CRM
contacts search on ``recent_conversion_date``, ``adapters/hubspot/probe.py``) and pages only
the forms their conversions name. The probe has blind spots, all of which the periodic full
sweep (every mapped form from its watermark, ``[sync] full_sweep_every``) closes:

- a contact who submitted two forms between two probes shows only the latest one
  (``recent_conversion_event_name``); the earlier form waits for the sweep, unless the
  contact is new (then ``first_conversion_event_name`` names the other form too);
- a submission that creates or updates no contact (no email field) is invisible to it;
- a conversion name is a form's *name* (HubSpot often prefixes the page title: "Pricing:
  Demo request"); a name that matches no known form after the names are read again makes
  the cycle a sweep, and two forms sharing a name are both paged;
- the search index lags the write by seconds: each probe reaches back ``overlap_ms`` before
  the newest conversion seen so far, and the contacts it already acted on there are not acted
  on twice.

The probe's base is HubSpot's own time (the newest conversion date seen, or after a sweep the
newest submission the ledger recorded), never this host's clock, so a skewed clock cannot
make it skip anything; the host's clock only schedules the sweeps.

Pure: plain values in, plain values out; the clock, the state and HubSpot are the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

PROBE_OVERLAP_MS = 120_000     # how far each probe reaches back for the search index's lag
PROBE_MAX_PAGES = 5            # 1,000 contacts at 200 a page; past that a sweep is cheaper


@dataclass(frozen=True)
class Conversion:
    """One contact the probe found: when it last converted and on what (names, not ids)."""

    contact_id: str
    recent_ms: int
    recent_name: str
    first_ms: int | None = None
    first_name: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """The probe's answer. ``complete`` is False when more contacts matched than the probe
    pages (or than HubSpot's 10,000-result search cap), so it cannot say which forms."""

    conversions: tuple[Conversion, ...]
    complete: bool = True


@dataclass(frozen=True)
class FreshMarks:
    """What the next cycle needs from the last (kept in the state between cycles)."""

    base_ms: int | None            # HubSpot's time: the newest conversion (or submission) seen
    swept_ms: int                  # the last full sweep's start (this host's clock)
    seen: tuple[tuple[str, int], ...] = ()   # (contact, recent_ms) acted on inside the overlap
    # Conversion names no form carries even after the names were read again (not a form, or
    # a form HubSpot names differently): one sweep for each, then left to the scheduled sweeps.
    unknown: tuple[str, ...] = ()
    swept_forms: tuple[str, ...] = ()   # the mapped forms the last sweep paged

    def to_json(self) -> dict[str, object]:
        return {"base_ms": self.base_ms, "swept_ms": self.swept_ms,
                "seen": [list(s) for s in self.seen], "unknown": list(self.unknown),
                "swept_forms": list(self.swept_forms)}

    @classmethod
    def from_json(cls, raw: object) -> "FreshMarks | None":
        """None for anything unreadable: the cycle is then a sweep, which is always safe."""
        if not isinstance(raw, dict):
            return None
        try:
            seen = tuple((str(c), int(ms)) for c, ms in raw.get("seen") or [])
            unknown = tuple(str(n) for n in raw.get("unknown") or [])
            base = raw.get("base_ms")
            forms = tuple(str(f) for f in raw.get("swept_forms") or [])
            return cls(None if base is None else int(base), int(raw["swept_ms"]), seen, unknown,
                       forms)
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class CyclePlan:
    """What one cycle pages: every form (``sweep``) or ``forms`` only; ``why`` for the log."""

    sweep: bool
    forms: frozenset[str] = frozenset()
    why: str = ""
    unresolved: tuple[str, ...] = ()   # conversion names no known form carries
    acted: tuple[tuple[str, int], ...] = field(default=(), repr=False)


def sweep_due(marks: FreshMarks | None, now_ms: int, every_ms: int,
              mapped: Iterable[str] = ()) -> str | None:
    """Why this cycle must be a full sweep before any probe, or None to probe.

    The first cycle sweeps (there is no probe base yet), and so does any cycle once
    ``every_ms`` has passed since the last sweep: the safety net for the probe's blind spots.
    A clock that went backwards (the host's time was reset) also sweeps, and so does a cycle
    with a form mapped since the last sweep (its history is read from ``[sync] start``)."""
    if marks is None:
        return "first cycle"
    if not set(mapped) <= set(marks.swept_forms):
        return "a form mapped since the last sweep"
    if now_ms < marks.swept_ms:
        return "the clock went back"
    if now_ms - marks.swept_ms >= every_ms:    # (0: every cycle is a sweep)
        return "full sweep due"
    return None


def probe_since(marks: FreshMarks, now_ms: int, overlap_ms: int = PROBE_OVERLAP_MS) -> int:
    """The probe asks for ``recent_conversion_date`` after this (epoch ms): the overlap before
    the newest conversion seen, or before now while nothing was ever seen."""
    base = now_ms if marks.base_ms is None else marks.base_ms
    return max(0, base - overlap_ms)


def name_matches(conversion_name: str, form_name: str) -> bool:
    """Whether a contact's conversion name is this form: the form's own name, or the
    "<page title>: <form name>" HubSpot records for a form on a page."""
    event, form = conversion_name.strip().casefold(), form_name.strip().casefold()
    return bool(form) and (event == form or event.endswith(": " + form))


def forms_named(conversion_name: str, names: Mapping[str, str]) -> set[str]:
    """Every form (id) whose name the conversion name carries."""
    return {form_id for form_id, name in names.items() if name_matches(conversion_name, name)}


def plan_from_probe(result: ProbeResult, *, marks: FreshMarks, names: Mapping[str, str],
                    mapped: Iterable[str], since_ms: int) -> CyclePlan:
    """The forms to page after a probe (``names``: every form of the portal, id -> name).

    Conversions already acted on inside the overlap are skipped; a contact new since the
    probe base names its first form too. Names that no form carries (a form renamed since
    the names were read, or a name format HubSpot changed) leave the plan ``unresolved``:
    the caller reads the names again once and, if still unresolved, sweeps."""
    if not result.complete:
        return CyclePlan(True, why="more conversions than the probe pages")
    mapped_set = set(mapped)
    seen = set(marks.seen)
    since = since_ms
    forms: set[str] = set()
    unresolved: list[str] = []
    acted: list[tuple[str, int]] = []
    for conv in result.conversions:
        if (conv.contact_id, conv.recent_ms) in seen:
            continue
        acted.append((conv.contact_id, conv.recent_ms))
        wanted = [conv.recent_name]
        if (conv.first_name and conv.first_ms is not None and conv.first_ms > since
                and (conv.contact_id, conv.first_ms) not in seen):   # not acted on already
            wanted.append(conv.first_name)
        for name in wanted:
            if not name or name in marks.unknown:
                continue
            hit = forms_named(name, names)
            if not hit:
                unresolved.append(name)
            forms |= hit & mapped_set
    if unresolved:
        return CyclePlan(False, frozenset(forms), why="unresolved conversion names",
                         unresolved=tuple(sorted(set(unresolved))), acted=tuple(acted))
    why = "no new conversion" if not forms else f"{len(forms)} form(s) with new conversions"
    return CyclePlan(False, frozenset(forms), why=why, acted=tuple(acted))


def marks_after(*, plan: CyclePlan, before: FreshMarks | None, started_ms: int,
                result: ProbeResult | None, newest_recorded_ms: int | None = None,
                scheduled: bool = False, mapped: Iterable[str] = (),
                since_ms: int | None = None, overlap_ms: int = PROBE_OVERLAP_MS) -> FreshMarks:
    """The marks once a cycle's run has finished (not after a failed run: the caller then
    keeps ``before``, so the next probe asks again from the same base).

    The next probe's base is the newest conversion date the probe saw, or after a sweep the
    newest submission the ledger holds (``newest_recorded_ms``), never lower than before;
    with none of those, where this cycle's probe asked from (``since_ms``). Only HubSpot's
    times move it, so a host clock ahead of HubSpot's cannot make a probe skip anything.
    The contacts acted on whose conversion is inside the next probe's overlap are
    remembered, so the overlap does not page their forms twice; older ones fall out.
    Unknown conversion names are kept until a scheduled sweep (``scheduled``), and this
    cycle's unresolved ones are added (at most 100)."""
    swept = started_ms if plan.sweep or before is None else before.swept_ms
    candidates = [before.base_ms if before else None, newest_recorded_ms if plan.sweep else None,
                  *(c.recent_ms for c in (result.conversions if result else ()))]
    known = [c for c in candidates if c is not None]
    # Nothing ever seen (an empty portal): keep asking from where this probe asked, so the
    # base does not follow this host's clock past a conversion not yet indexed.
    base = max(known) if known else (None if since_ms is None else since_ms + overlap_ms)
    horizon = (started_ms if base is None else base) - overlap_ms
    kept: set[tuple[str, int]] = set()
    if before is not None and not plan.sweep:
        kept |= {s for s in before.seen if s[1] > horizon}
    if result is not None:
        kept |= {(c.contact_id, c.recent_ms) for c in result.conversions if c.recent_ms > horizon}
    unknown = () if scheduled or before is None else before.unknown
    unknown = tuple(dict.fromkeys((*unknown, *plan.unresolved)))[-100:]
    forms = tuple(sorted(mapped)) if plan.sweep else (before.swept_forms if before else ())
    return FreshMarks(base, swept, tuple(sorted(kept)), unknown, forms)


# -- what a cycle costs: for the README's budget advice and bench/freshness.py -----------

@dataclass(frozen=True)
class Budget:
    """Calls a day for a daemon at ``interval_s`` with ``forms`` mapped forms."""

    interval_s: float
    sweep_every_s: float
    forms: int
    probe_calls: float = 1.0           # per probe cycle (one page unless very busy)
    busy_forms_per_cycle: float = 0.0  # forms with new submissions in an average cycle

    def per_day(self) -> float:
        cycles = 86_400 / self.interval_s
        sweeps = 86_400 / self.sweep_every_s if self.sweep_every_s > 0 else 0.0
        probe_cycles = max(0.0, cycles - sweeps)
        # a sweep cycle probes first (so the next probe's overlap pages nothing twice)
        return (sweeps * (self.forms + self.probe_calls)
                + probe_cycles * (self.probe_calls + self.busy_forms_per_cycle))


def shortest_interval(daily_calls: float, *, forms: int, sweep_every_s: float,
                      busy_forms_per_cycle: float = 0.0, probe_calls: float = 1.0) -> float | None:
    """The shortest cycle interval (seconds) whose HubSpot calls fit ``daily_calls``, or None
    when the sweeps alone spend the budget (sweep less often, or raise the budget)."""
    sweeps = 86_400 / sweep_every_s if sweep_every_s > 0 else 0.0
    # a sweep cycle costs every form and its probe instead of one probe cycle's calls
    left = daily_calls - sweeps * (forms + probe_calls) + sweeps * (probe_calls + busy_forms_per_cycle)
    per_cycle = probe_calls + busy_forms_per_cycle
    if left <= 0 or per_cycle <= 0:
        return None
    return 86_400 / (left / per_cycle)


def sweep_every_for(daily_calls: float, *, forms: int, share: float = 0.5,
                    floor_s: float = 3600.0) -> float:
    """The sweep interval that spends at most ``share`` of the budget on sweeps, never
    more often than ``floor_s`` (hourly): what the README advises for a tight budget."""
    if forms <= 0 or daily_calls <= 0:
        return floor_s
    sweeps_per_day = share * daily_calls / forms
    return max(floor_s, 86_400 / sweeps_per_day) if sweeps_per_day > 0 else floor_s


def mapped_forms(campaign_forms: Sequence[str]) -> list[str]:
    """The mapped forms in order, each once (a form may feed one campaign only, but be safe)."""
    return list(dict.fromkeys(campaign_forms))
