"""The scoring rules as a table (seeds 002/003): Bob Smith's four form fills earn behaviour
points, a cap keeps one kind of activity from making him sales-ready alone, points decay at
fixed dates, and fit adds (or takes away) points for who he is."""

from __future__ import annotations

import tomllib
from datetime import datetime, timezone

import pytest

from connector.config.scoring import parse_scoring
from connector.core.enrich.scoring import Event, crossing, score
from connector.errors import ConfigError

CONFIG = """
[scoring]
sales_ready = 80
caps = { content = 15 }

[[scoring.behaviour]]
name = "webinar"
points = 10
form = "webinar"
group = "content"

[[scoring.behaviour]]
name = "whitepaper"
points = 10
form = "whitepaper"
group = "content"

[[scoring.behaviour]]
name = "pricing page"
points = 15
page = "/pricing"

[[scoring.behaviour]]
name = "buying this quarter"
points = 20
field = "timeline"
value = "This quarter"

[[scoring.behaviour]]
name = "demo request"
points = 30
form = "demo"

[[scoring.fit]]
name = "senior title"
points = 15
field = "Title"
pattern = "(?i)\\\\b(vp|director|head)\\\\b"

[[scoring.fit]]
name = "free mail"
points = -20
field = "email_kind"
value = "free"

[[scoring.fit]]
name = "target country"
points = 5
field = "Country"
value = ["US", "DE"]
"""


def ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() * 1000)


def scoring_with(**extra: object):
    data = tomllib.loads(CONFIG)
    data["scoring"].update(extra)
    result = parse_scoring(data["scoring"])
    assert result is not None
    return result


# Bob's four fills: a webinar, a whitepaper, the webinar again from the pricing page saying
# he buys this quarter, and a demo request.
BOB = [
    Event("c1", ms("2026-03-01"), "webinar"),
    Event("c2", ms("2026-03-11"), "whitepaper"),
    Event("c3", ms("2026-03-21"), "webinar", page="https://acme.example/pricing?x=1",
          answers={"timeline": "this quarter"}),
    Event("c4", ms("2026-03-31"), "demo"),
]
BOB_FIT = {"Title": "VP Marketing", "Country": "US"}


@pytest.mark.parametrize("case, fills, as_of, extra, behaviour, fit, total, ready", [
    ("first fill: a webinar",                 1, "2026-03-01", {}, 10, 20, 30, False),
    ("two content fills: capped at 15",       2, "2026-03-11", {}, 15, 20, 35, False),
    # content stays capped: 10 + 10 + 10 -> 15, plus pricing page 15 and the answer 20
    ("third fill, content capped at 15",      3, "2026-03-21", {}, 50, 20, 70, False),
    ("the demo makes him sales-ready",        4, "2026-03-31", {}, 80, 20, 100, True),
    # half-life 30 days, at the demo: 5 + 6.3 + 7.94 capped to 15, 11.91, 15.87, 30
    ("half-life 30d, at the demo",            4, "2026-03-31", {"half_life": "30d"},
     72.78, 20, 92.78, True),
    # thirty days later everything has halved once more: content 2.5 + 3.15 + 3.97 is under
    # its cap, pricing page 5.95, the answer 7.94, a 30-day-old demo 15
    ("half-life 30d, a month later",          4, "2026-04-30", {"half_life": "30d"},
     38.51, 20, 58.51, False),
    # a step rule: 90 quiet days cut behaviour down to 10; fit stays
    ("step: 91 days without a response",      4, "2026-06-30",
     {"step_after": "90d", "step_to": 10}, 10, 20, 30, False),
    ("step: 89 days is not yet quiet",        4, "2026-06-28",
     {"step_after": "90d", "step_to": 10}, 80, 20, 100, True),
    ("a behaviour minimum holds him back",    3, "2026-03-21",
     {"sales_ready": 60, "min_behaviour": 60}, 50, 20, 70, False),
])
def test_bob(case: str, fills: int, as_of: str, extra: dict[str, object], behaviour: float,
             fit: float, total: float, ready: bool) -> None:
    result = score(scoring_with(**extra), email="bob@acme.example", events=BOB[:fills],
                   fit_values=BOB_FIT, as_of=ms(as_of))
    assert (result.behaviour, result.fit, result.total, result.ready) == \
        pytest.approx((behaviour, fit, total, ready), abs=0.02), case
    assert sum(p.decayed_to for p in result.points) == pytest.approx(result.total, abs=0.02)


