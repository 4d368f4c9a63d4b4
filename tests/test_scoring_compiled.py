"""The sync's cheaper scoring path gives exactly what the plain arithmetic gives.

- ``score`` runs compiled rules (per-form rule lists, one closure per rule's other
  conditions, email fit rules worked out once per host): checked against a plain loop over
  every rule's ``BehaviourRule.matches`` and ``FitRule.match`` on random people, events,
  decays, caps and step rules (sums, per-rule order, lines, reasons, readiness).
- ``ScoreStore.record_sync`` appends each event to its person's stored history inside
  SQLite: a replay adds nothing, an older response never overwrites a newer score, a person
  copied from the ledger (no score yet) takes the first one, and a conversion id that ends
  another's is still its own event.
"""

from __future__ import annotations

import random
import re

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.scoring import ScoreStore, SyncedScore, synced
from connector.core.enrich.scoring import (DAY_MS, BehaviourRule, Event, FitRule, Match, Point,
                                           Score, Scoring, fit_value, score)

FORMS = ("webinar", "whitepaper", "demo", "other")
T0 = 1_760_000_000_000


def _scoring(rnd: random.Random) -> Scoring:
    rules = []
    for i in range(rnd.randint(1, 7)):
        kind = rnd.choice(["form", "forms", "campaign", "field", "value", "page", "pages", "mix"])
        forms: frozenset[str] = frozenset()
        campaigns: frozenset[str] = frozenset()
        field, answer, pages = None, None, ()
        if kind in ("form", "mix"):
            forms = frozenset([rnd.choice(FORMS)])
        if kind == "forms":
            forms = frozenset(rnd.sample(FORMS, 2))
        if kind in ("campaign", "mix"):
            campaigns = frozenset(["c1"])
        if kind in ("field", "mix"):
            field, answer = "jobtitle", Match(pattern=re.compile("(?i)manager"))
        if kind == "value":
            field, answer = "timeline", Match(values=("this quarter",))
        if kind == "page":
            pages = ("/pricing",)
        if kind == "pages":
            pages = ("/pricing", "/demo")
        rules.append(BehaviourRule(f"rule {i}", rnd.choice([5, 10, 12.5, 15, 7.25, -3]),
                                   rnd.choice(["content", "intent", f"rule {i}"]), forms,
                                   campaigns, field, answer, pages))
    fit = [FitRule("senior", 15, "Title", Match(pattern=re.compile(r"(?i)\b(vp|director)\b"))),
           FitRule("free mail", -20, "email_kind", Match(values=("free",))),
           FitRule("uk", 5, "email_domain", Match(pattern=re.compile(r"\.uk$"))),
           FitRule("country", 3.5, "country", Match(values=("gb", "uk")))]
    return Scoring(sales_ready=rnd.choice([20, 40, 60]), behaviour=tuple(rules),
                   fit=tuple(rnd.sample(fit, rnd.randint(0, 4))),
                   half_life_days=rnd.choice([None, 7, 30]),
                   step_after_days=rnd.choice([None, 20]), step_to=rnd.choice([0.0, 5.0]),
                   caps=rnd.choice([{}, {"content": 25}, {"content": 12.5, "intent": 30}]),
                   min_behaviour=rnd.choice([None, 10]), min_fit=rnd.choice([None, 0]))


def _event(rnd: random.Random, i: int) -> Event:
    answers = {k: v for k, v in (("jobtitle", rnd.choice(["", "Sales Manager", "VP"])),
                                 ("timeline", rnd.choice(["", " This Quarter ", "later"]))) if v}
    return Event(f"c{i}", T0 + rnd.randint(0, 90) * DAY_MS, rnd.choice(FORMS),
                 rnd.choice(["", "c1", "c2"]),
                 rnd.choice([None, "", "https://x.example/Pricing?a=1", "https://x.example/demo"]),
                 answers)


def _reference(scoring: Scoring, email: str, events: list[Event], fit_values: dict[str, str],
               as_of: int) -> tuple[dict[str, float], list[Point], float, float, float, bool]:
    """The arithmetic as a plain loop over every rule (the code before it was compiled)."""
    by_rule: dict[str, float] = {}
    earned: dict[str, float] = {}
    lines: list[Point] = []
    last = None
    half = scoring.half_life_days * DAY_MS if scoring.half_life_days else None
    for event in sorted(events, key=lambda e: (e.submitted_at, e.conversion_id)):
        at = event.submitted_at
        if at > as_of:
            continue
        last = at
        factor = 0.5 ** ((as_of - at) / half) if half and as_of > at else 1.0
        for rule in scoring.behaviour:
            if rule.matches(event):
                value = round(rule.points * factor, 2)
                lines.append(Point(rule.name, rule.points, at, value))
                earned[rule.group] = earned.get(rule.group, 0.0) + value
                by_rule[rule.name] = by_rule.get(rule.name, 0.0) + value
    for group, cap in sorted(scoring.caps.items()):
        if earned.get(group, 0.0) > cap:
            by_rule[f"cap {group}"] = cut = round(cap - earned[group], 2)
            lines.append(Point(f"cap {group}", 0.0, None, cut))
    total = sum(by_rule.values())
    if (scoring.step_after_days is not None and last is not None
            and as_of - last > scoring.step_after_days * DAY_MS and total > scoring.step_to):
        name = f"no response for {scoring.step_after_days:g}d"
        by_rule[name] = cut = round(scoring.step_to - total, 2)
        lines.append(Point(name, 0.0, None, cut))
    behaviour = round(sum(by_rule.values()), 2)
    fit = 0.0
    for f in scoring.fit:
        if f.match(fit_value(f.field, email, fit_values)):
            by_rule[f.name] = by_rule.get(f.name, 0.0) + f.points
            lines.append(Point(f.name, f.points, None, float(f.points)))
            fit += f.points
    fit = round(fit, 2)
    total = round(behaviour + fit, 2)
    ready = (total >= scoring.sales_ready
             and (scoring.min_behaviour is None or behaviour >= scoring.min_behaviour)
             and (scoring.min_fit is None or fit >= scoring.min_fit))
    return by_rule, lines, behaviour, fit, total, ready


