"""The sync's cheaper scoring path gives exactly what the plain arithmetic gives.

- ``score`` runs compiled rules (per-form rule lists, one closure per rule's other
  conditions, email fit rules worked out once per host): checked against a plain loop over
  every rule's ``BehaviourRule.matches`` and ``FitRule.match`` on random people, events,
  decays, caps and step rules (sums, per-rule order, lines, reasons, readiness).
- The ledger is the stored history: each applied response once (a replay is the same row),
  the newest score kept (an older response's never replaces it; a rescore's stands until a
  newer response), unscored responses from before [scoring] counted, parked ones not, the
  answers kept out of the ledger's export; an older release's ``score_people.events`` moves
  onto the ledger rows once.
"""

from __future__ import annotations

import random
import re

import pytest

from connector.adapters.sqlite.ledger import State
from connector.adapters.sqlite.scoring import ScoreStore, _dump_events
from connector.core.model import Action, Outcome, Status
from connector.core.enrich.scoring import (DAY_MS, BehaviourRule, Event, FitRule, Match, Point,
                                           Score, Scoring, describe, fit_value, score)

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
                 rnd.choice([None, "", "https://x.example/Pricing?a=1", "https://x.example/demo",
                             f"https://x.example/pricing?utm_source=n{i}",
                             f"https://x.example/blog?utm_source=n{i}"]),
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
    """``Program.fresh_score`` (the sync's path for a person whose only response is this one)
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
            got = scoring.program.fresh_score(scoring, email, event, fit_values)
            by_rule, _lines, behaviour, fit, total, ready = _reference(
                scoring, email, [event], fit_values, event.submitted_at)
            assert (dict(got.by_rule), got.behaviour, got.fit, got.total, got.ready) == (
                by_rule, behaviour, fit, total, ready), (event, email, fit_values)
            # a hand-off Task's lines, kept once per shared result: this person's own
            own = score(scoring, email=email, events=(event,), fit_values=fit_values,
                        as_of=event.submitted_at)
            assert describe(got) == describe(own) == describe(got), (event, email, fit_values)
            assert describe(got, limit=2) == describe(own, limit=2)
        if round_ == 1:
            made = len(scoring.program._fresh)
    assert len(scoring.program._fresh) == made


def test_a_page_is_keyed_by_the_parts_rules_name_not_by_its_query_string() -> None:
    """Pages carry tracking parameters, nearly one URL per response: the shared result is
    keyed by which named parts the page holds, so a hundred /pricing visits make one."""
    scoring = Scoring(sales_ready=50, behaviour=(
        BehaviourRule("pricing", 15, "intent", pages=("/pricing",)),
        BehaviourRule("webinar", 10, "content", forms=frozenset(["f1"]))), fit=())
    for i in range(100):
        for page in (f"https://x.example/pricing?utm_source=n{i}", f"https://x.example/blog?n={i}"):
            event = Event(f"c{i}{page[-3:]}", T0, "f1", "c1", page)
            got = scoring.program.fresh_score(scoring, f"p{i}@acme.example", event, {})
            assert got.total == (25 if "/pricing" in page else 10)
    assert len(scoring.program._fresh) == 2


# -- the stored history: the ledger ---------------------------------------------------------

def _settled(state: State, email: str, cid: str, at: int, total: float | None, *,
             page: str | None = None, record: str = "00Q1", answers: dict[str, str] | None = None,
             status: Status = Status.APPLIED) -> None:
    """One response through the ledger as a sync records it: its intent, then its outcome
    with the score it made (None: a response from before [scoring])."""
    event = Event(cid, at, "webinar", "c1", page, answers if answers is not None else {"jobtitle": "VP"})
    outcome = Outcome(cid, "webinar", at, email, Action.ATTACH_LEAD, Status.PENDING,
                      lead_id=record, campaign_id="c1")
    state.record_intents([outcome], "r1")
    outcome.status = status
    if total is not None:
        outcome.score = Score(total, total, 0.0, {"webinar": total}, at, total >= 50,
                              {"Title": "VP"}, event=event)
    state.record_outcomes([outcome], "r1")


def test_the_ledger_is_the_history_once_per_response_with_the_newest_score(tmp_path) -> None:
    state = State.open(tmp_path / "s.db")
    store = ScoreStore(state)
    store.ensure_index()
    _settled(state, "old@x.example", "c11", T0 - 5, None, record="00Q9")   # before [scoring]
    _settled(state, "bob@x.example", "c1", T0 + 2, 20)
    _settled(state, "bob@x.example", "c2", T0 + 1, 10, page="/a\x1eb", answers={})
    _settled(state, "old@x.example", "c1x", T0, 30, record="00Q2")
    _settled(state, "ann@x.example", "c3", T0, 40, status=Status.FAILED)   # parked: not history
    people = store.people()
    bob, old = people["bob@x.example"], people["old@x.example"]
    assert "ann@x.example" not in people
    assert (bob.score, bob.as_of, bob.fit_values) == (20, T0 + 2, {"Title": "VP"})
    assert [(e.conversion_id, e.page, dict(e.answers)) for e in bob.events] == [
        ("c2", "/a b", {}), ("c1", None, {"jobtitle": "VP"})]      # oldest first
    assert (old.score, old.record_id, [e.conversion_id for e in old.events]) == (
        30, "00Q2", ["c11", "c1x"])                  # the unscored one is history too
    assert store.people(["bob@x.example", "nobody@x.example"]) == {"bob@x.example": bob}

    # a replay of c1 is still one response; an older response's score does not replace the
    # newer; a rescore's later score is the stored one until a newer response
    _settled(state, "bob@x.example", "c1", T0 + 2, 20)
    _settled(state, "bob@x.example", "c0", T0, 5)
    store.record_scores([("old@x.example", "Lead", "00Q2", Score(55, 55, 0, {}, T0 + 3, True))])
    people = store.people()
    bob, old = people["bob@x.example"], people["old@x.example"]
    assert [e.conversion_id for e in bob.events] == ["c0", "c2", "c1"]
    assert (bob.score, bob.as_of) == (20, T0 + 2)
    assert (old.score, old.ready, old.as_of) == (55, True, T0 + 3)
    _settled(state, "old@x.example", "c1y", T0 + 5, 60, record="00Q2")
    assert list(store.each()) == sorted(store.people().values(), key=lambda p: p.email)
    old = store.people(["old@x.example"])["old@x.example"]
    assert (old.score, old.as_of, [e.conversion_id for e in old.events]) == (
        60, T0 + 5, ["c11", "c1x", "c1y"])
    assert "VP" not in state.export() and '"score": 20' in state.export()   # answers stay home


def test_an_older_release_s_history_moves_onto_the_ledger(tmp_path) -> None:
    """The release before kept each person's events (with pages and answers) in
    ``score_people.events``: on open they move onto the ledger rows, once."""
    path = tmp_path / "s.db"
    state = State.open(path)
    _settled(state, "bob@x.example", "c1", T0, None)
    _settled(state, "bob@x.example", "c2", T0 + 1, None)
    state.db.execute("DROP TABLE score_people")
    state.db.execute("CREATE TABLE score_people (email TEXT PRIMARY KEY, sobject TEXT, "
                     "record_id TEXT, score INTEGER, behaviour REAL, fit REAL, as_of INTEGER, "
                     "reasons TEXT, fit_values TEXT, ready INTEGER, events TEXT, updated_at TEXT)")
    events = [Event("c1", T0, "webinar", "c1", "/pricing", {"jobtitle": "VP"}),
              Event("c2", T0 + 1, "webinar", "c1", None, {"timeline": "now"})]
    state.db.execute("INSERT INTO score_people (email, sobject, record_id, score, as_of, "
                     "fit_values, ready, events) VALUES (?,?,?,?,?,?,?,?)",
                     ["bob@x.example", "Lead", "00Q1", 35, T0 + 1, "Title\x1dVP", 0,
                      _dump_events(events)])
    state.close()
    for _ in range(2):                                          # the second open changes nothing
        state = State.open(path)
        bob = ScoreStore(state).people(["bob@x.example"])["bob@x.example"]
        assert [(e.page, dict(e.answers)) for e in bob.events] == [
            ("/pricing", {"jobtitle": "VP"}), (None, {"timeline": "now"})]
        assert (bob.score, bob.as_of, bob.fit_values, bob.ready) == (35, T0 + 1, {"Title": "VP"}, False)
        state.close()


def test_a_batch_reads_its_people_by_the_email_index_not_every_applied_row(tmp_path) -> None:
    """Scoring's history and Task history read a batch's people by the ledger's email index:
    without statistics SQLite preferred the status index and read every applied row of the
    ledger for each batch (so a sync's cost grew with the ledger)."""
    state = State.open(tmp_path / "s.db")
    store = ScoreStore(state)
    store.ensure_index()
    traced: list[str] = []
    state.db.conn.set_trace_callback(traced.append)
    store.people(["a@x.example", "b@x.example"])
    state.history(["a@x.example", "b@x.example"])
    state.db.conn.set_trace_callback(None)
    reads = [sql for sql in traced if "FROM ledger" in sql and "email IN" in sql]
    assert len(reads) == 2
    for sql in reads:                      # the statement as run, its values inlined
        plan = " ".join(str(row[3]) for row in state.db.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "USING INDEX idx_ledger_email" in plan, plan


def test_a_dry_run_reads_the_history_by_an_index_without_touching_the_file(tmp_path) -> None:
    """A read-only state (a dry run, perhaps the preview before [scoring] goes live) cannot
    build the ledger's email index: it copies the applied rows once into a temporary table
    with one, instead of reading every applied row for each batch; the file is untouched."""
    path = tmp_path / "s.db"
    state = State.open(path)
    _settled(state, "bob@x.example", "c1", T0, 20, page="/pricing")
    _settled(state, "ann@x.example", "c2", T0 + 1, None)
    _settled(state, "cy@x.example", "c3", T0 + 2, 30, status=Status.FAILED)
    state.close()
    before = path.read_bytes()

    ro = State.open_read_only(path)
    store = ScoreStore(ro)
    traced: list[str] = []
    ro.db.conn.set_trace_callback(traced.append)
    people = store.people(["bob@x.example", "ann@x.example", "cy@x.example"])
    ro.db.conn.set_trace_callback(None)
    assert sorted(people) == ["ann@x.example", "bob@x.example"]
    assert (people["bob@x.example"].score, people["bob@x.example"].events[0].page) == (20, "/pricing")
    assert people["ann@x.example"].score is None
    [read] = [sql for sql in traced if "email IN" in sql]
    plan = " ".join(str(r[3]) for r in ro.db.conn.execute("EXPLAIN QUERY PLAN " + read))
    assert "idx_score_history_email" in plan, plan
    assert [p.email for p in store.each()] == ["ann@x.example", "bob@x.example"]
    ro.close()
    assert path.read_bytes() == before


def test_a_patterns_remembered_verdicts_match_a_fresh_search_past_the_bound() -> None:
    """A pattern check remembers its verdict per text (people share titles); past its bound
    it starts over, and every answer is still the regex's own."""
    from connector.core.enrich.scoring_compiled import _text_check

    pattern = re.compile(r"(?i)\b(vp|director)\b")
    check = _text_check(Match(pattern=pattern))
    texts = [f"{kind} {i}" for i in range(5000) for kind in ("VP Sales", "Intern")][:9000]
    for _ in range(2):
        assert [check(t) for t in texts] == [pattern.search(t) is not None for t in texts]
    assert (check(None), check("")) == (False, False)
