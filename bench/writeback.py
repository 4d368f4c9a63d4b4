"""Write-back to HubSpot at scale: 10,000 handed-off people, then a pass with 10% changed.

    python bench/writeback.py --people 10000 --changed 0.1 [--latency-ms 0]

The sandbox runs in its own process (so leadsync's memory is its own), with HubSpot's
Professional rate limit (190 calls per 10 s) and its CRM v3 endpoints. The world: N Leads in
Salesforce, N HubSpot contacts (from form fills), N applied ledger rows naming the Leads.
Three passes of ``Writeback.run`` (collect from the ledger and Salesforce, push to HubSpot):

1. first: every contact is found by email (batch read) and written (batch update);
2. unchanged: nothing differs, so no HubSpot write at all;
3. changed: a share of the Leads changed status in Salesforce; only those are sent.

Printed per pass: HubSpot calls, Salesforce calls, calls per person, wall time, and the
peak memory of the pass (tracemalloc: Python allocations) next to the process's peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TOKEN = "00Dbench!TOKEN"
OPEN = "Open - Not Contacted"
NAMES = ("leadsync_salesforce_id", "leadsync_salesforce_type", "leadsync_lead_status", "leadsync_owner",
         "leadsync_stage", "leadsync_score")


def _sandbox_main(conn: Any, people: int, latency_ms: int) -> None:
    from connector.sandbox import Sandbox

    with Sandbox(token=TOKEN) as sb:
        app = sb.app
        form = app.hubspot.create_form("Bench form")
        for name in NAMES:
            app.hubspot.crm.create_property(name, "number" if name == "leadsync_score" else "string")
        leads = []
        for i in range(people):
            email = f"person{i}@bench.example"
            app.hubspot.add_submission(form, {"email": email, "lastname": f"L{i}"}, submitted_at=1_700_000_000_000 + i)
            leads.append((email, app.salesforce.insert("Lead", {"LastName": f"L{i}", "Company": "Bench",
                                                              "Email": email, "Status": OPEN})))
        app.faults.configure(latency_ms=latency_ms)
        conn.send((sb.url, leads))
        while True:
            command, arg = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "change":
                for lead_id in arg:
                    app.salesforce.update("Lead", lead_id, {"Status": "Working - Contacted"})
                conn.send(None)


def _ledger(state: Any, leads: list[tuple[str, str]]) -> None:
    """Applied ledger rows as a sync leaves them (one response per person)."""
    rows = [(str(uuid.uuid4()), "form", 1_700_000_000_000 + i, email, "camp", "create_lead", "applied", lead_id)
            for i, (email, lead_id) in enumerate(leads)]
    with state.transaction() as db:
        db.conn.executemany("INSERT INTO ledger (conversion_id, form_id, submitted_at, email, campaign_id, action, "
                            "status, lead_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _pass(name: str, settings: Any, people: int) -> dict[str, Any]:
    from connector.adapters.sqlite.ledger import State
    from connector.engine.wiring import clients
    from connector.engine.writeback import Writeback

    state = State.open(settings.state_path)
    try:
        vendors = clients(settings)
        tracemalloc.start()
        started = time.monotonic()
        report = Writeback(settings, hubspot=vendors.hubspot, salesforce=vendors.salesforce, state=state).run()
        wall = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        state.close()
    c = report.counts
    return {"pass": name, "sent": c.sent, "unchanged": c.unchanged, "hubspot_calls": c.calls,
            "salesforce_calls": report.salesforce_calls,
            "sf_calls_per_person": report.salesforce_calls / people, "wall_s": wall,
            "peak_traced_mb": peak / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.1)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()

    from connector.adapters.sqlite.ledger import State
    from connector.config.settings import settings_from_dict

    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_sandbox_main, args=(child, args.people, args.latency_ms), daemon=True)
    built = time.monotonic()
    proc.start()
    url, leads = conn.recv()
    print(f"world: {args.people} Leads, contacts and ledger rows, built in {time.monotonic() - built:.1f} s; "
          f"HubSpot limit 190 calls / 10 s; latency {args.latency_ms} ms")
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from_dict({
            "salesforce": {"instance_url": url, "access_token": TOKEN},
            "hubspot": {"base_url": url, "access_token": TOKEN},
            "state": {"path": str(Path(tmp) / "leadsync.db")},
            "campaigns": [{"form_id": "bench-form", "campaign_id": "701000000000001AAA"}],
            "writeback": {"nurture_statuses": [OPEN]}}, env={})
        state = State.open(settings.state_path)
        _ledger(state, leads)
        state.close()
        results = [_pass("first (all new)", settings, args.people),
                   _pass("unchanged", settings, args.people)]
        changed = [lead_id for _, lead_id in leads[:int(args.people * args.changed)]]
        conn.send(("change", changed))
        conn.recv()
        results.append(_pass(f"{args.changed:.0%} changed", settings, args.people))
    conn.send(("stop", None))
    conn.recv()
    proc.join(timeout=10)
    header = f"{'pass':<18}{'sent':>7}{'unchanged':>10}{'HS calls':>9}{'SF calls':>9}{'SF/person':>10}" \
             f"{'wall s':>8}{'peak MB':>9}{'RSS MB':>8}"
    print(header)
    for r in results:
        print(f"{r['pass']:<18}{r['sent']:>7}{r['unchanged']:>10}{r['hubspot_calls']:>9}{r['salesforce_calls']:>9}"
              f"{r['sf_calls_per_person']:>10.4f}{r['wall_s']:>8.2f}{r['peak_traced_mb']:>9.1f}{r['peak_rss_mb']:>8.0f}")


if __name__ == "__main__":
    main()