@pytest.mark.parametrize("seed", range(40))
def test_compiled_rules_score_as_the_plain_loop(seed: int) -> None:
    rnd = random.Random(seed)
    scoring = _scoring(rnd)
    for person in range(25):
        email = rnd.choice(["bob@gmail.com", "ann@acme.co.uk", "joe@acme.example", "x@Mail.UK"])
        fit_values = rnd.choice([{}, {"Title": "VP Sales"}, {"title": "director"},
                                 {"country": "GB", "Title": "Engineer"}])
        events = [_event(rnd, person * 10 + i) for i in range(rnd.randint(1, 4))]
        as_of = rnd.choice([events[0].submitted_at, T0 + 100 * DAY_MS, T0 + 30 * DAY_MS])
        got = score(scoring, email=email, events=events, fit_values=fit_values, as_of=as_of)
        by_rule, lines, behaviour, fit, total, ready = _reference(scoring, email, events,
                                                                  fit_values, as_of)
        assert list(got.by_rule.items()) == list(by_rule.items())
        assert (got.behaviour, got.fit, got.total, got.ready) == (behaviour, fit, total, ready)
        assert list(got.points) == lines
        reference = Score(total, behaviour, fit, by_rule, as_of, ready)
        assert got.reasons() == reference._reasons_text(255) and got.value == reference.value
        assert got.reasons(20) == reference._reasons_text(20)


@pytest.mark.parametrize("seed", range(40))
def test_a_one_response_score_shared_between_people_is_the_plain_loops(seed: int) -> None:
    """``Program.fresh`` (the sync's path for a person whose only response is this one)
    works a combination out once and hands it to everyone who meets the same rules: each
    one's sums are still exactly the plain loop's for that person, at that moment."""
    rnd = random.Random(seed)
    scoring = _scoring(rnd)
    cases = [(rnd.choice(["bob@gmail.com", "ann@acme.co.uk", "joe@acme.example", "x@Mail.UK"]),
              rnd.choice([{}, {"Title": "VP Sales"}, {"title": "director"},
                          {"country": "GB", "Title": "Engineer"}]), _event(rnd, i))
             for i in range(60)]
    made = 0
    for round_ in (1, 2):                      # the second time round every one is found
        for email, fit_values, event in cases:
            got = scoring.program.fresh(scoring, email, event, fit_values)
            by_rule, _lines, behaviour, fit, total, ready = _reference(
                scoring, email, [event], fit_values, event.submitted_at)
            assert (dict(got.by_rule), got.behaviour, got.fit, got.total, got.ready) == (
                by_rule, behaviour, fit, total, ready), (event, email, fit_values)
        if round_ == 1:
            made = len(scoring.program._fresh)
    assert len(scoring.program._fresh) == made


# -- the stored history ---------------------------------------------------------------------

def _row(email: str, cid: str, at: int, total: float, *, page: str | None = None,
         record: str = "00Q1") -> SyncedScore:
    event = Event(cid, at, "webinar", "c1", page, {"jobtitle": "VP"})
    return synced(email, "Lead", record, event,
                  Score(total, total, 0.0, {"webinar": total}, at, total >= 50, {"Title": "VP"}))


def test_the_sync_appends_each_event_once_and_keeps_the_newest_score(tmp_path) -> None:
    state = State.open(tmp_path / "s.db")
    store = ScoreStore(state)
    store.backfill()
    state.db.execute("INSERT INTO score_people (email, sobject, record_id, as_of, events) "
                     "VALUES ('old@x.example', 'Lead', '00Q9', 0, 'c11\x1f5\x1fwebinar\x1f\x1f\x1f')")
    store.record_sync([_row("bob@x.example", "c1", T0 + 2, 20),
                       _row("bob@x.example", "c2", T0 + 1, 10, page="/a\x1eb"),
                       _row("old@x.example", "c1x", T0, 30, record="00Q2")])
    people = store.people()
    bob, old = people["bob@x.example"], people["old@x.example"]
    assert (bob.score, bob.as_of, bob.fit_values) == (20, T0 + 2, {"Title": "VP"})
    assert [(e.conversion_id, e.page) for e in bob.events] == [("c1", None), ("c2", "/a b")]
    assert (old.score, old.record_id, [e.conversion_id for e in old.events]) == (
        30, "00Q2", ["c11", "c1x"])                  # copied from the ledger, then scored

    # a replay of c1 adds nothing; an older response's score does not replace the newer
    store.record_sync([_row("bob@x.example", "c1", T0 + 2, 20),
                       _row("bob@x.example", "c0", T0, 5),
                       _row("old@x.example", "c1", T0 + 5, 60)])
    people = store.people()
    bob, old = people["bob@x.example"], people["old@x.example"]
    assert [e.conversion_id for e in bob.events] == ["c1", "c2", "c0"]
    assert (bob.score, bob.as_of) == (20, T0 + 2)
    assert (old.score, old.ready, [e.conversion_id for e in old.events]) == (
        60, True, ["c11", "c1x", "c1"])             # c1 is not c11's tail
