"""``[scoring]``'s rules compiled for the sync's hot path, and the reasons text. (pure)

A sync scores every response, so the rules are turned once per configuration into what the
loop in ``scoring._behaviour`` and ``scoring.score`` runs: per form id the rules a response to
it can meet, each rule's other conditions as one closure, the fit rules with how each reads
its value. The result is exactly a loop over every rule's ``BehaviourRule.matches`` and
``FitRule.match`` (``tests/test_scoring_compiled.py`` checks it on random rules).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING, Callable, Mapping, NamedTuple, Sequence

from connector.core.enrich import scoring as _scoring
from connector.core.enrich.scoring import (DAY_MS, EMAIL_DOMAIN, EMAIL_KIND, BehaviourRule, Event,
                                           Match, Score, Scoring, fit_value)

if TYPE_CHECKING:
    from connector.core.model import Response

Check = Callable[[Event], bool]
# An Event from a tuple of all six fields without the named tuple's Python-level __new__
# (the generated one only packs its arguments; one Event is made per response of a sync)
_new_event: Callable[[tuple[object, ...]], Event] = partial(tuple.__new__, Event)


class Fresh(NamedTuple):
    """A one-response score's sums (see :meth:`Program.fresh_score`); ``by_rule`` is shared by every
    Score made from it, and nothing changes it. ``reasons``: the reasons text at full length
    (the same for everyone sharing the sums, so made once rather than per response);
    ``lines``: its hand-off Task lines, once a Task asks for them (``scoring.describe``)."""

    total: float
    behaviour: float
    fit: float
    by_rule: Mapping[str, float]
    ready: bool
    reasons: str
    lines: list[list[str]]
Step = tuple[str, float, "str | None", float, "Check | None"]   # see _steps


class Program:
    """A :class:`Scoring`'s rules as the scoring loop runs them, made once per Scoring.

    - Behaviour: per form id a rule names, the rules a response to that form can meet (those
      naming it and those naming no form), in the configured order so the lines and sums
      come out exactly as a loop over every rule's :meth:`BehaviourRule.matches`; any other
      form gets the rules naming no form. A rule's remaining conditions are one closure
      (None: the form was its only condition).
    - Caps sorted by group; fit rules each with its field's check, or None for the email's
      domain and kind, which :meth:`host_hits` works out once per email host.
    """

    __slots__ = ("by_form", "generic", "caps", "half", "fit", "_hosts", "_host_rules", "_fresh",
                 "_answer", "_wanted", "_email_rules", "_field_rules", "_pages",
                 "_campaigns_matter")

    def __init__(self, scoring: Scoring) -> None:
        rules, capped = scoring.behaviour, frozenset(scoring.caps)
        self.generic = _steps(rules, None, capped)
        self.by_form = {f: _steps(rules, f, capped) for r in rules for f in r.forms}
        self.caps = tuple(sorted(scoring.caps.items()))
        self.half = scoring.half_life_days * DAY_MS if scoring.half_life_days else None
        # (index, name, points, field, its lower-case name, check; None: read from the email)
        self.fit: tuple[tuple[int, str, float, str, str, Callable[[str | None], bool] | None],
                        ...] = tuple(
            (i, r.name, r.points, r.field, r.field.lower(),
             None if r.field in (EMAIL_DOMAIN, EMAIL_KIND) else _text_check(r.match))
            for i, r in enumerate(scoring.fit))
        self._hosts: dict[str, tuple[bool, ...]] = {}
        self._host_rules = tuple(scoring.fit)
        self._fresh: dict[tuple[object, ...], Fresh] = {}
        self._email_rules = any(check is None for *_, check in self.fit)
        self._field_rules = tuple((f, lower, check) for _i, _n, _p, f, lower, check in self.fit
                                  if check is not None)
        self._wanted = scoring.answer_fields()
        # What of a response's page and campaign the rules can tell apart (a fresh score's
        # key): the page parts rules name (pages carry query strings, nearly one per
        # response, so the page itself would make every key new), and the campaign only
        # when a rule names one.
        self._pages = tuple(sorted({p for r in rules for p in r.pages}))
        self._campaigns_matter = any(r.campaigns for r in rules)
        self._answer: str | None = next(iter(self._wanted)) if len(self._wanted) == 1 else None

    def event_of(self, r: Response) -> Event:
        """A response as scoring's event: only the answers behaviour rules name, never the
        whole form (the state keeps no more of a person than scoring needs); the names are
        worked out once per configuration, not per response."""
        conversion_id, submitted_at, form_id = r.conversion_id, r.submitted_at, r.form_id
        campaign_id, page, form_values = r.campaign_id, r.page_url, r.form_values
        name = self._answer
        if name is not None:                      # the common case: one named answer
            value = form_values.get(name)
            return _new_event((conversion_id, submitted_at, form_id, campaign_id, page,
                               {name: value} if value else _scoring.NO_ANSWERS))
        wanted = self._wanted
        answers = ({k: v for k, v in form_values.items() if k in wanted and v} if wanted
                   else _scoring.NO_ANSWERS)
        return Event(conversion_id, submitted_at, form_id, campaign_id, page,
                     answers or _scoring.NO_ANSWERS)

    def fresh_score(self, scoring: Scoring, email: str, event: Event,
                    fit_values: Mapping[str, str]) -> Score:
        """The Score of a person whose only response is ``event``, as of that response (no
        decay, no step): the common case of a sync (a new person, one fill). The sums depend
        only on what the rules can tell apart (the form if a rule names it, the campaign if a
        rule names one, which named page parts the page holds, the named answers, which fit
        rules hold), never on the moment, so people who share them share one worked-out result
        (:class:`Fresh`, made by :func:`scoring.score` itself on first sight, so it is the
        same), reasons text included. Written as one function (the key, the fit rules'
        hits, the Score): it runs for nearly every response of a sync."""
        answers = event.answers
        if answers:
            name = self._answer
            answer: object = (answers.get(name) if name is not None
                              else tuple(sorted(answers.items())))
        else:
            answer = None
        host_hits = None
        if self._email_rules:
            host = email.rpartition("@")[2]
            host_hits = self._hosts.get(host) or self.host_hits(host)   # (a hit: no call)
        hits: list[object] = [host_hits]
        for field_name, lower, check in self._field_rules:   # which fit rules hold
            value = fit_values.get(field_name)
            if value is None:
                value = fit_values.get(lower)
            hits.append(value is not None and check(value if type(value) is str else str(value)))
        page, pages = event.page, self._pages
        if page and pages:
            folded = page.casefold()
            on_pages: object = ((pages[0] in folded) if len(pages) == 1
                                else tuple([part in folded for part in pages]))
        else:
            on_pages = None
        key = (event.form_id if event.form_id in self.by_form else None,
               event.campaign_id if self._campaigns_matter else None, on_pages, answer, *hits)
        f = self._fresh.get(key)
        if f is None:
            if len(self._fresh) >= 65536:
                self._fresh.clear()
            s = _scoring.score(scoring, email=email, events=(event,), fit_values=fit_values,
                               as_of=event.submitted_at)
            f = self._fresh[key] = Fresh(s.total, s.behaviour, s.fit, s.by_rule, s.ready,
                                         s.reasons(), [])
        result = Score(f.total, f.behaviour, f.fit, f.by_rule, event.submitted_at, f.ready,
                       fit_values, (scoring, email, (event,)), event)
        result._reasons_made = f.reasons
        result._lines_cell = f.lines
        return result

    def rules_for(self, form_id: str) -> tuple[Step, ...]:
        return self.by_form.get(form_id, self.generic)

    def host_hits(self, host: str) -> tuple[bool, ...]:
        """Which fit rules an email host meets (by index; only the email rules' are read):
        people share hosts, so each is worked out once."""
        hits = self._hosts.get(host)
        if hits is None:
            if len(self._hosts) >= 65536:
                self._hosts.clear()
            email = "x@" + host
            hits = self._hosts[host] = tuple(
                r.field in (EMAIL_DOMAIN, EMAIL_KIND) and r.match(fit_value(r.field, email, {}))
                for r in self._host_rules)
        return hits


def _steps(rules: Sequence[BehaviourRule], form_id: str | None, capped: frozenset[str]
           ) -> tuple[Step, ...]:
    """The rules a response to ``form_id`` can meet (None: to a form no rule names), each
    as (name, points, its group if the group has a cap else None, points rounded, the
    check of its other conditions or None)."""
    return tuple((r.name, r.points, r.group if r.group in capped else None, round(r.points, 2),
                  _rest_of(r))
                 for r in rules if not r.forms or (form_id is not None and form_id in r.forms))


def _rest_of(rule: BehaviourRule) -> Check | None:
    """A rule's conditions other than its form, as one check (what :meth:`matches` does)."""
    checks: list[Check] = []
    if rule.campaigns:
        campaigns = rule.campaigns
        checks.append(lambda e: e.campaign_id in campaigns)
    if rule.field is not None and rule.answer is not None:
        checks.append(_answer_check(rule.field, rule.answer))
    if len(rule.pages) == 1:
        part = rule.pages[0]
        checks.append(lambda e: part in (e.page or "").casefold())
    elif rule.pages:
        pages = rule.pages

        def on_page(e: Event) -> bool:
            page = (e.page or "").casefold()
            return any(p in page for p in pages)
        checks.append(on_page)
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda e: all(c(e) for c in checks)


def _answer_check(name: str, match: Match) -> Check:
    test = _text_check(match)
    return lambda e: test(e.answers.get(name))


def _text_check(match: Match) -> Callable[[str | None], bool]:
    """What :meth:`Match.__call__` does, as one closure. A pattern's verdicts are remembered
    per text (bounded): people share titles and answers, and a dict lookup is several times
    cheaper than a regex search, which a sync runs for nearly every response."""
    if match.pattern is not None:
        search = match.pattern.search
        seen: dict[str, bool] = {}

        def searched(text: str | None) -> bool:
            if not text:
                return False
            hit = seen.get(text)
            if hit is None:
                if len(seen) >= 4096:
                    seen.clear()
                hit = seen[text] = search(text) is not None
            return hit
        return searched
    values = match.values
    return lambda text: bool(text) and text.strip().casefold() in values   # type: ignore[union-attr]


@lru_cache(maxsize=8192)
def reasons_of(by_rule: tuple[tuple[str, float], ...], limit: int) -> str:
    """A score's reasons from its contributions: cached, since most people of a sync earn
    the same few combinations (one form's points, a fit rule or two)."""
    # largest first, then by name (names are unique: the tuples never compare further)
    ranked = sorted([(-abs(v), rule, v) for rule, v in by_rule])
    text = "; ".join([f"{rule} +{n}" if n > 0 else f"{rule} {n}"      # as _signed
                      for _, rule, v in ranked if (n := round(v))])
    return text if len(text) <= limit else text[:limit - 1] + "…"
