"""What ``[scoring]`` costs: the sync's CPU per response with and without it, side by side,
and the daily rescore of 100,000 people with 5% changed.

    python bench/scoring.py --responses 10000 --repeat 3 --people 100000 --changed 0.05

1. **Sync, with and without [scoring]** (target: at most +10% CPU per response). The sync
   benchmark's world (``bench/world.py``: 40% new people, 25% open Leads, 15% Contacts, 5%
   both, 15% repeat fills over 5 forms), with ``variety``: titles from a long tail and the
   page of each fill with its tracking parameters (what the answer, page and title rules
   read; one title and no page would flatter every cache), and the score fields added to
   Lead and Contact; the
   sandbox runs in its own process (``sync_bench.SandboxProcess`` idea), each run in a fresh
   spawned process against a fresh copy of the same world, so its CPU time (user + system of
   that process) is its own. The scoring config has a behaviour rule per form (one capped
   group), an answer rule, a page rule, three fit rules, a half-life, and writes score, date
   and reasons. Each side runs ``--repeat`` times, interleaved, at ``--responses`` and at
   ``--small`` responses; a configuration's CPU per response is the difference of its
   medians over the difference in responses (its start-up taken out, as
   ``scoring_instructions.py`` does), with the sandbox and the measured sync each kept on a
   core of its own. ``--setup configured`` adds owners, stages and Tasks (the README's
   routing example), which scoring's hand-off is made for.
2. **Daily rescore** of ``--people`` people, one to five applied responses each over the last
   120 days, 5% of whom have a stored score that differs from today's (the rest match, as
   they would after yesterday's rescore). The state is built directly (the ledger and
   yesterday's rescore in ``score_people``); the changed people's Leads exist in the
   sandbox. Printed: people, changed, Salesforce calls (the sandbox's counters: only the changed records, 1,000 a
   call), wall time, CPU and the peak RSS of the rescoring process.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

TOKEN = "00Dbench!TOKEN"
RATE_LIMIT = {"per_10s": 10_000_000, "per_second": 1_000_000, "daily": 100_000_000}
SCORE, DATE, REASONS = "Leadsync_Score__c", "Leadsync_Score_Date__c", "Leadsync_Score_Reasons__c"
FIELDS = {SCORE: {"type": "double"}, DATE: {"type": "date"},
          REASONS: {"type": "string", "length": 255}}
READY_ON = "Sales_Ready_On__c"        # the configured setup's stage date (Lead)
# the configured setup's owners: user:<Username> (routing rules, the Task owner) and a queue
USERS = ("max", "jane", "sdr")
DAY = 86_400_000


# -- the sandbox process ---------------------------------------------------------------------

def _sandbox_main(conn: Any, responses: int, seed: int) -> None:
    import world
    from connector.sandbox import Sandbox

    _pin(0)
    sandbox = Sandbox(token=TOKEN)
    info = (world.build(sandbox.app, responses, forms=5, seed=seed, variety=True)
            if responses else None)
    store = sandbox.app.salesforce.store
    for user in USERS:                       # the configured setup's owners
        store.add_user(user.title(), username=f"{user}@acme.example")
    store.add_queue("Inbound Leads", developer_name="Inbound_Leads")
    dataset = sandbox.app.dump()
    schema = dataset["salesforce"].setdefault("schema", {})
    for sobject in ("Lead", "Contact"):
        schema[sobject] = {**(schema.get(sobject) or {}), **FIELDS}
    schema["Lead"][READY_ON] = {"type": "date"}
    sandbox.app.load(dataset)
    dataset = sandbox.app.dump()
    sandbox.start()
    conn.send((sandbox.url, world.as_dict(info) if info else {}))
    while True:
        command, arg = conn.recv()
        if command == "fresh":
            sandbox.app.load(dataset)
            sandbox.app.hubspot.set_rate_limit(**RATE_LIMIT)
            sandbox.app.faults.reset()
            sandbox.counters.clear()
            conn.send(True)
        elif command == "leads":              # arg: emails; the new Leads' ids
            conn.send([sandbox.app.salesforce.insert("Lead", {"LastName": "Known",
                                                             "Company": "Prospect Ltd",
                                                             "Email": e}) for e in arg])
        elif command == "counters":
            conn.send(dict(sandbox.counters))
        elif command == "stop":
            sandbox.stop()
            conn.send(True)
            return


class SandboxProcess:
    def __init__(self, responses: int, seed: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sandbox_main, args=(child, responses, seed), daemon=True)
        self.proc.start()
        self.url, self.world = self.conn.recv()

    def ask(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(timeout=10)


# -- configuration -----------------------------------------------------------------------------

def scoring_section(forms: list[str]) -> dict[str, Any]:
    return {
        "sales_ready": 1000, "half_life": "30d", "lead_field": SCORE, "contact_field": SCORE,
        "date_field": DATE, "reasons_field": REASONS, "caps": {"content": 40},
        "behaviour": [*({"name": f"form {i}", "points": 10 + 5 * i, "form": f, "group": "content"}
                        for i, f in enumerate(forms)),
                      {"name": "manager", "points": 5, "field": "jobtitle", "pattern": "(?i)manager"},
                      {"name": "pricing page", "points": 15, "page": "/pricing"}],
        "fit": [{"name": "senior", "points": 15, "field": "jobtitle", "pattern": "(?i)\\b(vp|director)\\b"},
                {"name": "free mail", "points": -20, "field": "email_kind", "value": "free"},
                {"name": "UK", "points": 5, "field": "email_domain", "pattern": "\\.uk$"}],
    }


def routing_section(forms: list[str]) -> dict[str, Any]:
    """The configured setup: a sync as the README's "Routing and hand-off" sets one up (owners
    by rule, else a queue; Lead Status by stage with its date; the rep's Task), which scoring's
    hand-off is made for. The last form is the demo request: sales-ready."""
    return {
        "mode": "rules", "default_owner": "queue:Inbound_Leads", "timezone": "Europe/Berlin",
        "rules": [{"owner": "user:max@acme.example", "domain": ["initech.co.uk"]},
                  {"owner": "user:jane@acme.example", "form": [forms[0]]},
                  {"owner": "user:max@acme.example", "company": ["globex"]}],
        "stages": {"nurture": "Open - Not Contacted", "sales_ready": "Working - Contacted",
                   "date_field": READY_ON, "sales_ready_forms": [forms[-1]]},
        "tasks": {"sla": "4h", "subject": "Follow up: {form} from {email}", "priority": "High",
                  "owner": "user:sdr@acme.example"},
    }


def settings_for(url: str, world: dict[str, Any], state_dir: str, scoring: bool | str,
                 setup: str = "bare") -> Any:
    """``scoring``: False (none), True (computed and written to the score fields),
    "compute" (computed, hand-off decided, nothing written to Salesforce), "score_only" (only
    the score field written, no date or reasons field) or "no_reasons" (score and date).
    ``setup``: "bare" (the mapping and campaigns only) or "configured" (with
    :func:`routing_section`: owners, stages, Tasks)."""
    from connector.config.settings import settings_from_dict

    data: dict[str, Any] = {
        "method": "unique",
        "salesforce": {"instance_url": url, "access_token": TOKEN},
        "hubspot": {"base_url": url, "access_token": TOKEN},
        "state": {"path": str(Path(state_dir) / "leadsync.db")},
        "campaigns": [{"form_id": f, "campaign_id": c}
                      for f, c in zip(world.get("forms", []), world.get("campaigns", []))],
    }
    if setup == "configured":
        data["routing"] = routing_section(world.get("forms") or ["f"])
    if scoring:
        data["scoring"] = scoring_section(world.get("forms") or ["f"])
        dropped = {"compute": ("lead_field", "contact_field", "date_field", "reasons_field"),
                   "score_only": ("date_field", "reasons_field"),
                   "no_reasons": ("reasons_field",)}.get(scoring if isinstance(scoring, str) else "", ())
        for key in dropped:
            data["scoring"].pop(key)
    return settings_from_dict(data, env={})


def _usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024   # Linux: KiB


def _in_child(target: Any, *args: Any) -> Any:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue, *args))
    proc.start()
    while True:                       # a child that died says so instead of hanging the bench
        try:
            result = queue.get(timeout=5)
            break
        except Exception:
            if not proc.is_alive():
                raise SystemExit(f"the measured process died (exit {proc.exitcode})")
    proc.join()
    return result


# -- 1. the sync, with and without [scoring] ---------------------------------------------------

def _pin(cpu: int) -> None:
    """Keep this process on one core (the sandbox on the other): on a 2-core machine the two
    otherwise trade places and caches mid-run, which moves CPU seconds more than the target."""
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[cpu]})


def _sync_main(queue: Any, url: str, world: dict[str, Any], scoring: bool | str,
               setup: str = "bare") -> None:
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    _pin(1)
    with tempfile.TemporaryDirectory() as state_dir:
        settings = settings_for(url, world, state_dir, scoring, setup)
        cpu0, _ = _usage()
        started = time.monotonic()
        with Session(settings) as engine:
            report = engine.run(RunOptions(keep_details=False))
        wall = time.monotonic() - started
        cpu1, rss = _usage()
    queue.put({"cpu": cpu1 - cpu0, "wall": wall, "rss": rss, "status": report.status,
               "error": report.error, "sf_calls": report.sf_calls,
               "pulled": report.counts.get("pulled", 0),
               "updated": report.counts.get("updated_records", 0)})


NAMES = {False: "without", "compute": "scored, not written", True: "scored and written"}


def _runs(n: int, repeat: int, seed: int, setup: str) -> dict[Any, list[dict[str, Any]]]:
    """``repeat`` interleaved runs of each configuration over a world of ``n`` responses."""
    sandbox = SandboxProcess(n, seed)
    try:
        runs: dict[Any, list[dict[str, Any]]] = {key: [] for key in NAMES}
        for _ in range(repeat):
            for scoring in runs:                 # interleaved: a slow moment hits every side
                sandbox.ask("fresh")
                result = _in_child(_sync_main, sandbox.url, sandbox.world, scoring, setup)
                if result["status"] != "ok":
                    print(f"  run ended {result['status']}: {result['error']}", file=sys.stderr)
                runs[scoring].append(result)
    finally:
        sandbox.stop()
    return runs


def sync_comparison(n: int, repeat: int, seed: int, *, small: int = 0, setup: str = "bare") -> None:
    """CPU per response of each configuration; with ``small`` the runs at ``small`` responses
    are taken off (the difference over the difference in responses), so the start-up
    (imports, the configuration, the rules compiled, the free-mail list) is not in it."""
    small = small if 0 < small < n else 0      # no smaller size to take off: start-up stays in
    sizes = [small, n] if small else [n]
    by_size = {size: _runs(size, repeat, seed, setup) for size in sizes}
    runs = by_size[n]
    print(f"\n1. sync of {n:,} responses, with and without [scoring] ({repeat} runs each, "
          f"interleaved; medians; {setup} setup"
          + (f"; less the same runs at {small:,} responses" if small else "") + ")")
    print(f"  {'':<20}{'CPU ms/resp':>12}{'wall s':>9}{'SF calls':>10}{'updated':>9}{'peak RSS MB':>13}"
          "  CPU ms/resp of each run")
    med = {}
    for scoring, rs in runs.items():
        cpu = statistics.median(r["cpu"] for r in rs)
        if small:
            cpu -= statistics.median(r["cpu"] for r in by_size[small][scoring])
        med[scoring] = 1000 * cpu / (n - small)
        print(f"  {NAMES[scoring]:<20}{med[scoring]:>12.4f}"
              f"{statistics.median(r['wall'] for r in rs):>9.2f}"
              f"{statistics.median(r['sf_calls'] for r in rs):>10.0f}"
              f"{statistics.median(r['updated'] for r in rs):>9.0f}"
              f"{max(r['rss'] for r in rs):>13.0f}  "
              + ", ".join(f"{1000 * r['cpu'] / n:.3f}" for r in rs))
    for key in ("compute", True):
        print(f"  {NAMES[key]} / without: CPU per response x{med[key] / med[False]:.3f} "
              f"({100 * (med[key] / med[False] - 1):+.1f}%; target at most +10%)")
    print("  (scored and written also sends the score, its date and reasons on every scored "
          "record: an update for each attach that had nothing to write before; 'updated': the "
          "existing records the run updated)")


# -- 2. the daily rescore ---------------------------------------------------------------------

def build_state(path: Path, people: int, pick: set[int], lead_ids: dict[str, str],
                now_ms: int, seed: int) -> tuple[int, list[str]]:
    """The ledger (the history: applied rows with the ledger's email index, as a scored state
    has) and yesterday's rescore in ``score_people`` of ``people`` people; returns (events,
    changed emails)."""
    from connector.adapters.sqlite.ledger import State
    from connector.adapters.sqlite.scoring import ScoreStore
    from connector.config.scoring import parse_scoring
    from connector.core.enrich.rescore import Person, rescore
    from connector.core.enrich.scoring import Event

    rng = random.Random(seed)
    forms = [f"form-{i}" for i in range(5)]
    scoring = parse_scoring(scoring_section(forms))
    assert scoring is not None
    state = State.open(path)
    ScoreStore(state).ensure_index()
    ledger, events_by = [], {}
    emails = [f"person{i}@company{i % 997}.example" for i in range(people)]
    for i, email in enumerate(emails):
        evs = []
        for k in range(rng.randint(1, 5)):
            at = now_ms - rng.randint(1, 120) * DAY - rng.randint(0, DAY)
            cid = f"c{i}-{k}"
            form = rng.choice(forms)
            evs.append(Event(cid, at, form))
            ledger.append((cid, form, at, email, "camp", "attach_lead", "applied",
                           lead_ids.get(email) or f"00Q{i:015d}"))
        events_by[email] = evs
    with state.transaction():
        state.db.conn.executemany(
            "INSERT INTO ledger (conversion_id, form_id, submitted_at, email, campaign_id, action, "
            "status, lead_id) VALUES (?,?,?,?,?,?,?,?)", ledger)
    people_rows = [Person(e, "Lead", lead_ids.get(e) or f"00Q{i:015d}") for i, e in enumerate(emails)]
    today = rescore(scoring, people_rows, events_by, now_ms)
    chosen = [emails[i] for i in sorted(pick)]
    rows = []
    for i, item in enumerate(today):
        value = item.score.value + (3 if i in pick else 0)    # yesterday's number differs
        rows.append((item.person.email, "Lead", item.person.record_id, value, now_ms - DAY, 0))
    with state.transaction():
        state.db.conn.executemany(
            "INSERT INTO score_people (email, sobject, record_id, score, as_of, ready) "
            "VALUES (?,?,?,?,?,?)", rows)
    state.close()
    return len(ledger), chosen


def _build_main(queue: Any, path: str, people: int, pick: list[int], lead_ids: dict[str, str],
                now_ms: int, seed: int) -> None:
    """In its own process, so the measured process's peak memory is not this one's."""
    queue.put(build_state(Path(path), people, set(pick), lead_ids, now_ms, seed))


def _rescore_main(queue: Any, url: str, state_dir: str, now_ms: int) -> None:
    from connector.commands.score import score_command

    world = {"forms": [f"form-{i}" for i in range(5)],
             "campaigns": [f"701{i:012d}AAA" for i in range(5)]}
    settings = settings_for(url, world, state_dir, True)
    cpu0, rss0 = _usage()
    started = time.monotonic()
    report = score_command(settings, now_ms=now_ms)
    wall = time.monotonic() - started
    cpu1, rss = _usage()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss, "rss_start": rss0,
               "counts": report.counts, "written": report.written, "failed": report.failed,
               "sf_calls": report.sf_calls, "rows": len(report.rows)})


def rescore_run(people: int, changed: float, seed: int) -> None:
    now_ms = int(time.time() * 1000)
    sandbox = SandboxProcess(0, seed)
    try:
        rng = random.Random(seed)
        sample = sorted(rng.sample(range(people), int(people * changed)))
        with tempfile.TemporaryDirectory() as state_dir:
            # the changed people's Leads exist in the org (the only records a rescore touches)
            emails = [f"person{i}@company{i % 997}.example" for i in range(people)]
            sandbox.ask("fresh")
            started = time.monotonic()
            ids = sandbox.ask("leads", [emails[i] for i in sample])
            lead_ids = {emails[i]: lead for i, lead in zip(sample, ids)}
            n_events, chosen = _in_child(_build_main, str(Path(state_dir) / "leadsync.db"),
                                         people, sample, lead_ids, now_ms, seed)
            assert set(chosen) == set(lead_ids), "the state's changed people have Leads"
            built = time.monotonic() - started
            before = sandbox.ask("counters")
            r = _in_child(_rescore_main, sandbox.url, state_dir, now_ms)
            after = sandbox.ask("counters")
    finally:
        sandbox.stop()
    sf = after.get("salesforce", 0) - before.get("salesforce", 0)
    families = {k.split(".", 1)[1]: after[k] - before.get(k, 0) for k in after
                if k.startswith("salesforce.") and after[k] - before.get(k, 0)}
    print(f"\n2. daily rescore: {people:,} people ({n_events:,} responses in the ledger), "
          f"{changed:.0%} changed (state built in {built:.1f}s)")
    print(f"  counts {r['counts']}; written {r['written']:,} records, {r['failed']} failed; "
          f"ScoreRows for write-back {r['rows']:,}")
    print(f"  Salesforce calls: {sf} (sandbox counters; engine counted {r['sf_calls']}); "
          f"by family {json.dumps(families)}; {r['written'] / max(sf, 1):,.0f} records a call")
    print(f"  wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s ({1e6 * r['cpu'] / people:.1f} µs a person), "
          f"peak RSS {r['rss']:.0f} MB (at start {r['rss_start']:.0f} MB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--only", choices=["sync", "rescore"], default=None)
    parser.add_argument("--small", type=int, default=2_000,
                        help="also run at this many responses and take those runs off, so the "
                             "start-up is not in the figure (0: one size, start-up included)")
    parser.add_argument("--setup", choices=["bare", "configured"], default="bare",
                        help="bare: the mapping and campaigns; configured: with owners, stages "
                             "and Tasks as the README's routing example")
    args = parser.parse_args(argv)
    print("leadsync [scoring] benchmark: the sandbox runs in its own process; each measured run "
          "in a fresh process (CPU = user + system of that process; peak RSS = its ru_maxrss).")
    if args.only in (None, "sync"):
        sync_comparison(args.responses, args.repeat, args.seed, small=args.small,
                        setup=args.setup)
    if args.only in (None, "rescore"):
        rescore_run(args.people, args.changed, args.seed)


if __name__ == "__main__":
    main()