def test_explain_lines_name_rule_points_and_dates() -> None:
    result = score(scoring_with(half_life="30d"), email="bob@acme.example", events=BOB,
                   fit_values=BOB_FIT, as_of=ms("2026-03-31"))
    lines = [(p.rule, p.points, p.at, p.decayed_to) for p in result.points]
    assert lines == [
        ("webinar", 10, ms("2026-03-01"), 5.0),
        ("whitepaper", 10, ms("2026-03-11"), 6.3),
        ("webinar", 10, ms("2026-03-21"), 7.94),
        ("pricing page", 15, ms("2026-03-21"), 11.91),
        ("buying this quarter", 20, ms("2026-03-21"), 15.87),
        ("demo request", 30, ms("2026-03-31"), 30.0),
        ("cap content", 0, None, -4.24),
        ("senior title", 15, None, 15.0),
        ("target country", 5, None, 5.0),
    ]
    assert result.value == 93
    assert result.reasons().startswith("demo request +30; buying this quarter +16; senior title +15")


@pytest.mark.parametrize("email, fit_values, fit", [
    ("alice@gmail.com", {"Title": "Student"}, -20),                       # free mail only
    ("alice@googlemail.com", {"Title": "Head of IT", "Country": "DE"}, 0),  # -20 + 15 + 5
    ("carol@bigcorp.example", {"Title": "Director", "Country": "FR"}, 15),
    ("dave@bigcorp.example", {}, 0),
])
def test_fit_including_negative(email: str, fit_values: dict[str, str], fit: float) -> None:
    result = score(scoring_with(), email=email, events=[BOB[3]], fit_values=fit_values,
                   as_of=ms("2026-03-31"))
    assert result.fit == fit and result.total == 30 + fit


def test_later_events_do_not_count_and_crossing() -> None:
    s = scoring_with()
    early = score(s, email="bob@acme.example", events=BOB, fit_values=BOB_FIT,
                  as_of=ms("2026-03-21"))
    assert early.total == 70                       # the demo of the 31st is not yet known
    late = score(s, email="bob@acme.example", events=BOB, fit_values=BOB_FIT,
                 as_of=ms("2026-03-31"))
    assert crossing(s, 70, late) == "up" and crossing(s, 100, late) is None
    assert crossing(s, 100, early) == "down" and crossing(s, None, early) is None


@pytest.mark.parametrize("patch, key", [
    ({"sales_ready": None}, "scoring.sales_ready"),
    ({"caps": {"nope": 3}}, "scoring.caps.nope"),
    ({"half_life": "soon"}, "scoring.half_life"),
    ({"lead_field": "not a field"}, "scoring.lead_field"),
    ({"colour": 1}, "scoring.colour"),
])
def test_config_mistakes_name_their_key(patch: dict[str, object], key: str) -> None:
    data = tomllib.loads(CONFIG)["scoring"]
    for k, value in patch.items():
        if value is None:
            data.pop(k)
        else:
            data[k] = value
    with pytest.raises(ConfigError) as info:
        parse_scoring(data)
    assert info.value.key == key


@pytest.mark.parametrize("rule, key", [
    ({"points": 5}, "scoring.behaviour[0]"),
    ({"points": 5, "field": "x", "pattern": "("}, "scoring.behaviour[0].pattern"),
    ({"points": 5, "value": "x"}, "scoring.behaviour[0].value"),
    ({"form": "f"}, "scoring.behaviour[0].points"),
])
def test_behaviour_rule_mistakes(rule: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_scoring({"sales_ready": 10, "behaviour": [rule]})
    assert info.value.key == key
