"""Routing and hand-off: who owns a new Lead, which stage it is at, and the rep's Task.

Seed 002 (points 3 and 4): when a response makes a person sales-ready, get the Lead to the
right rep or queue, mark the stage in Lead Status with the date of the change, and give the
owner a follow-up Task that carries the moments that made this a lead. This room decides all
of that from plain data; the engine looks owner names up once per run, writes the fields and
creates the Task. Nothing here reads a clock, a file or the network, so every rule is a table
test.

Salesforce facts that shape it (see the README's references):

- ``Sforce-Auto-Assign`` runs the org's active assignment rules on Lead create *and update*
  unless it says FALSE. ``mode = "assignment_rules"`` hands ownership to Salesforce (the
  engine sends TRUE on creates); any other mode sends FALSE and, under ``rules``, writes
  ``OwnerId`` itself. The two are never mixed: a rule table would be overwritten silently.
- A queue (a ``Group`` of Type Queue, Id prefix ``00G``) may own Leads, not Tasks: a Task's
  ``OwnerId`` must be a User (``005``). A sales-ready Lead routed to a queue gets its Task
  owned by ``[routing.tasks] owner`` when set, else by whoever creates it (the integration
  user).
- Task ``ActivityDate`` is a date without a time ("Due Date Only"); the exact due time goes in
  ``ReminderDateTime`` with ``IsReminderSet``. Lead ``Status`` is a picklist the reps also
  use, so leadsync only moves it *up* between the two statuses it is configured with.
- A Task has no natural key (a Lead has its email, a CampaignMember its campaign and
  record): only the response's conversion id in a custom Task field tells a replayed write
  from a new one. ``task_key`` reads from the org's describe whether that field is there and
  whether it is an External ID (upsert) or a plain field (looked up on replay).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.errors import ConfigError
from connector.core.normalise import NOT_PROVIDED
from connector.core.model import Response

if TYPE_CHECKING:
    from connector.core.schema import ObjectSchema

MODES = ("rules", "assignment_rules", "none")
NURTURE = "nurture"
SALES_READY = "sales_ready"
DATE_TYPES = ("date", "datetime")

SUBJECT_MAX = 255          # Task.Subject
DESCRIPTION_MAX = 32000    # Task.Description
PRIORITY_MAX = 40          # Task.Priority picklist value
STATUS_MAX = 40            # Lead.Status picklist value
HISTORY_SHOWN = 20         # earlier responses listed in a Task, newest kept
SUBJECT_FIELDS = ("form", "email", "name", "company", "score")
DEFAULT_SUBJECT = "Follow up: {form} from {email}"

_KEYS = {
    "routing": {"mode", "default_owner", "score_field", "timezone", "country_aliases",
                "rules", "stages", "tasks"},
    "rule": {"owner", "name", "form", "country", "state", "company", "domain", "min_score"},
    "stages": {"nurture", "sales_ready", "date_field", "date_type", "sales_ready_forms",
               "sales_ready_score"},
    "tasks": {"sla", "subject", "priority", "owner"},
}
_USER_PREFIX, _QUEUE_PREFIX = "005", "00G"
_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_DEVELOPER_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$")
_USERNAME_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
_DURATION_RE = re.compile(r"(\d+)\s*([dhms])")

Normaliser = Callable[[str], "str | None"]   # a place as typed -> its code, or None if unknown


# -- the types ------------------------------------------------------------------------------

@dataclass(frozen=True)
class OwnerRef:
    """An owner as the config names it, and its Id once the run has looked it up.

    ``kind`` is "user" (``name`` is the Username, lower-cased: Salesforce compares usernames
    without case), "queue" (``name`` is the queue's DeveloperName) or "id" (``name`` is an
    18-character Id, already resolved).
    """

    kind: str
    name: str
    id: str | None = None

    @property
    def key(self) -> str:
        """What ``owner_names`` lists and ``with_owner_ids`` expects Ids under."""
        return self.name if self.kind == "id" else f"{self.kind}:{self.name}"

    @property
    def is_queue(self) -> bool:
        return self.kind == "queue" or (self.id or "").startswith(_QUEUE_PREFIX)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class OwnerRule:
    """One ``[[routing.rules]]`` entry: every condition given must hold; a list is "any of".

    Conditions are stored normalised (country and state as keys, company and domain lower
    case) so matching is a plain comparison.
    """

    owner: OwnerRef
    name: str = ""
    forms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    min_score: float | None = None

    @property
    def conditions(self) -> int:
        return sum(bool(c) for c in (self.forms, self.countries, self.states, self.companies,
                                     self.domains)) + (self.min_score is not None)


@dataclass(frozen=True)
class Stages:
    """``[routing.stages]``: Lead Status per stage and what makes a response sales-ready."""

    sales_ready: str
    nurture: str | None = None
    date_field: str | None = None
    date_type: str = "date"
    sales_ready_forms: frozenset[str] = frozenset()
    sales_ready_score: float | None = None


@dataclass(frozen=True)
class TaskRule:
    """``[routing.tasks]``: the follow-up Task for a sales-ready response."""

    sla_seconds: int
    subject: str = DEFAULT_SUBJECT
    priority: str = "High"
    owner: OwnerRef | None = None  # a user, for Leads routed to a queue (queues cannot own Tasks)


@dataclass(frozen=True)
class Places:
    """How countries and states are compared: the config's aliases first, then an injected
    normaliser (the mapping's ISO tables, say), then this module's small built-in table.

    Rule values and response values go through the same function, so "Germany" in a rule
    matches "DE" on a Lead, and a value no table knows still matches itself.
    """

    aliases: tuple[tuple[str, str], ...] = ()            # extra name -> ISO code pairs
    country: Normaliser | None = field(default=None, compare=False, repr=False)
    state: Normaliser | None = field(default=None, compare=False, repr=False)

    def country_key(self, text: str) -> str:
        key = _text_key(text)
        extra = dict(self.aliases)
        if key in extra:
            return extra[key]
        found = self.country(text) if self.country else None
        return found.upper() if found else country_key(text)

    def state_key(self, text: str) -> str:
        found = self.state(text) if self.state else None
        return found.upper() if found else state_key(text)


@dataclass(frozen=True)
class Routing:
    """The parsed ``[routing]`` table. ``Routing()`` is "routing off"."""

    mode: str = "none"
    rules: tuple[OwnerRule, ...] = ()
    default_owner: OwnerRef | None = None
    score_field: str | None = None
    stages: Stages | None = None
    tasks: TaskRule | None = None
    timezone: str = "UTC"            # for dates: the Task's ActivityDate, the stage's date
    places: Places = Places()

    @property
    def auto_assign(self) -> bool:
        """The value of ``Sforce-Auto-Assign`` on Lead creates."""
        return self.mode == "assignment_rules"


@dataclass(frozen=True)
class RoutingFacts:
    """What routing may look at for one response, as the response gave it."""

    form_id: str
    email: str
    country: str | None = None
    state: str | None = None
    company: str | None = None
    score: float | None = None

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].strip().lower()


@dataclass(frozen=True)
class OwnerChoice:
    """The owner routing picked, the rule (zero-based, as in ``routing.rules[i]``) and why."""

    owner_id: str
    rule: int | None
    why: str
    owner: str = ""   # the owner as configured ("user:jane@acme.com"), for people to read


# -- parsing --------------------------------------------------------------------------------

def parse_routing(table: Mapping[str, Any] | None, *, forms: Collection[str] = (),
                  country: Normaliser | None = None, state: Normaliser | None = None) -> Routing:
    """``[routing]`` -> Routing, or a ConfigError naming the key.

    ``forms`` are the configured form ids; a rule or sales-ready list naming another form is
    an error, because it could never match and the admin would not know why. An empty
    ``forms`` skips that check (the caller has no campaigns to compare with). ``country`` and
    ``state`` turn a place as typed into its code (None when unknown); without them a small
    built-in table does (see ``Places``).
    """
    if not table:
        return Routing(places=Places(country=country, state=state))
    _check_keys(table, "routing", "routing")
    mode = _choice(table.get("mode", "none"), "routing.mode", MODES)
    places = Places(_aliases(table.get("country_aliases")), country, state)
    zone = _timezone(table.get("timezone", "UTC"))
    score_field = _optional_text(table.get("score_field"), "routing.score_field")
    rules = tuple(_rule(raw, i, forms, score_field, places)
                  for i, raw in enumerate(_table_list(table.get("rules"), "routing.rules")))
    default = _owner_or_none(table.get("default_owner"), "routing.default_owner")
    _check_mode(mode, rules, default)
    _check_reachable(rules)
    stages = _stages(table.get("stages"), forms, score_field)
    tasks = _tasks(table.get("tasks"), stages)
    return Routing(mode, rules, default, score_field.lower() if score_field else None, stages,
                   tasks, zone, places)


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


def _rule(raw: Mapping[str, Any], i: int, forms: Collection[str], score_field: str | None,
          places: Places) -> OwnerRule:
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
    return OwnerRule(
        owner=_owner(raw["owner"], f"{where}.owner"),
        name=_optional_text(raw.get("name"), f"{where}.name") or "",
        forms=rule_forms,
        countries=tuple(map(places.country_key, _texts(raw.get("country"), f"{where}.country"))),
        states=tuple(map(places.state_key, _texts(raw.get("state"), f"{where}.state"))),
        companies=tuple(c.casefold() for c in _texts(raw.get("company"), f"{where}.company")),
        domains=tuple(_domain(d, f"{where}.domain")
                      for d in _texts(raw.get("domain"), f"{where}.domain")),
        min_score=min_score,
    )


def _stages(raw: Any, forms: Collection[str], score_field: str | None) -> Stages | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", key="routing.stages")
    _check_keys(raw, "stages", "routing.stages")
    sales_ready = _status(raw.get("sales_ready"), "routing.stages.sales_ready", required=True)
    nurture = _status(raw.get("nurture"), "routing.stages.nurture", required=False)
    if nurture is not None and nurture.casefold() == sales_ready.casefold():
        raise ConfigError("must differ from sales_ready, or leadsync cannot tell the stages apart",
                          key="routing.stages.nurture")
    ready_forms = _texts(raw.get("sales_ready_forms"), "routing.stages.sales_ready_forms")
    _check_forms(ready_forms, forms, "routing.stages.sales_ready_forms")
    ready_score = _number_or_none(raw.get("sales_ready_score"), "routing.stages.sales_ready_score")
    if ready_score is not None and not score_field:
        raise ConfigError("needs routing.score_field (the form field holding the score)",
                          key="routing.stages.sales_ready_score")
    if not ready_forms and ready_score is None:
        raise ConfigError("say what makes a response sales-ready: sales_ready_forms and/or "
                          "sales_ready_score", key="routing.stages")
    date_field = _optional_text(raw.get("date_field"), "routing.stages.date_field")
    if date_field is not None and not _FIELD_RE.match(date_field):
        raise ConfigError(f"not a field API name: {date_field!r}", key="routing.stages.date_field")
    date_type = _choice(raw.get("date_type", "date"), "routing.stages.date_type", DATE_TYPES)
    return Stages(sales_ready, nurture, date_field, date_type, frozenset(ready_forms), ready_score)


def _tasks(raw: Any, stages: Stages | None) -> TaskRule | None:
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


def parse_sla(text: Any, *, key: str) -> int:
    """'5m', '4h', '1d', '1h30m' or a number of seconds -> seconds (more than zero).

    Wall-clock time: a 4h SLA on a Friday-night fill is due on Saturday, which is what the
    rep's reminder should say; business hours are the org's to model, not ours.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    elif isinstance(text, str) and re.fullmatch(r"\s*(?:\d+\s*[dhms]\s*)+", text):
        units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        seconds = sum(int(n) * units[u] for n, u in _DURATION_RE.findall(text))
    else:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 5m, 4h, 1d, 1h30m)", key=key)
    if seconds <= 0:
        raise ConfigError("must be more than zero", key=key)
    return seconds


