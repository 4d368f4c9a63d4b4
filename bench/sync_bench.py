"""leadsync against the per-record (Zapier-style) way, on the same world, in one command.

    python bench/sync_bench.py --responses 1000 10000 --latency-ms 0 50

Three kinds of process, so each figure measures one thing:

* the sandbox (both vendors' APIs, ``connector.sandbox.Sandbox``) runs in a child process
  that builds the world once through its Python helpers, keeps a dump of it, and before
  each contender reloads that dump (a fresh copy of the same world), clears its counters,
  sets the added latency (``app.faults.configure(latency_ms=...)``) and raises HubSpot's
  rate limit (``app.hubspot.set_rate_limit``) so that limit is not what gets measured;
* each contender runs in its own fresh (spawned) process, so its peak memory
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the resident high-water mark of that
  process, Python interpreter and libraries included) and its CPU time are its own, not
  the sandbox's or the other contender's;
* this process only orchestrates and prints.

Call counts come from the sandbox's counters (what the vendor saw) and, for leadsync, also
from the engine's RunReport; the two must agree. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
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


# -- the sandbox process ---------------------------------------------------------------------

def _sandbox_main(conn: Any, responses: int, forms: int, seed: int) -> None:
    import world
    from connector.sandbox import Sandbox

    sandbox = Sandbox(token=TOKEN)
    started = time.monotonic()
    info = world.build(sandbox.app, responses, forms=forms, seed=seed)
    dataset = sandbox.app.dump()
    sandbox.start()
    conn.send((sandbox.url, world.as_dict(info), time.monotonic() - started))
    while True:
        command, arg = conn.recv()
        if command == "fresh":
            sandbox.app.load(dataset)
            sandbox.app.hubspot.set_rate_limit(**RATE_LIMIT)
            sandbox.app.faults.reset()
            sandbox.app.faults.configure(latency_ms=arg)
            sandbox.counters.clear()
            conn.send(True)
        elif command == "counters":
            conn.send(dict(sandbox.counters))
        elif command == "stop":
            sandbox.stop()
            conn.send(True)
            return


class SandboxProcess:
    def __init__(self, responses: int, forms: int, seed: int) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sandbox_main, args=(child, responses, forms, seed), daemon=True)
        self.proc.start()
        self.url, self.world, self.build_seconds = self.conn.recv()

    def ask(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.proc.join(timeout=10)


# -- the contenders' processes ---------------------------------------------------------------

def _settings(url: str, world: dict[str, Any], method: str, state_dir: str, batch: int | None) -> Any:
    from connector.config.settings import settings_from_dict

    data: dict[str, Any] = {
        "method": method,
        "salesforce": {"instance_url": url, "access_token": TOKEN},
        "hubspot": {"base_url": url, "access_token": TOKEN},
        "state": {"path": str(Path(state_dir) / "leadsync.db")},
        "campaigns": [{"form_id": f, "campaign_id": c} for f, c in zip(world["forms"], world["campaigns"])],
    }
    if batch:
        data["sync"] = {"batch_size": batch}
    return settings_from_dict(data, env={})


def _usage() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024  # Linux reports KiB


def _leadsync_main(queue: Any, url: str, world: dict[str, Any], method: str, batch: int | None
                   ) -> None:
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    with tempfile.TemporaryDirectory() as state_dir:
        settings = _settings(url, world, method, state_dir, batch)
        cpu0, rss0 = _usage()
        started = time.monotonic()
        with Session(settings) as engine:
            # as `leadsync sync` runs on a schedule: counts, no line per response
            report = engine.run(RunOptions(keep_details=False))
        wall = time.monotonic() - started
        cpu1, rss1 = _usage()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss1, "rss_start": rss0,
               "status": report.status, "error": report.error, "counts": {str(k): n for k, n in report.counts.items()},
               "sf_calls": report.sf_calls, "hs_calls": report.hs_calls,
               "processed": report.counts.get("pulled", 0), "batch": settings.sync.batch_size})


def _baseline_main(queue: Any, url: str, world: dict[str, Any], method: str, sample: int) -> None:
    import baseline

    with tempfile.TemporaryDirectory() as state_dir:
        settings = _settings(url, world, method, state_dir, None)
        cpu0, rss0 = _usage()
        result = baseline.run(settings, sample)
        cpu1, rss1 = _usage()
    queue.put({"pull_seconds": result.pull_seconds, "process_seconds": result.process_seconds,
               "cpu": cpu1 - cpu0, "rss": rss1, "rss_start": rss0, "pulled": result.pulled,
               "processed": result.processed, "sf_calls": result.sf_calls, "errors": result.errors})


def _in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


# -- one comparison --------------------------------------------------------------------------

def compare(sandbox: SandboxProcess, latency: float, method: str, sample: int, batch: int | None,
            repeat: int = 1) -> list[dict[str, Any]]:
    n = sandbox.world["responses"]
    rows = []
    runs = []
    for _ in range(repeat):
        name = "leadsync"
        sandbox.ask("fresh", latency)
        a = _in_child(_leadsync_main, sandbox.url, sandbox.world, method, batch)
        counters = sandbox.ask("counters")
        if a["status"] not in ("ok", "partial"):
            print(f"  {name} run ended {a['status']}: {a['error']}", file=sys.stderr)
        sf, hs = counters.get("salesforce", 0), counters.get("hubspot", 0)
        if (sf, hs) != (a["sf_calls"], a["hs_calls"]):
            print(f"  note: engine counted {a['sf_calls']} SF / {a['hs_calls']} HS calls, "
                  f"sandbox {sf} / {hs}", file=sys.stderr)
        families = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(counters.items())
                             if k.startswith("salesforce."))
        runs.append({"name": name, "responses": n, "wall": a["wall"], "sf": sf / n, "hs": hs / n,
                     "cpu_ms": 1000 * a["cpu"] / n, "rss": a["rss"], "rss_start": a["rss_start"],
                     "sf_total": sf, "hs_total": hs, "families": families,
                     "note": f"batch {a['batch']}; {dict(sorted(a['counts'].items()))}"})
    # On a shared machine wall and CPU times move from run to run: with --repeat the table
    # shows the median run (by CPU) and the note the spread, rather than one lucky draw.
    runs.sort(key=lambda r: r["cpu_ms"])
    middle = dict(runs[(len(runs) - 1) // 2])
    if len(runs) > 1:
        walls = sorted(r["wall"] for r in runs)
        middle["note"] += (f"; {len(runs)} runs: CPU ms/resp {runs[0]['cpu_ms']:.3f} to "
                           f"{runs[-1]['cpu_ms']:.3f}, wall {walls[0]:.2f} to {walls[-1]:.2f} s, "
                           f"peak RSS up to {max(r['rss'] for r in runs):.0f} MB")
    rows.append(middle)

    sandbox.ask("fresh", latency)
    size = min(sample, n)
    b = _in_child(_baseline_main, sandbox.url, sandbox.world, method, size)
    counters = sandbox.ask("counters")
    k = b["processed"]
    per_response = b["process_seconds"] / k
    wall = b["pull_seconds"] + per_response * n      # the whole backlog at the sample's pace
    rows.append({"name": "per-record baseline", "responses": n, "wall": wall,
                 "sf": counters.get("salesforce", 0) / k, "hs": counters.get("hubspot", 0) / n,
                 "cpu_ms": 1000 * b["cpu"] / n if k == n else None, "rss": b["rss"],
                 "rss_start": b["rss_start"], "sf_total": counters.get("salesforce", 0),
                 "hs_total": counters.get("hubspot", 0), "families": "",
                 "note": (f"pushed a sample of {k} of {n} (the oldest); wall = pull "
                          f"{b['pull_seconds']:.1f}s + {per_response * 1000:.1f} ms x {n} responses"
                          if k < n else f"pushed all {n}") + f"; {b['errors']} failed"})
    return rows


def print_table(rows: list[dict[str, Any]], latency: float) -> None:
    n = rows[0]["responses"]
    print(f"\n{n:,} responses, {latency:g} ms added latency per call")
    head = (f"  {'contender':<26}{'wall s':>9}{'resp/s':>10}{'SF calls/resp':>15}"
            f"{'HS calls/resp':>15}{'CPU ms/resp':>13}{'peak RSS MB':>13}")
    print(head)
    for r in rows:
        cpu = f"{r['cpu_ms']:.3f}" if r["cpu_ms"] is not None else "n/a"
        est = "~" if r["name"].startswith("per-record") and "sample" in r["note"] else ""
        print(f"  {r['name']:<26}{est + format(r['wall'], '.2f'):>9}{n / r['wall']:>10,.0f}"
              f"{r['sf']:>15.4f}{r['hs']:>15.4f}{cpu:>13}{r['rss']:>13.0f}")
    base = rows[-1]
    for r in rows[:-1]:
        print(f"  {r['name']} / baseline: wall x{r['wall'] / base['wall']:.4f}, throughput "
              f"x{base['wall'] / r['wall']:.1f}, SF calls/resp x{r['sf'] / base['sf']:.4f} "
              f"(1/{base['sf'] / r['sf']:.0f}), HS calls/resp x{r['hs'] / base['hs']:.2f}, "
              f"peak RSS x{r['rss'] / base['rss']:.2f}")
    for r in rows:
        extra = f"; Salesforce calls by family: {r['families']}" if r["families"] else ""
        print(f"  - {r['name']}: {r['sf_total']} SF, {r['hs_total']} HS calls; "
              f"RSS at start {r['rss_start']:.0f} MB; {r['note']}{extra}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0, 50])
    parser.add_argument("--forms", type=int, default=5)
    parser.add_argument("--method", default="unique", choices=["poi", "hybrid", "unique"])
    parser.add_argument("--batch-size", type=int, default=None,
                        help="[sync] batch_size for leadsync (default: the config default)")
    parser.add_argument("--baseline-sample", type=int, default=None,
                        help="responses the baseline pushes (default: 1000 at 0 ms, 200 with latency)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1,
                        help="leadsync runs per row, each on a fresh copy; the table shows the "
                             "median run by CPU and the notes the spread (default: 1)")
    args = parser.parse_args(argv)

    print("leadsync sync benchmark: the sandbox runs in its own process; each contender runs in "
          "a fresh process against a fresh copy of the same world.")
    print(f"HubSpot's sandbox rate limit is raised to {RATE_LIMIT['per_10s']:,}/10 s and "
          f"{RATE_LIMIT['per_second']:,}/s for the benchmark, so its 190/10 s is not what is measured.")
    print("Peak RSS: resource.getrusage(RUSAGE_SELF).ru_maxrss of the contender's own process "
          "(interpreter and libraries included; the sandbox's memory is not in it).")
    for n in args.responses:
        started = time.monotonic()
        sandbox = SandboxProcess(n, args.forms, args.seed)
        w = sandbox.world
        print(f"\nworld: {n:,} submissions over {args.forms} forms, built in "
              f"{time.monotonic() - started:.1f}s; mix {w['kinds']}; {w['leads']:,} Leads, "
              f"{w['contacts']:,} Contacts, {w['members']:,} members with status Sent; method {args.method}")
        try:
            for latency in args.latency_ms:
                sample = args.baseline_sample or (1000 if latency == 0 else 200)
                rows = compare(sandbox, latency, args.method, sample, args.batch_size,
                               max(1, args.repeat))
                print_table(rows, latency)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
