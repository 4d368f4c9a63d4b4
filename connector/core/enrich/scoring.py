"""Lead scoring computed by leadsync: behaviour points from a person's responses, decayed, plus
fit points from what is known about the person. (pure)

Seed 003: "a numerical ranking system must be developed to aid in determining the point at
which leads will be sent to sales"; seed 002: hand the lead off when it becomes sales-ready,
with the history that made it so. HubSpot's legacy ``hubspotscore`` stopped updating on 31
August 2025, so a score read from a hidden form field is often frozen; leadsync holds every
response of every person in its ledger and computes the score itself.

- **Behaviour**: each response earns the points of every ``[[scoring.behaviour]]`` rule it
  matches (form, campaign, an answer by value or pattern, the page). Points decay by
  ``half_life`` from the response's time, and a step rule can cut the whole behaviour score
  down after a quiet spell. Each rule belongs to a group (by default the kind of its first
  condition); a group's points are capped, so one kind of activity (say, ten webinar fills)
  cannot make anyone sales-ready alone.
- **Fit**: each ``[[scoring.fit]]`` rule whose field matches gives its points once (negative
  allowed: a student, a free-mail address). Fit does not decay.
- **Explain**: every point carries its rule, the moment it was earned and its decayed value,
  so ``score explain`` shows the arithmetic and the Task lists the reasons.

Nothing here reads a clock: the moment a score is "as of" is always given (a response's
submission time in a sync, so a replay computes the same score; the run's date in a rescore).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping, NamedTuple, Sequence

from connector.core.domains import FreeMailList, email_domain

if TYPE_CHECKING:
    from connector.core.enrich.scoring_compiled import Program

DAY_MS = 86_400_000
KINDS = ("form", "campaign", "field", "page")
EMAIL_DOMAIN = "email_domain"     # fit pseudo-fields, read from the email itself
EMAIL_KIND = "email_kind"         # "free" (gmail.com, yahoo.*) or "business"
REASONS_MAX = 255                 # the reasons field is short text
NO_ANSWERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Match:
    """A text condition: one of ``values`` (case-blind) or a ``pattern`` (searched)."""

    values: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None

    def __call__(self, text: str | None) -> bool:
        if text is None or text == "":
            return False
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        folded = text.strip().casefold()
        return any(folded == v for v in self.values)


@dataclass(frozen=True)
class BehaviourRule:
    """One ``[[scoring.behaviour]]`` entry: ``points`` for a response meeting every condition."""

    name: str
    points: float
    group: str
    forms: frozenset[str] = frozenset()
    campaigns: frozenset[str] = frozenset()
    field: str | None = None          # a form field (lower-case) and what its answer must be
    answer: Match | None = None
    pages: tuple[str, ...] = ()       # parts of the page URL (case-blind)

    def matches(self, event: "Event") -> bool:
        """Whether ``event`` meets every condition. The scoring loop runs these conditions
        compiled (``scoring_compiled``), to the same effect."""
        if self.forms and event.form_id not in self.forms:
            return False
        if self.campaigns and event.campaign_id not in self.campaigns:
            return False
        if self.field is not None and self.answer is not None \
                and not self.answer(event.answers.get(self.field)):
            return False
        if self.pages:
            page = (event.page or "").casefold()
            if not any(p in page for p in self.pages):
                return False
        return True


@dataclass(frozen=True)
class FitRule:
    """One ``[[scoring.fit]]`` entry: ``points`` once when the person's ``field`` matches."""

    name: str
    points: float
    field: str
    match: Match


