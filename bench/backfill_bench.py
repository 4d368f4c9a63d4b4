"""A first sync of a large history three ways, on the same world: ``sync`` (collections,
batches of 2,000), ``backfill`` at its default Bulk threshold, and ``backfill`` with every
write through Bulk API 2.0.

    python bench/backfill_bench.py --responses 10000 100000 --latency-ms 0 50

Same process layout as ``sync_bench.py`` (whose helpers it uses): the sandbox in its own
process, reloaded from one dump before each contender, each contender in a fresh process.
Call counts are the sandbox's counters. The sandbox finishes a Bulk job in two polls; a
real org takes longer and every poll is a call, so real Bulk figures carry a few more.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sync_bench  # noqa: E402  (after the path set-up, as the benches import each other)
from sync_bench import SandboxProcess, _in_child, _settings, _usage  # noqa: E402

EXT = "Leadsync_Response_Id__c"
SINCE = "2000-01-01"


def _contender_main(queue: Any, url: str, world: dict[str, Any], method: str, mode: str,
                    threshold: int, batch: int) -> None:
    from connector.commands.backfill import run_backfill
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    with tempfile.TemporaryDirectory() as state_dir:
        settings = _settings(url, world, method, state_dir, None)
        settings = replace(settings, salesforce=replace(settings.salesforce,
                                                        lead_external_id_field=EXT))
        cpu0, _ = _usage()
        started = time.monotonic()
        jobs = 0
        if mode == "sync":
            with Session(replace(settings, sync=replace(settings.sync, batch_size=2000))) as engine:
                report = engine.run(RunOptions(keep_details=False))
        else:
            result = run_backfill(settings, since=SINCE, bulk_threshold=threshold, batch_size=batch)
            report, jobs = result.report, result.writer.stats.jobs if result.writer else 0
        wall = time.monotonic() - started
        cpu1, rss = _usage()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss, "status": report.status,
               "error": report.error, "counts": {str(k): n for k, n in report.counts.items()}, "sf_calls": report.sf_calls,
               "jobs": jobs})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0])
    parser.add_argument("--forms", type=int, default=5)
    parser.add_argument("--method", default="unique", choices=["poi", "hybrid", "unique"])
    parser.add_argument("--threshold", type=int, default=10_000, help="backfill's --bulk-threshold")
    parser.add_argument("--batch-size", type=int, default=20_000, help="backfill's --batch-size")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)

    contenders = [("sync (collections)", "sync", 0),
                  (f"backfill (Bulk > {args.threshold:,})", "backfill", args.threshold),
                  ("backfill (all Bulk)", "backfill", 0)]
    for n in args.responses:
        sandbox = SandboxProcess(n, args.forms, args.seed)
        try:
            for latency in args.latency_ms:
                print(f"\n{n:,} responses, {latency:g} ms added latency, method {args.method}, "
                      f"backfill batches of {args.batch_size:,}")
                print(f"  {'contender':<28}{'wall s':>8}{'SF calls':>10}{'bulk calls':>12}"
                      f"{'jobs':>6}{'CPU ms/resp':>13}{'peak RSS MB':>13}  outcome")
                for name, mode, threshold in contenders:
                    sandbox.ask("fresh", latency)
                    r = _in_child(_contender_main, sandbox.url, sandbox.world, args.method, mode,
                                  threshold, args.batch_size)
                    counters = sandbox.ask("counters")
                    sf = counters.get("salesforce", 0)
                    if sf != r["sf_calls"]:
                        print(f"  note: engine counted {r['sf_calls']} SF calls, sandbox {sf}",
                              file=sys.stderr)
                    counts = {k: v for k, v in sorted(r["counts"].items()) if v}
                    print(f"  {name:<28}{r['wall']:>8.1f}{sf:>10}"
                          f"{counters.get('salesforce.bulk', 0):>12}{r['jobs']:>6}"
                          f"{1000 * r['cpu'] / n:>13.3f}{r['rss']:>13.0f}  {r['status']} {counts}")
        finally:
            sandbox.stop()


if __name__ == "__main__":
    _ = sync_bench
    main()
