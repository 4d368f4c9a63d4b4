"""``leadsync whatif``: the window's responses decided under each method, side by side.

The lookups are gathered once per batch for every method together (the union of what each
needs), then ``decide_batch`` runs once per method with that method's own run memory, in
submission order. Nothing is written: the state is opened read-only and no write call is
made. What leadsync itself made for the window's responses (the ledger knows) is left out of
the lookups, so a what-if after the sync answers as one before it would have.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from connector.config.settings import Settings
from connector.core.batch import decide_batch
from connector.core.methods import RunMemory
from connector.core.model import Method
from connector.core.reconcile import parse_since
from connector.core.timefmt import iso_ms, to_ms
from connector.core.whatif import WhatIf, made_by_leadsync
from connector.engine.gather import Gatherer
from connector.engine.report import Batches
from connector.engine.wiring import build_engine, clients, open_state


@dataclass
class WhatIfResult:
    whatif: WhatIf
    since: str
    salesforce_calls: int
    hubspot_calls: int

    def to_json(self) -> dict[str, Any]:
        return self.whatif.to_json(since=self.since, salesforce_calls=self.salesforce_calls)


def run_whatif(settings: Settings, *, since: str, methods: Sequence[Method],
               now: datetime | None = None) -> WhatIfResult:
    start_ms = to_ms(parse_since(since, now=now or datetime.now(timezone.utc)))
    state = open_state(settings, read_only=True)
    try:
        vendors = clients(settings)
        sf, hs = vendors.salesforce, vendors.hubspot
        engine = build_engine(settings, state=state, vendors=vendors)
        policy = engine.prepared_policy()
        submissions = hs.submissions_many({c.form_id: start_ms for c in settings.campaigns})
        hide = made_by_leadsync(state.rows_since(start_ms))
        whatif = WhatIf.of(methods)
        memories = {method: RunMemory() for method in methods}
        gatherer = Gatherer(salesforce=sf, state=state, clock=time.time)
        for batch in Batches.of(submissions, settings.sync.batch_size).batches:
            facts = gatherer.gather(batch, policy, [(m, memories[m]) for m in methods], hide=hide)
            whatif.add_facts(facts)
            for method in methods:
                whatif.add_plan(method, decide_batch(facts, method, memories[method], policy=policy))
        whatif.finish()
        return WhatIfResult(whatif, iso_ms(start_ms) or "", sf.calls, hs.calls)
    finally:
        state.close()
