"""One duration grammar: every key and option that reads a duration agrees on its spellings."""

from __future__ import annotations

import pytest

from connector.commands.daemon import parse_interval
from connector.config.routing import parse_sla
from connector.config.settings import parse_duration as config_duration
from connector.config.validate import start_point
from connector.core.timefmt import parse_duration
from connector.errors import ConfigError

SPELLINGS = [("90s", 90), ("5m", 300), ("4h", 14400), ("7d", 604800), ("1h30m", 5400),
             ("1h 30m", 5400), ("1d2h3m4s", 93784), (" 2d ", 172800), ("1d12h", 129600)]


@pytest.mark.parametrize("text,seconds", SPELLINGS)
def test_the_grammar(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,seconds", SPELLINGS)
def test_every_reader_accepts_every_spelling(text, seconds):
    assert config_duration(text, key="k") == seconds
    assert parse_interval(text) == seconds
    assert parse_sla(text, key="k") == seconds
    assert start_point(text, "sync.start").age_seconds == seconds


@pytest.mark.parametrize("text", ["", "soon", "5", "-5m", "5 minutes", "30m1h", "1h1h", "1.5h",
                                  "h", "5M"])
def test_refused_spellings(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_bare_number_is_seconds_only_when_asked():
    assert parse_duration("45", bare_seconds=True) == 45
    with pytest.raises(ValueError):
        parse_duration("45")


def test_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"^sync\.lookback: not a duration"):
        config_duration("1h30x", key="sync.lookback")
    with pytest.raises(ConfigError, match=r"^routing\.tasks\.sla: not a duration"):
        parse_sla("30m1h", key="routing.tasks.sla")
    with pytest.raises(ConfigError, match="--interval"):
        parse_interval("1h30x")
    with pytest.raises(ConfigError, match=r"^routing\.tasks\.sla: "):
        parse_sla("90", key="routing.tasks.sla")   # a quoted bare number was never an SLA
