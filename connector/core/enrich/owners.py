"""Who owns a Lead: the owner rules, the owners' Ids, and the pick for one response. (pure)

``[[routing.rules]]`` (parsed by ``connector.config.routing``) become :class:`OwnerRule`s;
the engine looks every named owner up once per run (:func:`owner_names`,
:func:`with_owner_ids`) and asks :func:`route` for each new Lead. Places are compared
through :class:`Places`, which reads the one country/state table (``connector.core.geo``)
so a rule's "Germany" and a Lead's "DE" are the same place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from connector.core import geo
from connector.core.domains import domain_within
from connector.core.ids import is_queue_id, is_user_id, to_id18
from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.core.enrich.routing import Routing, RoutingFacts

Normaliser = Callable[[str], "str | None"]   # a place as typed -> its code, or None if unknown


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
        """A queue may own Leads but not Tasks: the Task then needs another owner."""
        return self.kind == "queue" or is_queue_id(self.id)

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
        """How many conditions the rule sets: one with none matches everything."""
        return sum(bool(c) for c in (self.forms, self.countries, self.states, self.companies,
                                     self.domains)) + (self.min_score is not None)


@dataclass(frozen=True)
class OwnerChoice:
    """The owner routing picked, the rule (zero-based, as in ``routing.rules[i]``) and why."""

    owner_id: str
    rule: int | None
    why: str
    owner: str = ""   # the owner as configured ("user:jane@acme.com"), for people to read
    # The owner cannot be given a Lead this run (``Routing.unusable``): the config key and
    # why, no name of a person in it (it becomes a parked response's error). ``owner_id``
    # is then "": the Lead is parked, not created.
    paused: str = ""


@dataclass(frozen=True)
class Places:
    """How routing compares countries and states: the config's aliases first, then an
    injected normaliser (a stand-in table, say), then the shipped table (``core.geo``).

    Rule values and response values go through the same function, so "Germany" in a rule
    matches "DE" on a Lead, and a value no table knows still matches itself. A state is
    read within its country (``WA`` is Western Australia on an Australian Lead), so its key
    carries the country: ``AU-WA``.
    """

    aliases: tuple[tuple[str, str], ...] = ()            # normalised name -> ISO code pairs
    country: Normaliser | None = field(default=None, compare=False, repr=False)
    state: Normaliser | None = field(default=None, compare=False, repr=False)

    def country_key(self, text: str) -> str:
        """A country's comparison key: its ISO code when known, else its normalised text."""
        extra = dict(self.aliases)
        key = geo.normalise_place(text)
        if key in extra:
            return extra[key]
        found = self.country(text) if self.country else None
        return found.upper() if found else geo.country_key(text)

    def state_key(self, text: str, country: str | None = None) -> str:
        """A state's comparison key, read within ``country`` (as typed) when there is one."""
        found = self.state(text) if self.state else None
        if found:
            return found.upper()
        return geo.state_key(text, self.country_key(country) if country else None)

    def rule_states(self, texts: Iterable[str], countries: Iterable[str]) -> tuple[str, ...]:
        """A rule's states as keys, each read within every country the rule names (or none)."""
        homes = tuple(countries) or (None,)
        return tuple(dict.fromkeys(self.state_key(t, c) for t in texts for c in homes))


def score_text(value: float) -> str:
    """A score as people write it: 85, not 85.0."""
    return f"{value:g}"


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


def with_owner_ids(routing: Routing, ids: Mapping[str, str], *,
                   unusable: Mapping[str, str] | None = None) -> Routing:
    """Routing with every named owner's Id filled in, or a ConfigError naming the rule.

    Keys compare without case (SOQL's ``=`` does too), so the engine may pass Usernames as
    Salesforce spells them. ``unusable`` (owner key -> why) are owners known to be missing
    that routing parks Leads for rather than fail the run (kept unresolved).
    """
    folded = {k.casefold(): to_id18(v) for k, v in ids.items()}
    unusable = dict(unusable or {})

    def resolve(ref: OwnerRef, key: str) -> OwnerRef:
        if ref.id is not None or ref.key in unusable:
            return ref
        found = folded.get(ref.key.casefold())
        if found is None:
            raise ConfigError(_not_found(ref)[0], key=key)
        return replace(ref, id=found)

    rules = tuple(replace(r, owner=resolve(r.owner, f"routing.rules[{i}].owner"))
                  for i, r in enumerate(routing.rules))
    default = (None if routing.default_owner is None
               else resolve(routing.default_owner, "routing.default_owner"))
    tasks = routing.tasks
    if tasks is not None and tasks.owner is not None:
        tasks = replace(tasks, owner=resolve(tasks.owner, "routing.tasks.owner"))
        if not is_user_id(tasks.owner.id if tasks.owner is not None else None):
            raise ConfigError("must be a user: Salesforce queues cannot own Tasks",
                              key="routing.tasks.owner")
    return replace(routing, rules=rules, default_owner=default, tasks=tasks, unusable=unusable)


TASKS_OWNER = "routing.tasks.owner"


def _not_found(ref: OwnerRef) -> tuple[str, str]:
    """Why a named owner the lookup did not find cannot own records, and the same without
    the name (a parked response's error names no person: Usernames are email addresses)."""
    if ref.kind == "user":
        return f"no active user with Username {ref.name}", "no active user by that Username"
    return f"no queue with DeveloperName {ref.name}", "no queue by that DeveloperName"