@dataclass(frozen=True)
class Scoring:
    """The parsed ``[scoring]`` table."""

    sales_ready: float
    behaviour: tuple[BehaviourRule, ...] = ()
    fit: tuple[FitRule, ...] = ()
    half_life_days: float | None = None
    step_after_days: float | None = None    # no response for this long ...
    step_to: float = 0.0                    # ... and behaviour points are cut down to this
    caps: Mapping[str, float] = field(default_factory=dict)
    min_behaviour: float | None = None
    min_fit: float | None = None
    lead_field: str | None = None           # where the score is written
    contact_field: str | None = None
    date_field: str | None = None           # the date it was computed (Lead and Contact)
    reasons_field: str | None = None        # its top reasons as short text (Lead and Contact)
    reasons_length: int = REASONS_MAX
    demote: bool = False                    # a drop below sales_ready moves a Lead to nurture

    def answer_fields(self) -> frozenset[str]:
        """The form fields behaviour rules look at: all a stored event needs to keep."""
        return self._answer_fields

    def fit_fields(self) -> frozenset[str]:
        return self._fit_fields

    @cached_property
    def _answer_fields(self) -> frozenset[str]:     # asked for every response of a sync
        return frozenset(r.field for r in self.behaviour if r.field)

    @cached_property
    def _fit_fields(self) -> frozenset[str]:
        return frozenset(r.field for r in self.fit)

    @cached_property
    def snapshot_fields(self) -> tuple[tuple[str, str], ...]:
        """(name, lower-case name) of the fit fields read from a response or a record."""
        return tuple((n, n.lower()) for n in sorted(self._fit_fields)
                     if n not in (EMAIL_DOMAIN, EMAIL_KIND))

    def score_field(self, sobject: str) -> str | None:
        return self.lead_field if sobject == "Lead" else self.contact_field

    def written_fields(self, sobject: str) -> tuple[str, str | None, str | None] | None:
        """(score, date, reasons) field names a score writes on ``sobject``; None when the
        object has no score field (its date and reasons fields are only written with one)."""
        target = self.score_field(sobject)
        return (target, self.date_field, self.reasons_field) if target else None

    @cached_property
    def program(self) -> "Program":
        """The rules compiled once (``scoring_compiled.Program``): a sync scores every
        response."""
        return _compiled.Program(self)

    def record_fields(self, sobject: str) -> tuple[str, ...]:
        """Fields a record is read with: fit's record fields and the score's own fields."""
        own = [self.score_field(sobject), self.date_field, self.reasons_field]
        fit = [f for f in sorted(self.fit_fields()) if f[:1].isupper() or f.endswith("__c")]
        return tuple(dict.fromkeys(n for n in [*own, *fit] if n))


class Event(NamedTuple):
    """One applied response as scoring sees it (the ledger's moment plus the answers rules
    name and the page). A named tuple: made for every response of a sync and every stored
    response of a rescore, and a tuple is made several times faster than a frozen class."""

    conversion_id: str
    submitted_at: int
    form_id: str
    campaign_id: str = ""
    page: str | None = None
    answers: Mapping[str, str] = NO_ANSWERS


class Point(NamedTuple):
    """One line of a score's explanation; ``at`` is None for fit and caps. (A named tuple:
    a sync makes a few per response, and a tuple is made several times faster.)"""

    rule: str
    points: float
    at: int | None
    decayed_to: float


@dataclass(eq=False, slots=True)
class Score:
    """A person's score as of ``as_of``, with its arithmetic. (Not frozen: one is made per
    response and per person rescored, and a frozen class's init is several times dearer;
    nothing changes one after it is made. Slotted: a sync holds one per response of a batch,
    and no attribute dict each means less for the cycle collector to walk.)"""

    total: float
    behaviour: float
    fit: float
    by_rule: Mapping[str, float]     # each rule's contribution (caps and steps negative)
    as_of: int
    ready: bool
    fit_values: Mapping[str, str] = field(default_factory=dict)   # what fit read (kept for rescores)
    inputs: "tuple[Scoring, str, Sequence[Event]] | None" = field(default=None, repr=False,
                                                                  compare=False)
    event: Event | None = field(default=None, repr=False, compare=False)   # a sync's response
    # the reasons at full length, made on first use (a plain attribute: functools'
    # cached_property takes a lock on every first use, and a sync makes a Score per response)
    _reasons_made: str | None = field(default=None, init=False, repr=False, compare=False)
    _points_made: "tuple[Point, ...] | None" = field(default=None, init=False, repr=False,
                                                     compare=False)
    # a one-response score shared between people (``scoring_compiled.Fresh``): the cell where
    # its hand-off Task lines are kept once made, the same for everyone sharing it
    _lines_cell: "list[list[str]] | None" = field(default=None, init=False, repr=False,
                                                  compare=False)

    @property
    def points(self) -> tuple[Point, ...]:
        """Every line of the arithmetic (rule, points, at, decayed_to). Made on demand from the
        inputs (``score explain``, a hand-off's Task), once: a sync only needs the sums."""
        if self._points_made is None:
            if self.inputs is None:
                self._points_made = ()
            else:
                scoring, email, events = self.inputs
                lines: list[Point] = []
                _behaviour(scoring, events, self.as_of, lines)
                self._points_made = (*lines, *fit_points(scoring, email, self.fit_values))
        return self._points_made

    @property
    def value(self) -> int:
        """The number written to Salesforce: whole points (a decay of 0.01 is no change)."""
        return round(self.total)      # a float rounds to an int

    def reasons(self, limit: int = REASONS_MAX) -> str:
        """The top reasons, largest contribution first, as one short line."""
        if limit != REASONS_MAX:
            return self._reasons_text(limit)
        text = self._reasons_made           # written to the record: made once
        if text is None:
            text = self._reasons_made = self._reasons_text(REASONS_MAX)
        return text

    def _reasons_text(self, limit: int) -> str:
        return _compiled.reasons_of(tuple(self.by_rule.items()), limit)


