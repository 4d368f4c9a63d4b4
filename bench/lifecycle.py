"""The lifecycle pass over many open hand-offs: Salesforce calls, wall time, peak memory.

    python bench/lifecycle.py --handoffs 2500 5000 10000

For each size, two passes, each on a fresh state holding that many hand-off rows (a Lead
owned by its rep, with its follow-up Task): none breached (every hand-off a minute old),
and 10% breached (a tenth handed off three hours ago, SLA 2h: each reassigned through a pool
of two, its Task moved with it). The sandbox runs in its own process (its memory is not the
pass's); each pass runs in a fresh spawned process whose peak Python allocation
(``tracemalloc``) and resident high-water mark (``ru_maxrss``, interpreter included) are its
own. Salesforce calls are the client's count (what the org's API limit sees). Figures are
printed, never asserted. Target: at most 0.01 Salesforce calls per watched record per pass,
memory flat in the number of records (the pass reads and writes a page at a time).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "00Dbench!TOKEN"
USERS = ("ade", "bea", "cy", "max")


def _sandbox_main(conn: Any, sizes: list[int]) -> None:
    """The org: four users, the statuses, and max(sizes) Leads each with an open Task."""
    from connector.sandbox import Sandbox
    from connector.sandbox.sf_store import LOAD_OPTIONS

    sandbox = Sandbox(token=TOKEN)
    store = sandbox.app.salesforce.store
    store.set_picklist("Lead", "Status", ["Open - Not Contacted", "Sales Ready", "Working"])
    users = {u: store.add_user(u.title(), username=f"{u}@acme.example") for u in USERS}
    pairs = []
    for i in range(max(sizes)):
        lead = store.create("Lead", {"LastName": f"L{i}", "Company": "Corp", "Status": "Sales Ready",
                                     "Email": f"p{i}@corp{i % 97}.example",
                                     "OwnerId": users["ade"]}, LOAD_OPTIONS)
        task = store.create("Task", {"WhoId": lead, "Subject": "Follow up", "OwnerId": users["ade"],
                                     "Status": "Not Started"}, LOAD_OPTIONS)
        pairs.append((lead, task))
    dataset = sandbox.app.dump()
    sandbox.start()
    conn.send((sandbox.url, users, pairs))
    while True:
        command = conn.recv()
        if command == "fresh":
            sandbox.app.load(dataset)
            conn.send(True)
        else:
            sandbox.stop()
            conn.send(True)
            return


def _state(path: Path, pairs: list[tuple[str, str]], owner: str, breached_share: float) -> None:
    """A state whose ledger holds one applied hand-off row per (Lead, Task)."""
    from connector.adapters.sqlite.ledger import State

    State.open(path).close()
    now = datetime.now(timezone.utc)
    fresh = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    old = (now - timedelta(hours=3)).isoformat(timespec="milliseconds")
    every = int(1 / breached_share) if breached_share else 0
    rows = [(f"c{i}", "form", 0, f"p{i}@corp.example", "camp", "create_lead", "applied", lead,
             owner, task, old if every and i % every == 0 else fresh, fresh)
            for i, (lead, task) in enumerate(pairs)]
    db = sqlite3.connect(path)
    db.executemany("INSERT INTO ledger (conversion_id, form_id, submitted_at, email, campaign_id, "
                   "action, status, lead_id, owner_id, task_id, updated_at, first_seen_at) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


def _pass_main(queue: Any, url: str, pairs: list[tuple[str, str]], owner: str,
               breached_share: float) -> None:
    import tracemalloc

    from connector.adapters.sqlite.ledger import State
    from connector.config.settings import settings_from_dict
    from connector.engine.lifecycle import PassOptions, run_lifecycle
    from connector.engine.wiring import clients

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "leadsync.db"
        _state(path, pairs, owner, breached_share)
        settings = settings_from_dict({
            "method": "hybrid", "salesforce": {"instance_url": url, "access_token": TOKEN},
            "hubspot": {"base_url": url, "access_token": TOKEN}, "state": {"path": str(path)},
            "campaigns": [{"form_id": "form", "campaign_id": "701000000000001AAA"}],
            "routing": {"mode": "none", "stages": {"sales_ready": "Sales Ready",
                                                   "nurture": "Open - Not Contacted",
                                                   "sales_ready_forms": ["form"]}},
            "lifecycle": {"sla": "2h", "on_breach": "both", "max_reassignments": 2,
                          "pool": ["user:bea@acme.example", "user:cy@acme.example"],
                          "escalate_to": "user:max@acme.example"}}, env={})
        state = State.open(path)
        state.lock()
        client = clients(settings).salesforce
        results = []
        for _ in range(2):     # the first pass takes the hand-offs in; the next is the steady state
            tracemalloc.start()
            started = time.monotonic()
            report = run_lifecycle(settings, state, client, PassOptions(keep_actions=False))
            wall = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            results.append({"wall": wall, "peak_mib": peak / 2**20, "rss_mib": rss,
                            "calls": report.sf_calls, "watched": report.watched,
                            "counts": report.counts, "status": report.status})
        state.close()
    queue.put(results)


def _in_child(*args: Any) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_pass_main, args=(queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, nargs="+", default=[2_500, 5_000, 10_000])
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=_sandbox_main, args=(child, args.handoffs), daemon=True)
    proc.start()
    url, users, pairs = conn.recv()
    print(f"{'hand-offs':>9} {'breached':>8} {'pass':>6} {'SF calls':>8} {'calls/record':>12} "
          f"{'wall s':>7} {'peak MiB':>8} {'RSS MiB':>8}  actions")
    for n in args.handoffs:
        for share in (0.0, 0.1):
            conn.send("fresh")
            conn.recv()
            for which, r in zip(("first", "next"), _in_child(url, pairs[:n], users["ade"], share)):
                actions = ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items()))
                print(f"{n:>9} {share:>8.0%} {which:>6} {r['calls']:>8} {r['calls'] / n:>12.4f} "
                      f"{r['wall']:>7.2f} {r['peak_mib']:>8.1f} {r['rss_mib']:>8.1f}  {actions}"
                      f"{'' if r['status'] == 'ok' else '  ' + r['status']}")
    conn.send("stop")
    conn.recv()
    proc.join(timeout=10)


if __name__ == "__main__":
    main()
