"""``leadsync whatif`` over a large window: Salesforce calls against one dry run's, wall time
and peak memory.

    python bench/whatif_bench.py --responses 10000 100000

The world and the processes are ``sync_bench``'s: the sandbox builds the world once in its own
process (``bench/world.py``) and reloads a fresh copy before each contender; each contender
runs in its own spawned process, so its peak RSS (``ru_maxrss``, interpreter included) is its
own. The contenders:

* ``whatif``: ``run_whatif`` over every submission of the window under the three methods
  (with ``--html``, also reading the names and writing the page, as ``--html FILE`` does);
* ``dry run``: one ``--dry-run`` of the same window under one method, the figure a what-if's
  Salesforce calls are held to (target: equal; three methods cost no more than one).

Calls are the sandbox's counters (what the vendor saw) and the command's own count; they must
agree. Figures are printed, never asserted: on a shared machine wall time moves between runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sync_bench  # noqa: E402  (the sandbox process, settings and measuring helpers)
from sync_bench import SandboxProcess, _in_child, _settings, _usage  # noqa: E402

METHODS = ("poi", "hybrid", "unique")
MEMORY_TARGET_MB = 300


def _whatif_main(queue: Any, url: str, world: dict[str, Any], methods: list[str], html: bool,
                 batch: int | None) -> None:
    from connector.commands.whatif import run_whatif
    from connector.core.model import Method

    with tempfile.TemporaryDirectory() as state_dir:
        settings = _settings(url, world, "unique", state_dir, batch)
        cpu0, rss0 = _usage()
        started = time.monotonic()
        result = run_whatif(settings, since="2000-01-01", methods=[Method(m) for m in methods],
                            names=html)
        size = 0
        if html:
            from connector.render.whatif_html import write_html

            size = write_html(result, Path(state_dir) / "whatif.html").stat().st_size
        wall = time.monotonic() - started
        cpu1, rss1 = _usage()
    data = result.to_json()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss1, "rss_start": rss0,
               "sf_calls": result.salesforce_calls, "hs_calls": result.hubspot_calls,
               "responses": {m: t["responses"] for m, t in data["methods"].items()},
               "new_leads": {m: t["new_leads"] for m, t in data["methods"].items()},
               "html_bytes": size, "batch": settings.sync.batch_size})


def _dry_run_main(queue: Any, url: str, world: dict[str, Any], method: str, batch: int | None
                  ) -> None:
    from connector.engine.report import RunOptions
    from connector.engine.wiring import Session

    with tempfile.TemporaryDirectory() as state_dir:
        settings = _settings(url, world, method, state_dir, batch)
        cpu0, rss0 = _usage()
        started = time.monotonic()
        with Session(settings, dry_run=True) as engine:
            report = engine.run(RunOptions(dry_run=True, keep_details=False))
        wall = time.monotonic() - started
        cpu1, rss1 = _usage()
    queue.put({"wall": wall, "cpu": cpu1 - cpu0, "rss": rss1, "rss_start": rss0,
               "sf_calls": report.sf_calls, "hs_calls": report.hs_calls, "status": report.status,
               "counts": dict(report.counts), "batch": settings.sync.batch_size})


def measure(sandbox: SandboxProcess, methods: list[str], html: bool, batch: int | None
            ) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, target, args in (
            ("whatif", _whatif_main, (methods, html, batch)),
            ("dry run", _dry_run_main, (methods[-1], batch))):
        sandbox.ask("fresh", 0)
        row = _in_child(target, sandbox.url, sandbox.world, *args)
        counters = sandbox.ask("counters")
        row["sf_seen"], row["hs_seen"] = counters.get("salesforce", 0), counters.get("hubspot", 0)
        row["families"] = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in sorted(counters.items())
                                    if k.startswith("salesforce."))
        out[name] = row
    return out


def report(n: int, rows: dict[str, dict[str, Any]], methods: list[str]) -> None:
    w, d = rows["whatif"], rows["dry run"]
    print(f"\n{n:,} responses, whatif over {', '.join(methods)} against one dry run "
          f"({methods[-1]}), batch {w['batch']}")
    print(f"  {'':<10}{'SF calls':>10}{'HS calls':>10}{'wall s':>9}{'CPU s':>8}{'peak RSS MB':>13}")
    for name, r in rows.items():
        print(f"  {name:<10}{r['sf_calls']:>10}{r['hs_calls']:>10}{r['wall']:>9.2f}{r['cpu']:>8.2f}"
              f"{r['rss']:>13.0f}")
    verdict = ("equal" if w["sf_calls"] == d["sf_calls"] else
               "fewer" if w["sf_calls"] < d["sf_calls"] else "MORE")
    print(f"  Salesforce calls: whatif {w['sf_calls']} vs dry run {d['sf_calls']}: {verdict} "
          f"(target: equal or fewer)")
    print(f"  peak RSS: whatif {w['rss']:.0f} MB (target under {MEMORY_TARGET_MB} MB): "
          f"{'met' if w['rss'] < MEMORY_TARGET_MB else 'MISSED'}")
    for name, r in rows.items():
        if (r["sf_seen"], r["hs_seen"]) != (r["sf_calls"], r["hs_calls"]):
            print(f"  note: {name} counted {r['sf_calls']} SF / {r['hs_calls']} HS calls, the "
                  f"sandbox saw {r['sf_seen']} / {r['hs_seen']}")
        print(f"  - {name}: RSS at start {r['rss_start']:.0f} MB; Salesforce calls by family: "
              f"{r['families'] or 'none'}")
    print(f"  whatif responses per method {w['responses']}, new Leads {w['new_leads']}"
          + (f", HTML {w['html_bytes']:,} bytes" if w["html_bytes"] else ""))
    print(f"  dry run: {d['status']}, {dict(sorted(d['counts'].items()))}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--forms", type=int, default=5)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--html", action="store_true", help="also read names and write the page")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    print("leadsync whatif benchmark: the sandbox in its own process (rate limits raised: "
          f"{sync_bench.RATE_LIMIT['per_10s']:,}/10 s), each contender in a fresh process "
          "against a fresh copy of the same world; no added latency.")
    for n in args.responses:
        started = time.monotonic()
        sandbox = SandboxProcess(n, args.forms, args.seed)
        print(f"\nworld: {n:,} submissions over {args.forms} forms, built in "
              f"{time.monotonic() - started:.1f}s; mix {sandbox.world['kinds']}")
        try:
            report(n, measure(sandbox, methods, args.html, args.batch_size), methods)
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