def _signed(value: float) -> str:
    n = int(round(value))
    return f"+{n}" if n >= 0 else str(n)


# -- the arithmetic ----------------------------------------------------------------------

def decay(points: float, age_ms: int, half_life_days: float | None) -> float:
    """``points`` earned ``age_ms`` ago under a half-life (none: no decay)."""
    if not half_life_days or age_ms <= 0:
        return float(points)
    return points * 0.5 ** (age_ms / (half_life_days * DAY_MS))


def _behaviour(scoring: Scoring, events: Sequence[Event], as_of: int,
               lines: list[Point] | None = None) -> dict[str, float]:
    """Rule -> decayed points (caps and the step as negative entries); the explanation's
    lines too when ``lines`` is given. One loop for both, so the sums a
    sync writes and the lines ``score explain`` shows cannot disagree. The rules come
    compiled (``scoring_compiled.Program``): a response is checked only against the rules
    its form can meet, in the configured order."""
    program = scoring.program
    by_form, generic, half = program.by_form, program.generic, program.half
    by_rule: dict[str, float] = {}
    earned: dict[str, float] = {}       # capped groups only
    last = None
    ordered = sorted(events, key=_event_order) if len(events) > 1 else events
    for event in ordered:
        at = event.submitted_at
        if at > as_of:
            continue
        last = at
        decayed = half is not None and as_of > at
        factor = 0.5 ** ((as_of - at) / half) if decayed else 1.0   # type: ignore[operator]
        for name, points, capped, rounded, check in by_form.get(event.form_id, generic):
            if check is not None and not check(event):
                continue
            # undecayed (a sync's own response): the rounding is the rule's, made once
            value = round(points * factor, 2) if decayed else rounded
            if lines is not None:
                lines.append(Point(name, points, at, value))
            if capped is not None:
                earned[capped] = earned.get(capped, 0.0) + value
            by_rule[name] = by_rule.get(name, 0.0) + value
    for group, cap in program.caps:
        if earned.get(group, 0.0) > cap:
            name, cut = f"cap {group}", round(cap - earned[group], 2)
            by_rule[name] = cut
            if lines is not None:
                lines.append(Point(name, 0.0, None, cut))
    if scoring.step_after_days is not None and last is not None \
            and as_of - last > scoring.step_after_days * DAY_MS:
        total = sum(by_rule.values())
        if total > scoring.step_to:
            name = f"no response for {scoring.step_after_days:g}d"
            cut = round(scoring.step_to - total, 2)
            by_rule[name] = cut
            if lines is not None:
                lines.append(Point(name, 0.0, None, cut))
    return by_rule


def _event_order(e: Event) -> tuple[int, str]:
    return e.submitted_at, e.conversion_id


def fit_points(scoring: Scoring, email: str, values: Mapping[str, str]) -> list[Point]:
    """Each fit rule whose field matches, once. ``values`` are the person's fields by name
    (Salesforce field names as written, form fields lower-case); the email's domain and kind
    are read from the email. (A hand-off's Task lists these, so they come from the same
    compiled checks as the score's sums: :func:`_fit_hits`.)"""
    return [Point(name, points, None, float(points))
            for name, points in _fit_hits(scoring, email, values)]


def _fit_hits(scoring: Scoring, email: str, values: Mapping[str, str]) -> list[tuple[str, float]]:
    """(rule, points) of each fit rule that holds, in the configured order: what
    ``rule.match(fit_value(rule.field, email, values))`` says of each, through the compiled
    checks (``scoring_compiled.Program``: email rules once per host, pattern verdicts
    remembered)."""
    program = scoring.program
    hits: tuple[bool, ...] | None = None
    out = []
    for i, name, points, field_name, lower, check in program.fit:
        if check is None:                         # the email's domain or kind
            if hits is None:
                hits = program.host_hits(email.rpartition("@")[2])
            if not hits[i]:
                continue
        else:
            value = values.get(field_name)
            if value is None:
                value = values.get(lower)
            if value is None or not check(str(value)):
                continue
        out.append((name, points))
    return out