# -- small parsers --------------------------------------------------------------------------

def _check_keys(table: Mapping[str, Any], kind: str, where: str) -> None:
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key=where)
    for key in table:
        if key not in _KEYS[kind]:
            raise ConfigError(f"unknown key; expected one of {', '.join(sorted(_KEYS[kind]))}",
                              key=f"{where}.{key}")


def _choice(value: Any, key: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ConfigError(f"must be one of {', '.join(options)} (got {value!r})", key=key)
    return str(value)


def _optional_text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("must be a non-empty string", key=key)
    return value.strip()


def _texts(value: Any, key: str) -> tuple[str, ...]:
    """A string or a list of strings ("any of"); an empty list is an error, not "anything"."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError("must be a string or a non-empty list of strings", key=key)
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError("must be a non-empty string", key=f"{key}[{n}]")
        out.append(item.strip())
    return tuple(out)


def _table_list(value: Any, key: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError("must be an array of tables ([[routing.rules]])", key=key)
    return value


def _number_or_none(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigError("must be a number", key=key)
    return float(value)


def _status(value: Any, key: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
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
        pairs.append((_text_key(name), code.strip().upper()))
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
    if not sep and _ID_RE.match(text):
        if not text.startswith((_USER_PREFIX, _QUEUE_PREFIX)):
            raise ConfigError(f"{text} is not a User (005...) or queue (00G...) Id", key=key)
        full = to_id18(text)
        return OwnerRef("id", full, full)
    raise ConfigError(f'must be "user:<Username>", "queue:<DeveloperName>" or an Id (got {text!r})',
                      key=key)


def to_id18(sf_id: str) -> str:
    """A 15-character Salesforce Id -> its 18-character form (what the API returns), so an
    Id typed from the browser's address bar compares equal to one read back."""
    if len(sf_id) != 15:
        return sf_id
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in (sf_id[0:5], sf_id[5:10], sf_id[10:15]):
        suffix += alphabet[sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")]
    return sf_id + suffix


def _owners(routing: Routing) -> list[tuple[str, OwnerRef]]:
    """Every owner the config names, with the key an error about it should name."""
    found = [(f"routing.rules[{i}].owner", r.owner) for i, r in enumerate(routing.rules)]
    if routing.default_owner is not None:
        found.append(("routing.default_owner", routing.default_owner))
    if routing.tasks is not None and routing.tasks.owner is not None:
        found.append(("routing.tasks.owner", routing.tasks.owner))
    return found


def owner_names(routing: Routing) -> set[str]:
    """The ``user:``/``queue:`` names to turn into Ids, in one lookup at the start of a run.

    The engine's queries (``split_owner_names`` gives the two lists)::

        SELECT Id, Username FROM User WHERE IsActive = true AND Username IN {usernames}
        SELECT Id, DeveloperName FROM Group WHERE Type = 'Queue' AND DeveloperName IN {queues}

    and passes ``{"user:" + Username: Id, "queue:" + DeveloperName: Id}`` to ``with_owner_ids``.
    """
    return {ref.key for _, ref in _owners(routing) if ref.id is None}


def split_owner_names(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """``owner_names`` -> (Usernames, queue DeveloperNames), sorted, for the two queries."""
    users = sorted(n.partition(":")[2] for n in names if n.startswith("user:"))
    queues = sorted(n.partition(":")[2] for n in names if n.startswith("queue:"))
    return users, queues


def with_owner_ids(routing: Routing, ids: Mapping[str, str]) -> Routing:
    """Routing with every named owner's Id filled in, or a ConfigError naming the rule.

    Keys compare without case (SOQL's ``=`` does too), so the engine may pass Usernames as
    Salesforce spells them.
    """
    folded = {k.casefold(): to_id18(v) for k, v in ids.items()}

    def resolve(ref: OwnerRef | None, key: str) -> OwnerRef | None:
        if ref is None or ref.id is not None:
            return ref
        found = folded.get(ref.key.casefold())
        if found is None:
            what = (f"no active user with Username {ref.name}" if ref.kind == "user"
                    else f"no queue with DeveloperName {ref.name}")
            raise ConfigError(what, key=key)
        return replace(ref, id=found)

    rules = tuple(replace(r, owner=resolve(r.owner, f"routing.rules[{i}].owner"))
                  for i, r in enumerate(routing.rules))
    default = resolve(routing.default_owner, "routing.default_owner")
    tasks = routing.tasks
    if tasks is not None and tasks.owner is not None:
        tasks = replace(tasks, owner=resolve(tasks.owner, "routing.tasks.owner"))
        if tasks.owner is not None and not (tasks.owner.id or "").startswith(_USER_PREFIX):
            raise ConfigError("must be a user: Salesforce queues cannot own Tasks",
                              key="routing.tasks.owner")
    return replace(routing, rules=rules, default_owner=default, tasks=tasks)


# -- routing --------------------------------------------------------------------------------

def facts_from(response: Response, score_field: str | None) -> RoutingFacts:
    """What a response tells routing: Lead fields first, the raw form values as a fallback.

    The mapping writes ``[not provided]`` for a missing Company; that is no company, so it
    must not match a company rule.
    """
    def pick(lead_field: str, form_field: str) -> str | None:
        value = response.lead_fields.get(lead_field) or response.form_values.get(form_field)
        value = (value or "").strip()
        return value if value and value != NOT_PROVIDED else None

    raw_score = response.form_values.get(score_field.lower()) if score_field else None
    return RoutingFacts(response.form_id, response.email, pick("Country", "country"),
                        pick("State", "state"), pick("Company", "company"), parse_score(raw_score))


def parse_score(text: str | None) -> float | None:
    """A score from a form value; anything that is not a finite number is no score."""
    if text is None:
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def route(routing: Routing, facts: RoutingFacts) -> OwnerChoice | None:
    """The owner for a new Lead: the first rule whose conditions all hold, else the default.

    None when leadsync does not own routing (mode "none", or "assignment_rules" where
    Salesforce assigns on create) or when nothing matched and there is no default: the Lead
    then stays with the integration user, as Salesforce would leave it.
    """
    if routing.mode != "rules":
        return None
    for i, rule in enumerate(routing.rules):
        reasons = _match(rule, facts, routing.places)
        if reasons is not None:
            label = f"rule {rule.name!r}" if rule.name else f"rule {i + 1}"
            why = f"{label} ({', '.join(reasons)})" if reasons else f"{label} (no conditions)"
            return OwnerChoice(_owner_id(rule.owner), i, why, str(rule.owner))
    if routing.default_owner is not None:
        return OwnerChoice(_owner_id(routing.default_owner), None,
                           "default owner (no rule matched)", str(routing.default_owner))
    return None


def _owner_id(ref: OwnerRef) -> str:
    if ref.id is None:
        raise ValueError(f"owner {ref.key} has no Id yet: call with_owner_ids first")
    return ref.id


def _match(rule: OwnerRule, facts: RoutingFacts, places: Places) -> list[str] | None:
    """The conditions that held, in an admin's words, or None when one did not."""
    reasons: list[str] = []
    if rule.forms:
        if facts.form_id not in rule.forms:
            return None
        reasons.append(f"form {facts.form_id}")
    if rule.countries:
        if not facts.country or places.country_key(facts.country) not in rule.countries:
            return None
        reasons.append(f"country {facts.country}")
    if rule.states:
        if not facts.state or places.state_key(facts.state) not in rule.states:
            return None
        reasons.append(f"state {facts.state}")
    if rule.companies:
        company = (facts.company or "").casefold()
        hit = next((c for c in rule.companies if c in company), None) if company else None
        if hit is None:
            return None
        reasons.append(f"company {facts.company} ~ {hit}")
    if rule.domains:
        hit = next((d for d in rule.domains if domain_within(facts.domain, d)), None)
        if hit is None:
            return None
        reasons.append(f"domain {facts.domain}" + ("" if hit == facts.domain else f" under {hit}"))
    if rule.min_score is not None:
        if facts.score is None or facts.score < rule.min_score:
            return None
        reasons.append(f"score {_num(facts.score)} >= {_num(rule.min_score)}")
    return reasons


def domain_within(domain: str, parent: str) -> bool:
    """eu.acme.com is within acme.com; notacme.com is not."""
    return domain == parent or domain.endswith("." + parent)


def reassign_existing(choice: OwnerChoice | None, current_owner_id: str | None, *,
                      became_sales_ready: bool) -> str | None:
    """The owner to set on an *existing* Lead, or None to leave it.

    Only a hand-off moves a Lead that already exists: when this response made it sales-ready
    and it still sits in a queue (or has no owner). A Lead a rep already owns stays with the
    rep; taking it away because a form was filled is the trampling users complain about.
    """
    if choice is None or not became_sales_ready:
        return None
    if current_owner_id and not current_owner_id.startswith(_QUEUE_PREFIX):
        return None
    return None if choice.owner_id == current_owner_id else choice.owner_id


# -- stages ---------------------------------------------------------------------------------

def stage_for(routing: Routing, facts: RoutingFacts) -> str | None:
    """"sales_ready" when the form is a sales-ready one or the score reaches the threshold,
    else "nurture"; None when stages are not configured."""
    stages = routing.stages
    if stages is None:
        return None
    if facts.form_id in stages.sales_ready_forms:
        return SALES_READY
    if stages.sales_ready_score is not None and facts.score is not None \
            and facts.score >= stages.sales_ready_score:
        return SALES_READY
    return NURTURE


def status_change(routing: Routing, stage: str | None, current_status: str | None) -> str | None:
    """The Lead Status to write, or None to leave it.

    A new Lead (``current_status`` None) or a blank one gets its stage's status. An existing
    Lead only moves up, from the nurture status to the sales-ready one. Any other status is a
    rep's ("Working", "Unqualified") or already sales-ready: never touched, never downgraded.
    """
    stages = routing.stages
    if stages is None or stage is None:
        return None
    target = stages.sales_ready if stage == SALES_READY else stages.nurture
    if target is None:
        return None
    current = (current_status or "").strip()
    if not current:
        return target
    if stage == SALES_READY and stages.nurture and current.casefold() == stages.nurture.casefold():
        return target
    return None


def status_fields(routing: Routing, stage: str | None, current_status: str | None, *,
                  changed_at_ms: int) -> dict[str, str]:
    """The Lead fields for a stage change: Status and, when configured, the date stamp.

    ``changed_at_ms`` is the submission time of the response that caused the change (not the
    run's clock), so a replay writes the same value and the date says when the person became
    sales-ready, even if the sync ran late.
    """
    new_status = status_change(routing, stage, current_status)
    if new_status is None:
        return {}
    fields = {"Status": new_status}
    stages = routing.stages
    if stages is not None and stages.date_field:
        moment = _utc(changed_at_ms)
        fields[stages.date_field] = (_iso_z(moment) if stages.date_type == "datetime"
                                     else _local_date(moment, routing.timezone))
    return fields


# -- the Task -------------------------------------------------------------------------------

def task_for(routing: Routing, *, response: Response, owner_id: str | None, who_id: str,
             form_name: str, history: Sequence[tuple[int, str]], now_ms: int,
             why: str = "") -> dict[str, Any] | None:
    """The follow-up Task's fields for a sales-ready response, or None.

    Due ``sla`` after the submission: ``ActivityDate`` is that moment's date in
    ``routing.timezone`` and ``ReminderDateTime`` the moment itself. When the sync runs after
    the due time (a backlog, a retry), the date stays honest (the Task shows overdue) and the
    reminder fires at ``now_ms`` instead of in the past, where nobody would see it.
    ``owner_id`` is the Lead's owner; a queue cannot own a Task, so then ``tasks.owner`` (or
    nobody: the creating user) takes it. ``history`` is the person's earlier responses as
    (submitted_at ms, form name).
    """
    tasks = routing.tasks
    if tasks is None:
        return None
    facts = facts_from(response, routing.score_field)
    if stage_for(routing, facts) != SALES_READY:
        return None
    due = _utc(response.submitted_at) + timedelta(seconds=tasks.sla_seconds)
    remind = max(due, _utc(now_ms))
    task: dict[str, Any] = {
        "Subject": _subject(tasks.subject, response, facts, form_name),
        "Description": _description(response, facts, form_name, history, due, now_ms, why,
                                    routing.timezone),
        "WhoId": who_id,
        "ActivityDate": _local_date(due, routing.timezone),
        "ReminderDateTime": _iso_z(remind),
        "IsReminderSet": True,
        "Priority": tasks.priority,
        "Status": "Not Started",
    }
    task_owner = _task_owner(tasks, owner_id)
    if task_owner:
        task["OwnerId"] = task_owner
    return task


def _task_owner(tasks: TaskRule, lead_owner_id: str | None) -> str | None:
    if lead_owner_id and lead_owner_id.startswith(_USER_PREFIX):
        return lead_owner_id
    return tasks.owner.id if tasks.owner is not None else None


# -- a Task written once: the response id on the Task ------------------------------------------

TASK_KEY_FIELD = "Leadsync_Response_Id__c"   # the Lead's external id name, unless configured
CONVERSION_ID_LENGTH = 36                     # a HubSpot conversion id is a UUID


@dataclass(frozen=True)
class TaskKey:
    """How a response's follow-up Task is kept to one, decided from the org's Task describe.

    A Task is an activity: unlike a Lead (found again by email or external id) or a
    CampaignMember (one per campaign and record), nothing tells a replayed write from a new
    one unless the Task carries the response's id. With ``field`` set every Task leadsync
    writes carries it; ``upsert`` (an External ID field) makes the write itself idempotent;
    ``lookup`` (a plain filterable field) lets a replayed response find its Task first.
    """

    field: str | None = None
    upsert: bool = False
    lookup: bool = False
    why: str = ""


def task_key(task: "ObjectSchema | None", configured: str | None = None) -> TaskKey:
    """The :class:`TaskKey` for an org whose Task describe is ``task``.

    The field is the one the Lead's external id uses (``lead_external_id_field``), else
    ``Leadsync_Response_Id__c``: one name for "this response" across the org. Without it, or
    where the integration user cannot write it, or where a conversion id does not fit (not
    text, shorter than a UUID), Tasks are written as before: plain creates.
    """
    name = configured or TASK_KEY_FIELD
    info = task.field(name) if task is not None else None
    if info is None:
        return TaskKey(why=f"Task has no field {name}")
    if not info.createable:
        return TaskKey(why=f"Task.{info.name} is read-only for the integration user")
    if info.type != "string" or (info.length and info.length < CONVERSION_ID_LENGTH):
        return TaskKey(why=f"Task.{info.name} is not a text field of {CONVERSION_ID_LENGTH}+ "
                           "characters")
    if info.external_id:
        return TaskKey(info.name, upsert=True, why=f"upsert on Task.{info.name} (External ID)")
    if info.filterable:
        return TaskKey(info.name, lookup=True,
                       why=f"Task.{info.name} is looked up for replayed responses")
    return TaskKey(info.name, why=f"Task.{info.name} is carried, but cannot be filtered on")


def tasks_found(rows: Iterable[Mapping[str, Any]], field_name: str) -> dict[str, str]:
    """Conversion id -> Task Id from a lookup's rows; the lowest Id when several carry one id
    (a stable choice: the ledger names the same Task on every replay)."""
    found: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: str(r.get("Id") or "")):
        key = str(row.get(field_name) or "").lower()
        if key and row.get("Id"):
            found.setdefault(key, str(row["Id"]))
    return found


def _subject(template: str, response: Response, facts: RoutingFacts, form_name: str) -> str:
    score = _num(facts.score) if facts.score is not None else ""
    values = {"form": form_name, "email": response.email, "name": _person_name(response),
              "company": facts.company or "", "score": score}
    text = " ".join(template.format(**values).split())
    return text if len(text) <= SUBJECT_MAX else text[:SUBJECT_MAX - 1] + "…"


def _person_name(response: Response) -> str:
    parts = [response.lead_fields.get("FirstName", ""), response.lead_fields.get("LastName", "")]
    name = " ".join(p.strip() for p in parts if p and p.strip() and p.strip() != NOT_PROVIDED)
    return name or response.email


def _description(response: Response, facts: RoutingFacts, form_name: str,
                 history: Sequence[tuple[int, str]], due: datetime, now_ms: int, why: str,
                 zone: str) -> str:
    """What the rep needs before calling: this response, then the moments before it."""
    submitted = _when(_utc(response.submitted_at), zone)
    lines = [f"{form_name} submitted {submitted} by {response.email}."]
    if why:
        lines.append(f"Routed by {why}.")
    overdue = " (already past when leadsync synced it)" if due < _utc(now_ms) else ""
    lines += [f"Follow up by {_when(due, zone)}{overdue}.", "", "Form values:"]
    lines += [f"  {name}: {value}" for name, value in response.form_values.items()] or ["  (none)"]
    earlier = sorted(h for h in history if h[0] < response.submitted_at)
    lines += ["", "Earlier responses:" if earlier else "Earlier responses: none (first response)."]
    if len(earlier) > HISTORY_SHOWN:
        lines.append(f"  ... {len(earlier) - HISTORY_SHOWN} older ones not listed")
        earlier = earlier[-HISTORY_SHOWN:]
    lines += [f"  {_when(_utc(ms), zone)}  {name}" for ms, name in earlier]
    text = "\n".join(lines)
    return text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX - 1] + "…"


def describe_routing(choice: OwnerChoice | None, stage: str | None,
                     task: Mapping[str, Any] | None) -> str:
    """One line for --dry-run: owner and why, stage, and the Task's due time."""
    parts = []
    if choice is not None:
        parts.append(f"owner {choice.owner or choice.owner_id} by {choice.why}")
    if stage is not None:
        parts.append(f"stage {stage.replace('_', '-')}")
    if task is not None:
        parts.append(f"task ({task.get('Priority')}) due {task.get('ActivityDate')}, "
                     f"reminder {task.get('ReminderDateTime')}")
    return "; ".join(parts)


# -- normalising ----------------------------------------------------------------------------

def _text_key(text: str) -> str:
    """Case, dots, hyphens and spacing out: "U.S.A." ~ "usa", "Viet-Nam" ~ "viet nam"."""
    text = text.casefold().replace(".", "").replace("-", " ").replace("_", " ")
    text = " ".join(text.split())
    return text.removeprefix("the ")


def country_key(text: str) -> str:
    """A country as an ISO 3166-1 alpha-2 code when known ("Germany", "de", "DEU" -> "DE"),
    else its normalised text, so a name outside the table still compares with itself."""
    key = _text_key(text)
    if key in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[key]
    return key.upper() if len(key) == 2 and key.isalpha() else key


def state_key(text: str) -> str:
    """A US state or Canadian province as its code ("California", "ca" -> "CA"), else text."""
    key = _text_key(text)
    if key in _STATE_NAMES:
        return _STATE_NAMES[key]
    return key.upper() if len(key) == 2 and key.isalpha() else key


def _build(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, names in table.items():
        for name in names.split("|"):
            out[_text_key(name)] = code
    return out


_COUNTRIES = {
    "US": "United States|United States of America|USA|America|Vereinigte Staaten",
    "CA": "Canada", "MX": "Mexico|México|MEX", "BR": "Brazil|Brasil|BRA", "AR": "Argentina|ARG",
    "CL": "Chile|CHL", "CO": "Colombia|COL", "PE": "Peru|Perú|PER",
    "GB": "United Kingdom|UK|U.K.|GBR|Great Britain|Britain|England|Scotland|Wales|"
          "Northern Ireland|United Kingdom of Great Britain and Northern Ireland",
    "IE": "Ireland|Éire|IRL|Republic of Ireland", "DE": "Germany|Deutschland|DEU|GER",
    "AT": "Austria|Österreich|Oesterreich|AUT", "CH": "Switzerland|Schweiz|Suisse|Svizzera|CHE",
    "FR": "France|FRA", "BE": "Belgium|België|Belgique|Belgien|BEL",
    "NL": "Netherlands|Nederland|Holland|NLD", "LU": "Luxembourg|Luxemburg|LUX",
    "IT": "Italy|Italia|ITA", "ES": "Spain|España|Espana|ESP", "PT": "Portugal|PRT",
    "DK": "Denmark|Danmark|DNK", "SE": "Sweden|Sverige|SWE", "NO": "Norway|Norge|NOR",
    "FI": "Finland|Suomi|FIN", "IS": "Iceland|ISL", "PL": "Poland|Polska|POL",
    "CZ": "Czechia|Czech Republic|Česko|CZE", "SK": "Slovakia|SVK", "HU": "Hungary|HUN",
    "RO": "Romania|ROU", "BG": "Bulgaria|BGR", "GR": "Greece|GRC", "HR": "Croatia|HRV",
    "SI": "Slovenia|SVN", "EE": "Estonia|EST", "LV": "Latvia|LVA", "LT": "Lithuania|LTU",
    "UA": "Ukraine|UKR", "RU": "Russia|Russian Federation|RUS", "TR": "Turkey|Türkiye|Turkiye|TUR",
    "IL": "Israel|ISR", "AE": "United Arab Emirates|UAE|ARE", "SA": "Saudi Arabia|SAU",
    "ZA": "South Africa|ZAF", "NG": "Nigeria|NGA", "EG": "Egypt|EGY", "KE": "Kenya|KEN",
    "IN": "India|IND", "CN": "China|People's Republic of China|PRC|CHN", "JP": "Japan|JPN",
    "KR": "South Korea|Korea|Republic of Korea|Korea, Republic of|KOR", "SG": "Singapore|SGP",
    "HK": "Hong Kong|HKG", "TW": "Taiwan|TWN", "AU": "Australia|AUS", "NZ": "New Zealand|NZL",
    "MY": "Malaysia|MYS", "ID": "Indonesia|IDN", "TH": "Thailand|THA", "VN": "Vietnam|Viet Nam|VNM",
    "PH": "Philippines|PHL",
}
_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador|Newfoundland", "NS": "Nova Scotia", "ON": "Ontario",
    "PE": "Prince Edward Island", "QC": "Quebec|Québec", "SK": "Saskatchewan",
    "NT": "Northwest Territories", "NU": "Nunavut", "YT": "Yukon",
}
_COUNTRY_NAMES = _build(_COUNTRIES)
_STATE_NAMES = _build(_STATES)


# -- time -----------------------------------------------------------------------------------

def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local_date(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")


def _when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or zone)


def _num(value: float) -> str:
    return f"{value:g}"
