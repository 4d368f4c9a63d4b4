"""``[routing]`` -> :class:`Routing`, or a ConfigError naming the key.

Routing's rules are pure and live in ``connector.core.enrich`` (owners, stages, tasks);
this is the reading of what the admin wrote: every key checked, every value normalised
(places to keys, owners to references, durations to seconds) so a mistake fails at
start-up with its key, never mid-run, and the rules compare plain values.
"""

from __future__ import annotations

import re
import string
from typing import Any, Collection, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.config.sources import MEETINGS_STREAM
from connector.config import validate as v
from connector.core.enrich.owners import Normaliser, OwnerRef, OwnerRule, Places
from connector.core.enrich.routing import DEFAULT_MAX_AGE, MODES, Routing
from connector.core.enrich.stages import DATE_TYPES, Stages
from connector.core.enrich.tasks import DEFAULT_SUBJECT, SUBJECT_FIELDS, TaskRule
from connector.core.geo import normalise_place
from connector.core.ids import QUEUE_PREFIX, SF_ID, USER_PREFIX, is_api_name, to_id18
from connector.core.timefmt import parse_duration
from connector.errors import ConfigError

SCORED = "[scoring]"       # stands for score_field when leadsync computes the score
PRIORITY_MAX = 40          # Task.Priority picklist value
STATUS_MAX = 40            # Lead.Status picklist value

_KEYS = {
    "routing": {"mode", "default_owner", "score_field", "timezone", "country_aliases",
                "rules", "stages", "tasks"},
    "rule": {"owner", "name", "form", "country", "state", "company", "domain", "min_score"},
    "stages": {"nurture", "sales_ready", "date_field", "date_type", "sales_ready_forms",
               "sales_ready_score", "max_age"},
    "tasks": {"sla", "subject", "priority", "owner", "max_age"},
}
_DEVELOPER_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_USERNAME_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def parse_routing(table: Mapping[str, Any] | None, *, forms: Collection[str] = (),
                  country: Normaliser | None = None, state: Normaliser | None = None,
                  scored: bool = False) -> Routing:
    """``[routing]`` -> Routing, or a ConfigError naming the key.

    ``scored``: ``[scoring]`` is configured, so ``min_score`` and ``sales_ready_score``
    compare leadsync's own score and need no ``score_field``. ``forms`` are the configured form ids; a rule or sales-ready list naming another form is
    an error, because it could never match and the admin would not know why. An empty
    ``forms`` skips that check (the caller has no campaigns to compare with). ``country`` and
    ``state`` turn a place as typed into its code (None when unknown), ahead of the shipped
    table (see ``Places``).
    """
    if not table:
        return Routing(places=Places(country=country, state=state))
    _check_keys(table, "routing", "routing")
    mode = _choice(table.get("mode", "none"), "routing.mode", MODES)
    places = Places(_aliases(table.get("country_aliases")), country, state)
    zone = _timezone(table.get("timezone", "UTC"))
    score_field = _optional_text(table.get("score_field"), "routing.score_field")
    scorer = score_field or (SCORED if scored else None)   # what min_score compares
    rules = tuple(_rule(raw, i, forms=forms, score_field=scorer, places=places)
                  for i, raw in enumerate(_table_list(table.get("rules"), "routing.rules")))
    default = _owner_or_none(table.get("default_owner"), "routing.default_owner")
    _check_mode(mode, rules, default)
    _check_reachable(rules)
    stages = _stages(table.get("stages"), forms, scorer)
    tasks = _tasks(table.get("tasks"), stages)
    return Routing(mode=mode, rules=rules, default_owner=default,
                   score_field=score_field.lower() if score_field else None, stages=stages,
                   tasks=tasks, timezone=zone, places=places, max_age_seconds=_max_age(table))


def _check_mode(mode: str, rules: tuple[OwnerRule, ...], default: OwnerRef | None) -> None:
    """Owner rules and Salesforce's assignment rules are never mixed, nor left unused."""
    if mode == "rules" and not rules and default is None:
        raise ConfigError('mode = "rules" needs [[routing.rules]] or a default_owner',
                          key="routing.mode")
    if mode != "rules" and (rules or default is not None):
        what = "routing.rules" if rules else "routing.default_owner"
        raise ConfigError(f'is used only with mode = "rules" (mode is "{mode}"); set the mode '
                          "or remove it", key=what)


def _check_reachable(rules: tuple[OwnerRule, ...]) -> None:
    """A rule without conditions matches everything, so no rule after it ever could."""
    for i, rule in enumerate(rules[:-1]):
        if rule.conditions == 0:
            raise ConfigError(f"has no conditions, so rules after it (from routing.rules[{i + 1}])"
                              " can never match; move it last or use default_owner",
                              key=f"routing.rules[{i}]")


