"""``leadsync funnel`` over a 1,000,000-row ledger: wall time, peak memory, Salesforce calls,
and whether each of its ledger queries uses an index.

    python bench/funnel_bench.py --rows 1000000 --window 10000 100000

Why the two sizes: the funnel reads the org by Id for every Lead, Task and Contact the
window's responses name (chunked, ~2,500 Ids per composite call), so its Salesforce side
grows with the *window*, not the ledger. Seeding a million Leads into the in-process sandbox
is not practical, so the ledger holds ``--rows`` rows (written straight with sqlite3
``executemany``, one transaction) and only the rows inside ``--since`` name records that
exist in the sandbox; the rows before it name well-formed Ids the funnel must never ask for.
The ledger side is therefore measured at full size and the org side at each window size.

The mix per row: 45% create_lead, 25% attach_lead, 15% attach_contact, 10% create_contact,
5% failed; a follow-up Task for 30% of the successful ones (half of those closed); 2% of the
window's Leads converted, a third of those into a won Opportunity. Emails repeat (one person
in seven fills twice), over 8 campaigns/forms and 12 owners.

The funnel runs in a spawned process (``sync_bench._in_child``), so its peak RSS
(``ru_maxrss``, interpreter included) is its own; the sandbox serves from this process.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import TOKEN, _in_child, _usage  # noqa: E402  (process and measuring helpers)

FORMS = 8
OWNERS = [f"005B0000{i:07d}" for i in range(12)]
ACTIONS = (("create_lead", 0.45), ("attach_lead", 0.25), ("attach_contact", 0.15),
           ("create_contact", 0.10), ("failed", 0.05))
COLUMNS = ("conversion_id", "form_id", "submitted_at", "email", "campaign_id", "action",
           "status", "lead_id", "contact_id", "owner_id", "account_id", "task_id", "run_id",
           "first_seen_at", "updated_at")


def _action(rng: random.Random) -> str:
    roll = rng.random()
    for name, share in ACTIONS:
        if roll < share:
            return name
        roll -= share
    return ACTIONS[-1][0]


def _fake(prefix: str, n: int) -> str:
    """A well-formed 15-character Id no sandbox holds (rows before the window)."""
    return f"{prefix}Z{n:011d}"


def seed(app: Any, db_path: Path, rows: int, window: int, since_ms: int, now_ms: int,
         seed_value: int = 20) -> dict[str, Any]:
    """The state file (``rows`` ledger rows, the newest ``window`` inside the funnel's
    window) and, in the sandbox ``app``, the records those window rows name."""
    from connector.adapters.sqlite.schema import ensure_schema
    import sqlite_utils

    rng = random.Random(seed_value)
    sf = app.salesforce
    campaigns = [sf.insert("Campaign", {"Name": f"Funnel bench campaign {i}", "IsActive": True})
                 for i in range(FORMS)]
    accounts = [sf.insert("Account", {"Name": f"Customer {i}"}) for i in range(50)]
    forms = [f"form-{i:02d}" for i in range(FORMS)]
    ensure_schema(sqlite_utils.Database(str(db_path)))
    db = sqlite3.connect(db_path)
    db.execute("INSERT INTO runs (id, started_at, method, status) VALUES ('run-1', ?, 'unique', 'ok')",
               [datetime.now(timezone.utc).isoformat()])
    old_span, new_span = since_ms - 3_600_000 - (since_ms - 400 * 86_400_000), now_ms - since_ms
    batch: list[tuple[Any, ...]] = []
    counts = {"leads": 0, "tasks": 0, "contacts": 0, "converted": 0, "won": 0}
    started = time.monotonic()
    for i in range(rows):
        inside = i >= rows - window
        if inside:
            at = since_ms + (i - (rows - window)) * new_span // max(window, 1)
        else:
            at = since_ms - 400 * 86_400_000 + i * old_span // max(rows - window, 1)
        person = i if rng.random() > 1 / 7 else rng.randrange(max(i, 1))
        email = f"person{person}@company{person % 997}.example.com"
        form = rng.randrange(FORMS)
        action = _action(rng)
        lead = contact = account = task = None
        if action in ("create_lead", "attach_lead"):
            lead = sf.insert("Lead", {"LastName": f"P{i}", "Company": "Prospect", "Email": email,
                                      "Status": "Open - Not Contacted"}) if inside \
                else _fake("00Q", i)
            counts["leads"] += inside
        elif action in ("attach_contact", "create_contact"):
            account = rng.choice(accounts) if inside else _fake("001", i % 5000)
            contact = sf.insert("Contact", {"LastName": f"P{i}", "Email": email,
                                            "AccountId": account}) if inside \
                else _fake("003", i)
            counts["contacts"] += inside
        if action != "failed" and rng.random() < 0.30:
            task = sf.insert("Task", {"Subject": "Follow up", "WhoId": lead or contact,
                                      "Status": "Completed" if rng.random() < 0.5
                                      else "Not Started"}) if inside else _fake("00T", i)
            counts["tasks"] += inside
        if inside and lead and rng.random() < 0.02:
            converted = sf.convert_lead(lead, opportunity_name=f"Deal {i}")
            counts["converted"] += 1
            if rng.random() < 1 / 3:
                sf.update("Opportunity", converted["opportunityId"],
                          {"StageName": "Closed Won", "Amount": rng.randrange(1000, 50000)})
                counts["won"] += 1
        stamp = datetime.fromtimestamp(at / 1000, timezone.utc).isoformat()
        batch.append((f"{forms[form]}:{i}", forms[form], at, email, campaigns[form], action,
                      "failed" if action == "failed" else "done", lead, contact,
                      rng.choice(OWNERS) if lead else None, account, task, "run-1", stamp, stamp))
        if len(batch) >= 50_000:
            db.executemany(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(COLUMNS))})", batch)
            batch.clear()
    db.executemany(f"INSERT INTO ledger ({', '.join(COLUMNS)}) VALUES "
                   f"({', '.join('?' * len(COLUMNS))})", batch)
    db.commit()
    db.close()
    return {"forms": forms, "campaigns": campaigns, "seconds": time.monotonic() - started,
            **counts}


LEDGER_QUERIES = {   # the funnel's reads of the state file (connector.adapters.sqlite.ledger)
    "rows_since": ("SELECT * FROM ledger WHERE submitted_at >= ? ORDER BY submitted_at", [0]),
    "runs (--by method)": ("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", [1 << 30]),
}


def query_plans(db_path: Path) -> list[tuple[str, str, bool]]:
    """Each ledger query's plan, and whether it reads through an index (a SCAN of a table
    without one, or a temp B-tree sort, is a full read the ledger's size multiplies)."""
    db = sqlite3.connect(db_path)
    out = []
    for name, (sql, args) in LEDGER_QUERIES.items():
        detail = "; ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
        table_scan = any(part.startswith("SCAN") and "INDEX" not in part
                         for part in detail.split("; "))
        out.append((name, detail, "INDEX" in detail and not table_scan))
    db.close()
    return out