def fit_value(name: str, email: str, values: Mapping[str, str]) -> str | None:
    if name == EMAIL_DOMAIN:
        return _domain_of(email.rpartition("@")[2])
    if name == EMAIL_KIND:
        return "free" if _free_mail(_domain_of(email.rpartition("@")[2])) else "business"
    value = values.get(name)
    if value is None:
        value = values.get(name.lower())
    return None if value is None else str(value)


@lru_cache(maxsize=65536)
def _domain_of(host: str) -> str:
    """The normalised domain of an email's host part; people share domains, so it is cached."""
    return email_domain("x@" + host)


@lru_cache(maxsize=4096)
def _free_mail(domain: str) -> bool:
    return domain in _free_list()


@lru_cache(maxsize=1)
def _free_list() -> "FreeMailList":
    from connector.shipped import load_free_mail

    return load_free_mail()


def score(scoring: Scoring, *, email: str, events: Sequence[Event],
          fit_values: Mapping[str, str], as_of: int) -> Score:
    """The person's score as of ``as_of`` (epoch ms); its lines are made when asked for."""
    by_rule = _behaviour(scoring, events, as_of)
    behaviour = round(sum(by_rule.values()), 2)
    fit = 0.0
    for name, points in _fit_hits(scoring, email, fit_values):
        by_rule[name] = by_rule.get(name, 0.0) + points
        fit += points
    fit = round(fit, 2)
    total = round(behaviour + fit, 2)
    ready = (total >= scoring.sales_ready
             and (scoring.min_behaviour is None or behaviour >= scoring.min_behaviour)
             and (scoring.min_fit is None or fit >= scoring.min_fit))
    return Score(total, behaviour, fit, by_rule, as_of, ready, fit_values,
                 (scoring, email, events))


def fit_snapshot(scoring: Scoring, *sources: Mapping[str, object] | None) -> dict[str, str]:
    """The values fit rules read, first source that has each (a response's Lead fields, its
    form values, then the record's current fields)."""
    out: dict[str, str] = {}
    for name, lower in scoring.snapshot_fields:
        same = name == lower
        for source in sources:
            if not source:
                continue
            value = source.get(name)
            if value is None and not same:
                value = source.get(lower)
            if value not in (None, "", "[not provided]"):
                out[name] = str(value)
                break
    return out


def score_fields(scoring: Scoring, sobject: str, result: Score, *, date: str) -> dict[str, object]:
    """The record fields a score writes (only the configured ones). An object without its
    score field gets none: its date and reasons fields are only checked where a score goes."""
    names = scoring.written_fields(sobject)
    if names is None:
        return {}
    target, date_field, reasons_field = names
    fields: dict[str, object] = {target: result.value}
    if date_field:
        fields[date_field] = date
    if reasons_field:
        fields[reasons_field] = result.reasons(scoring.reasons_length)
    return fields


def crossing(scoring: Scoring, before: int | None, after: Score, *,
             was_ready: bool | None = None) -> str | None:
    """"up" when the score now makes the person sales-ready and the stored one did not
    (never scored counts as below), "down" for the reverse, else None. ``was_ready`` is
    what the state recorded (under the rules of that time); without it the stored number
    is compared with today's threshold."""
    was = was_ready if was_ready is not None else (
        before is not None and before >= scoring.sales_ready)
    if after.ready and not was:
        return "up"
    if was and not after.ready:
        return "down"
    return None


def describe(result: Score, *, limit: int = 8) -> list[str]:
    """Lines for a Task's description: the score and its biggest reasons. A sync makes a
    Task for every sales-ready response, most of them one-response scores whose lines are the
    same for everyone who met the same rules (they name no date): those are made once."""
    cell = result._lines_cell
    if cell is None or limit != 8:
        return _describe(result, limit)
    if not cell:
        cell.append(_describe(result, limit))
    return list(cell[0])


def _describe(result: Score, limit: int) -> list[str]:
    lines = [f"Score {result.value} (behaviour {result.behaviour:g}, fit {result.fit:g}):"]
    ranked = sorted(result.points, key=lambda p: -abs(p.decayed_to))[:limit]
    lines += [f"  {_signed(p.decayed_to)} {p.rule}" for p in ranked if round(p.decayed_to) != 0]
    return lines


def merged_events(stored: Sequence[Event], batch: Sequence[Event]) -> list[Event]:
    """Stored events and this batch's, one per conversion id (a replayed response counts once)."""
    seen = {e.conversion_id: e for e in stored}
    seen.update((e.conversion_id, e) for e in batch)
    return list(seen.values())


# the compiled rules and the reasons text (a module of their own; it imports this one's types,
# so it is bound here, after them, and read at call time)
from connector.core.enrich import scoring_compiled as _compiled  # noqa: E402
