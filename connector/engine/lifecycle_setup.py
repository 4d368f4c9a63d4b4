"""The start of a lifecycle pass: owners named by ``[lifecycle]`` looked up, and what is wrong
with them or with the org named, never a halt.

An owner or queue that does not exist or is inactive, or a recycle field the org's Lead lacks,
is a :class:`Problem` (its config key and what is wrong), shown at the start of the pass and by
``mappings check``. The pass goes on without what the problem touches: an inactive pool member
is skipped, a missing ``escalate_to`` means no escalation, a missing ``recycle_owner`` means
no recycling, a missing recycle field is not read (the default delay applies). The sync never
stops for any of it.
"""

from __future__ import annotations

from typing import Callable, Mapping
from dataclasses import dataclass, field, replace

from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.salesforce.lifecycle import field_names, read_users
from connector.adapters.sqlite.ledger import State
from connector.core.enrich.owners import OwnerRef, owner_names, split_owner_names, with_owner_ids
from connector.core.enrich.routing import Routing
from connector.core.ids import is_queue_id, to_id18
from connector.core.lifecycle.model import PoolMember
from connector.core.lifecycle.rules import LifecycleRules
from connector.errors import ConfigError

DESCRIBE_CACHE = "lifecycle:lead_fields"
DESCRIBE_MAX_AGE = 3600


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


@dataclass
class Setup:
    """The rules with every owner's Id, the pool as members, the names owners are shown by."""

    rules: LifecycleRules
    routing: Routing
    pool: tuple[PoolMember, ...] = ()
    names: dict[str, str] = field(default_factory=dict)
    reason_field: str | None = None        # the recycle fields, when the org has them
    date_field: str | None = None
    problems: list[Problem] = field(default_factory=list)
    # email -> recycled at (ms) -> the emails whose [scoring] score, computed since, is
    # sales-ready (engine/lifecycle.py sets it when [scoring] is configured)
    score_ready_since: Callable[[Mapping[str, int]], set[str]] = lambda _recycled: set()

    @property
    def pool_key(self) -> str:
        return "|".join(ref.key for ref in self.rules.pool)


def resolve(rules: LifecycleRules, routing: Routing, client: SalesforceClient,
            state: State | None = None) -> Setup:
    """Look every owner up (one composite call), check the recycle fields against the Lead's
    describe (cached in the state for an hour), and resolve ``[routing]``'s owners for the
    come-back (one more call, only when recycling is on and routing has rules)."""
    refs = rules.owners()
    shown = [r.owner for r in routing.rules] + [routing.default_owner] * bool(routing.default_owner)
    usernames = [r.name for _, r in refs if r.kind == "user"]
    usernames += [r.name for r in shown if r is not None and r.kind == "user"]
    user_ids = [r.name for _, r in refs if r.kind == "id" and not is_queue_id(r.name)]
    queues = [r.name for _, r in refs if r.kind == "queue"]
    users, queue_ids = read_users(client, usernames, user_ids, queues)
    by_name = {u.username.casefold(): u for u in users}
    by_id = {u.id: u for u in users}
    problems: list[Problem] = []
    names: dict[str, str] = {u.id: u.name for u in users}

    def find(key: str, ref: OwnerRef, *, user_only: bool = False) -> tuple[OwnerRef, bool]:
        """The ref with its Id, and whether it may own things now (exists and is active)."""
        if ref.kind == "queue" or (ref.kind == "id" and is_queue_id(ref.name)):
            qid = queue_ids.get(ref.name) if ref.kind == "queue" else to_id18(ref.name)
            if user_only:
                problems.append(Problem(key, "must be a user: queues cannot own Tasks"))
                return ref, False
            if qid is None:
                problems.append(Problem(key, f"no queue with DeveloperName {ref.name}"))
                return ref, False
            names.setdefault(qid, f"queue {ref.name}")
            return replace(ref, id=qid), True
        user = by_name.get(ref.name.casefold()) if ref.kind == "user" else by_id.get(to_id18(ref.name))
        if user is None:
            what = f"Username {ref.name}" if ref.kind == "user" else f"Id {ref.name}"
            problems.append(Problem(key, f"no user with {what}"))
            return ref, False
        if not user.active:
            problems.append(Problem(key, f"user {user.username} is inactive"))
        return replace(ref, id=user.id), user.active

    pool: list[PoolMember] = []
    resolved_pool: list[OwnerRef] = []
    for i, ref in enumerate(rules.pool):
        found, ok = find(f"lifecycle.pool[{i}]", ref)
        resolved_pool.append(found)
        if found.id is not None:
            pool.append(PoolMember(found.id, names.get(found.id, found.key), ok))
    escalate = rules.escalate_to
    if escalate is not None:
        escalate, ok = find("lifecycle.escalate_to", escalate, user_only=True)
        escalate = escalate if ok else None
    recycle_owner = rules.recycle_owner
    if recycle_owner is not None:
        recycle_owner, ok = find("lifecycle.recycle_owner", recycle_owner)
        recycle_owner = recycle_owner if ok else None
    if rules.pool and not any(m.active for m in pool):
        problems.append(Problem("lifecycle.pool", "no active member: breaches cannot be reassigned"))
    new_rules = replace(rules, pool=tuple(resolved_pool), escalate_to=escalate,
                        recycle_owner=recycle_owner)
    reason, date = _recycle_fields(rules, client, state, problems)
    return Setup(new_rules, _routing(routing, rules, client, problems), tuple(pool), names,
                 reason_field=reason, date_field=date, problems=problems)


def _recycle_fields(rules: LifecycleRules, client: SalesforceClient, state: State | None,
                    problems: list[Problem]) -> tuple[str | None, str | None]:
    """(reason field, come-back date field), each None when unset or missing from the org."""
    wanted = {"reason": rules.recycle_reason_field, "date": rules.recycle_date_field}
    if not rules.recycles or not any(wanted.values()):
        return None, None
    present = state.cached(DESCRIBE_CACHE, DESCRIBE_MAX_AGE) if state is not None else None
    if present is None:
        found = field_names(client, "Lead")
        present = sorted(found) if found is not None else None
        if present is not None and state is not None and not state.read_only:
            state.cache(DESCRIBE_CACHE, present)
    known = set(present or ())
    out: dict[str, str | None] = {}
    for what, name in wanted.items():
        if name and present is not None and name.lower() not in known:
            why = "the default delay applies" if what == "date" else "no reason is shown"
            problems.append(Problem(f"lifecycle.recycle_{what}_field",
                                    f"the org's Lead has no field {name}; {why}"))
            name = None
        out[what] = name
    return out["reason"], out["date"]


def _routing(routing: Routing, rules: LifecycleRules, client: SalesforceClient,
             problems: list[Problem]) -> Routing:
    """``[routing]`` with its owners' Ids, for routing a Lead again on its come-back date."""
    if not rules.recycles or routing.mode != "rules":
        return routing
    names = owner_names(routing)
    if not names:
        return routing
    try:
        return with_owner_ids(routing, client.find_owners(*split_owner_names(names)))
    except ConfigError as exc:
        problems.append(Problem(exc.key or "routing", f"{exc}; a come-back keeps its owner"))
        return Routing(stages=routing.stages, tasks=routing.tasks, timezone=routing.timezone)