def _funnel_main(queue: Any, url: str, state: str, campaigns: list[tuple[str, str]],
                 since: str, by: str) -> None:
    from connector.commands.funnel import run_funnel
    from connector.config.settings import settings_from_dict

    settings = settings_from_dict({
        "method": "unique", "salesforce": {"instance_url": url, "access_token": TOKEN},
        "hubspot": {"base_url": url, "access_token": TOKEN}, "state": {"path": state},
        "campaigns": [{"form_id": f, "campaign_id": c} for f, c in campaigns]}, env={})
    cpu0, rss0 = _usage()
    started = time.monotonic()
    funnel, calls = run_funnel(settings, since=since, by=by)
    wall = time.monotonic() - started
    cpu1, rss1 = _usage()
    data = funnel.to_json()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss1, "rss_start": rss0,
               "sf_calls": calls, "groups": len(data["rows"]),
               "responses": sum(r["responses"] for r in data["rows"]),
               "converted": sum(r["converted"] for r in data["rows"]),
               "won": sum(r["won"] for r in data["rows"])})


def run(rows: int, window: int, by: str) -> None:
    from connector.sandbox import Sandbox

    now = datetime.now(timezone.utc)
    since_day = (now - timedelta(days=1)).date()
    since = since_day.isoformat()
    since_ms = int(datetime.combine(since_day, datetime.min.time(), timezone.utc).timestamp()
                   * 1000)
    with tempfile.TemporaryDirectory() as tmp, Sandbox(token=TOKEN) as sandbox:
        state = Path(tmp) / "leadsync.db"
        made = seed(sandbox.app, state, rows, window, since_ms, int(now.timestamp() * 1000) - 1)
        print(f"\n{rows:,} ledger rows, {window:,} inside --since {since} (seeded in "
              f"{made['seconds']:.1f}s: {made['leads']:,} Leads, {made['contacts']:,} Contacts, "
              f"{made['tasks']:,} Tasks, {made['converted']} converted, {made['won']} won), "
              f"state file {state.stat().st_size / 1e6:.0f} MB")
        for name, detail, indexed in query_plans(state):
            print(f"  plan {name}: {'index' if indexed else 'FULL SCAN'} ({detail})")
        sandbox.counters.clear()
        r = _in_child(_funnel_main, sandbox.url, str(state),
                      list(zip(made["forms"], made["campaigns"])), since, by)
        seen = dict(sandbox.counters)
        print(f"  funnel --by {by}: {r['wall']:.2f} s wall, {r['cpu']:.2f} s CPU, peak RSS "
              f"{r['rss']:.0f} MB (at start {r['rss_start']:.0f} MB), Salesforce calls "
              f"{r['sf_calls']} (sandbox saw {seen.get('salesforce', 0)})")
        print(f"  counted {r['responses']:,} responses in {r['groups']} groups, "
              f"{r['converted']} converted, {r['won']} won")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--by", default="campaign", choices=("campaign", "form", "owner", "method"))
    args = parser.parse_args(argv)
    print("leadsync funnel benchmark: the ledger written straight to sqlite, the window's "
          "records in an in-process sandbox, the funnel in its own spawned process.")
    for window in args.window:
        run(args.rows, window, args.by)


if __name__ == "__main__":
    main()