def _rule(raw: Mapping[str, Any], i: int, *, forms: Collection[str], score_field: str | None,
          places: Places) -> OwnerRule:
    """One ``[[routing.rules]]`` entry, its places and domains already in comparison form."""
    where = f"routing.rules[{i}]"
    _check_keys(raw, "rule", where)
    if "owner" not in raw:
        raise ConfigError("is required", key=f"{where}.owner")
    rule_forms = _texts(raw.get("form"), f"{where}.form")
    _check_forms(rule_forms, forms, f"{where}.form")
    min_score = _number_or_none(raw.get("min_score"), f"{where}.min_score")
    if min_score is not None and not score_field:
        raise ConfigError("needs routing.score_field (the form field holding the score)",
                          key=f"{where}.min_score")
    countries = tuple(map(places.country_key, _texts(raw.get("country"), f"{where}.country")))
    return OwnerRule(
        owner=_owner(raw["owner"], f"{where}.owner"),
        name=_optional_text(raw.get("name"), f"{where}.name") or "",
        forms=rule_forms,
        countries=countries,
        states=places.rule_states(_texts(raw.get("state"), f"{where}.state"), countries),
        companies=tuple(c.casefold() for c in _texts(raw.get("company"), f"{where}.company")),
        domains=tuple(_domain(d, f"{where}.domain")
                      for d in _texts(raw.get("domain"), f"{where}.domain")),
        min_score=min_score,
    )


def _stages(raw: Any, forms: Collection[str], score_field: str | None) -> Stages | None:
    """``[routing.stages]``: two distinct statuses, and what makes a response sales-ready."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", key="routing.stages")
    _check_keys(raw, "stages", "routing.stages")
    sales_ready = _status(raw.get("sales_ready"), "routing.stages.sales_ready")
    nurture = (None if raw.get("nurture") is None
               else _status(raw.get("nurture"), "routing.stages.nurture"))
    if nurture is not None and nurture.casefold() == sales_ready.casefold():
        raise ConfigError("must differ from sales_ready, or leadsync cannot tell the stages apart",
                          key="routing.stages.nurture")
    ready_forms = _texts(raw.get("sales_ready_forms"), "routing.stages.sales_ready_forms")
    _check_forms(ready_forms, forms, "routing.stages.sales_ready_forms")
    ready_score = _number_or_none(raw.get("sales_ready_score"), "routing.stages.sales_ready_score")
    if ready_score is not None and not score_field:
        raise ConfigError("needs routing.score_field (the form field holding the score)",
                          key="routing.stages.sales_ready_score")
    if not ready_forms and ready_score is None and MEETINGS_STREAM not in forms \
            and score_field != SCORED:
        # (meetings booked are sales-ready by default, and [scoring]'s threshold says it)
        raise ConfigError("say what makes a response sales-ready: sales_ready_forms and/or "
                          "sales_ready_score", key="routing.stages")
    date_field = _optional_text(raw.get("date_field"), "routing.stages.date_field")
    if date_field is not None and not is_api_name(date_field):
        raise ConfigError(f"not a field API name: {date_field!r}", key="routing.stages.date_field")
    date_type = _choice(raw.get("date_type", "date"), "routing.stages.date_type", DATE_TYPES)
    return Stages(sales_ready=sales_ready, nurture=nurture, date_field=date_field,
                  date_type=date_type, sales_ready_forms=frozenset(ready_forms),
                  sales_ready_score=ready_score)


def _tasks(raw: Any, stages: Stages | None) -> TaskRule | None:
    """``[routing.tasks]``: only with stages (they say when a Task is due at all)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", key="routing.tasks")
    _check_keys(raw, "tasks", "routing.tasks")
    if stages is None:
        raise ConfigError("needs [routing.stages], which says when a response is sales-ready",
                          key="routing.tasks")
    if "sla" not in raw:
        raise ConfigError("is required (e.g. \"4h\": the Task is due that long after the "
                          "submission)", key="routing.tasks.sla")
    subject = _optional_text(raw.get("subject"), "routing.tasks.subject") or DEFAULT_SUBJECT
    _check_template(subject, "routing.tasks.subject")
    priority = _optional_text(raw.get("priority"), "routing.tasks.priority") or "High"
    if len(priority) > PRIORITY_MAX:
        raise ConfigError(f"is longer than a picklist value ({PRIORITY_MAX})",
                          key="routing.tasks.priority")
    owner = _owner_or_none(raw.get("owner"), "routing.tasks.owner")
    if owner is not None and owner.is_queue:
        raise ConfigError("must be a user: Salesforce queues cannot own Tasks",
                          key="routing.tasks.owner")
    return TaskRule(parse_sla(raw["sla"], key="routing.tasks.sla"), subject, priority, owner)