@dataclass(frozen=True)
class OwnerFallback:
    """A rule's owner the org does not have as an active User (or a Queue), replaced for this
    run by the default owner: one rep who left must not stop every form. Without a usable
    default owner (``default`` ""), the Leads it would own are parked instead."""

    key: str          # the config key, e.g. routing.rules[2].owner
    owner: str        # the owner as configured ("user:jane@acme.com")
    why: str          # "no active user with Username ...", from with_owner_ids' words
    default: str      # the default owner it falls back to; "": none usable, Leads parked

    def __str__(self) -> str:
        if self.key == TASKS_OWNER:
            return (f"{self.key} ({self.owner}): {self.why}; Tasks for Leads in a queue are "
                    f"owned by {self.default} until it is fixed")
        if not self.default:
            return (f"{self.key} ({self.owner}): {self.why}; the Leads it would own are parked "
                    "until it is fixed (then `leadsync retry` creates them)")
        return f"{self.key} ({self.owner}): {self.why}; its Leads go to the default owner {self.default}"

    def to_json(self) -> dict[str, str]:
        """As a run's warning: kind, the config key it names, the sentence."""
        return {"kind": "owner", "subject": self.key, "message": str(self)}


def id_user_owners(routing: Routing) -> list[str]:
    """The rules' owners given as User Ids (not looked up by name): the engine checks in the
    owners' lookup that they are active (``SELECT Id FROM User WHERE IsActive = true AND Id
    IN {ids}``), so a rep deactivated since falls back too."""
    return sorted({r.owner.id for r in routing.rules
                   if r.owner.kind == "id" and r.owner.id and is_user_id(r.owner.id)})


def with_owner_ids_or_default(routing: Routing, ids: Mapping[str, str], *,
                              checked_ids: Iterable[str] = ()) -> tuple[Routing, list[OwnerFallback]]:
    """:func:`with_owner_ids`, except that a rule whose owner is unknown or inactive takes
    the default owner, each one reported. ``checked_ids`` are User Ids the lookup checked:
    those not found (as ``id:<Id>``) in ``ids`` are inactive.

    When there is no usable default owner, nothing is left to fall back to, yet one owner
    must not stop every form: the owners concerned (the default, and rules' owners that
    would fall back to it) go in ``Routing.unusable``, and a Lead routed to one is parked
    with its reason (as Salesforce refuses a Lead given an inactive owner) while every other
    Lead is created; ``leadsync retry`` creates the parked ones once the owner is fixed.
    An unusable ``routing.tasks.owner`` is dropped for the run with a warning: Tasks for
    Leads in a queue then go to the integration user, as when it is not set."""
    folded = {k.casefold() for k in ids}
    inactive = {i for i in checked_ids if f"id:{i}".casefold() not in folded}

    def gone(ref: OwnerRef) -> tuple[str, str] | None:
        """(why, the same without the name: a parked response's error names no person)."""
        if ref.kind == "id" and ref.id in inactive:
            return f"no active user with Id {ref.id}", "no active user with that Id"
        if ref.id is None and ref.key.casefold() not in folded:
            return _not_found(ref)
        return None

    default = routing.default_owner
    fallbacks: list[OwnerFallback] = []
    unusable: dict[str, str] = {}
    default_gone = gone(default) if default is not None else None
    if default is not None and default_gone is not None:
        unusable[default.key] = f"routing.default_owner: {default_gone[1]}"
        fallbacks.append(OwnerFallback("routing.default_owner", str(default), default_gone[0], ""))
    usable_default = default if default is not None and default_gone is None else None
    tasks = routing.tasks
    task_owner_gone = gone(tasks.owner) if tasks is not None and tasks.owner is not None else None
    if tasks is not None and task_owner_gone is not None:
        # as when it is not set: the Task goes to whoever creates it (the integration user)
        fallbacks.append(OwnerFallback(TASKS_OWNER, str(tasks.owner), task_owner_gone[0],
                                       "the integration user"))
        routing = replace(routing, tasks=replace(tasks, owner=None))
    rules = []
    for i, rule in enumerate(routing.rules):
        missing = gone(rule.owner)
        if missing is not None:
            key = f"routing.rules[{i}].owner"
            fallbacks.append(OwnerFallback(key, str(rule.owner), missing[0],
                                           str(usable_default or "")))
            if usable_default is not None:
                rule = replace(rule, owner=usable_default)
            else:
                unusable.setdefault(rule.owner.key, f"{key}: {missing[1]}")
        rules.append(rule)
    return with_owner_ids(replace(routing, rules=tuple(rules)), ids, unusable=unusable), fallbacks


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
            return _choice(routing, rule.owner, i, why)
    if routing.default_owner is not None:
        return _choice(routing, routing.default_owner, None, "default owner (no rule matched)")
    return None


def _choice(routing: Routing, ref: OwnerRef, rule: int | None, why: str) -> OwnerChoice:
    paused = routing.unusable.get(ref.key) if routing.unusable else None
    if paused is not None:
        return OwnerChoice("", rule, why, str(ref), paused=paused)
    return OwnerChoice(_owner_id(ref), rule, why, str(ref))


def _owner_id(ref: OwnerRef) -> str:
    """The Id routing writes; a missing one is a programming error, not a config one."""
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
        if not facts.state or places.state_key(facts.state, facts.country) not in rule.states:
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
        reasons.append(f"score {score_text(facts.score)} >= {score_text(rule.min_score)}")
    return reasons


def reassign_existing(choice: OwnerChoice | None, current_owner_id: str | None, *,
                      became_sales_ready: bool) -> str | None:
    """The owner to set on an *existing* Lead, or None to leave it.

    Only a hand-off moves a Lead that already exists: when this response made it sales-ready
    and it still sits in a queue (or has no owner). A Lead a rep already owns stays with the
    rep; taking it away because a form was filled is the trampling users complain about.
    """
    if choice is None or not became_sales_ready:
        return None
    if current_owner_id and not is_queue_id(current_owner_id):
        return None
    return None if choice.owner_id == current_owner_id else choice.owner_id