def _max_age(table: Mapping[str, Any]) -> int:
    """``[routing.tasks] max_age`` ("7d" by default): past it a response gets no Task and no
    stage change (see ``DEFAULT_MAX_AGE``). Read with the SLA's syntax ("14d", "36h").

    A configuration with stages and no Tasks says it in ``[routing.stages]`` instead, since
    it has no ``[routing.tasks]`` table; one setting, so giving it in both is refused.
    """
    given = {name: sub["max_age"] for name in ("tasks", "stages")
             if isinstance(sub := table.get(name), Mapping) and "max_age" in sub}
    if len(given) == 2:
        raise ConfigError("is set in [routing.tasks] too; set it once, there",
                          key="routing.stages.max_age")
    for name, value in given.items():
        return parse_sla(value, key=f"routing.{name}.max_age")
    return DEFAULT_MAX_AGE


def parse_sla(text: Any, *, key: str) -> int:
    """'5m', '4h', '1d', '1h30m' or a number of seconds -> seconds (more than zero).

    Wall-clock time: a 4h SLA on a Friday-night fill is due on Saturday, which is what the
    rep's reminder should say; business hours are the org's to model, not ours.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        try:
            seconds = parse_duration(text)   # a quoted bare "90" was never an SLA; still isn't
        except ValueError as exc:
            raise ConfigError(str(exc), key=key) from None
    if seconds <= 0:
        raise ConfigError("must be more than zero", key=key)
    return seconds


# -- small parsers --------------------------------------------------------------------------

def _check_keys(table: Mapping[str, Any], kind: str, where: str) -> None:
    v.check_keys(table, _KEYS[kind], where)


# The shared validators (connector.config.validate), under the names this module reads with.
_choice = v.choice
_optional_text = v.optional_text
_texts = v.texts
_number_or_none = v.number_or_none


def _table_list(value: Any, key: str) -> list[Mapping[str, Any]]:
    return v.table_list(value, key, "[[routing.rules]]")


def _status(value: Any, key: str) -> str:
    """A Lead Status picklist value: required here, and no longer than a picklist value."""
    text = _optional_text(value, key)
    if text is None:
        raise ConfigError("is required", key=key)
    if len(text) > STATUS_MAX:
        raise ConfigError(f"is longer than a picklist value ({STATUS_MAX})", key=key)
    return text


def _check_forms(named: Iterable[str], forms: Collection[str], key: str) -> None:
    if not forms:
        return
    for form in named:
        if form not in forms:
            raise ConfigError(f"form {form} is not one of the configured [[campaigns]] forms, so "
                              "it would never match", key=key)


def _check_template(template: str, key: str) -> None:
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"not a valid template: {exc}", key=key) from None
    for _, name, _, _ in parts:
        if name is not None and name not in SUBJECT_FIELDS:
            raise ConfigError(f"unknown placeholder {{{name}}}; use "
                              f"{', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}", key=key)


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError("must be an IANA time zone name such as Europe/Berlin",
                          key="routing.timezone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {value!r}", key="routing.timezone") from None
    return value


def _aliases(value: Any) -> tuple[tuple[str, str], ...]:
    """``country_aliases = { "Deutschland" = "DE" }``: names the built-in table lacks."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError("must be a table of name = ISO code", key="routing.country_aliases")
    pairs = []
    for name, code in value.items():
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{2}", code.strip()):
            raise ConfigError("must be a two-letter ISO country code",
                              key=f"routing.country_aliases.{name}")
        pairs.append((normalise_place(name), code.strip().upper()))
    return tuple(pairs)


def _domain(text: str, key: str) -> str:
    domain = text.strip().lower().removeprefix("@").removeprefix("*.").removeprefix("www.")
    if "@" in domain:
        raise ConfigError(f"{text!r} is an email address; give its domain", key=key)
    if not _DOMAIN_RE.match(domain):
        raise ConfigError(f"not a domain: {text!r}", key=key)
    return domain


# -- owners ---------------------------------------------------------------------------------

def _owner_or_none(value: Any, key: str) -> OwnerRef | None:
    return None if value is None else _owner(value, key)


def _owner(value: Any, key: str) -> OwnerRef:
    """"user:<Username>", "queue:<DeveloperName>" or a User/queue Id -> OwnerRef."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError('must be "user:<Username>", "queue:<DeveloperName>" or an Id', key=key)
    text = value.strip()
    kind, sep, name = text.partition(":")
    if sep and kind.lower() == "user":
        name = name.strip().lower()
        if not _USERNAME_RE.match(name):
            raise ConfigError(f"not a Username (they look like email addresses): {name!r}", key=key)
        return OwnerRef("user", name)
    if sep and kind.lower() == "queue":
        name = name.strip()
        if not _DEVELOPER_NAME_RE.match(name):
            raise ConfigError(f"not a queue DeveloperName (the API name, e.g. Inbound_Leads): "
                              f"{name!r}", key=key)
        return OwnerRef("queue", name)
    if not sep and SF_ID.match(text):
        if not text.startswith((USER_PREFIX, QUEUE_PREFIX)):
            raise ConfigError(f"{text} is not a User (005...) or queue (00G...) Id", key=key)
        full = to_id18(text)
        return OwnerRef("id", full, full)
    raise ConfigError(f'must be "user:<Username>", "queue:<DeveloperName>" or an Id (got {text!r})',
                      key=key)
