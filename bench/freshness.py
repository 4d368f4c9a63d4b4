"""Freshness at 1, 10 and 100 forms under a daily HubSpot budget: every form each cycle vs the probe.

    python bench/freshness.py --budget 2500 25000 --forms 1 10 100 --hours 2 --per-hour 12

For each number of forms and each daily HubSpot call budget, the daemon's cycle interval
follows from the budget (``connector.core.freshness``): paging every form each cycle
("every form", the old way) spends ``forms`` calls a cycle; the probe spends one call a cycle
plus a page per form with news, plus a full sweep of every form every ``full_sweep_every``
(chosen so sweeps take at most half the budget, and never more often than hourly).

Then the daemon's cycle (``commands/freshness.Freshness`` around the engine, exactly as
``leadsync daemon`` runs it) is driven against the sandbox in this process on a simulated
clock: a trickle of submissions (Poisson, ``--per-hour`` across all forms) appears in the
sandbox at simulated times; before each cycle the ones due are added; after the cycle the
ledger says which have their CampaignMember, and the delay is the cycle's simulated end
(its start plus the real seconds the run took) minus the submission's appearance. Calls come
from the run reports (the engine's counts, the probe's included). Figures are printed.

The sandbox's search has no indexing lag (HubSpot's has a few seconds); the probe reaches
back two minutes for it, so the lag would add seconds, not a cycle.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "00Dbench!TOKEN"
DAY = 86_400.0


@dataclass
class Figures:
    mode: str
    forms: int
    budget: int
    interval_s: float
    sweep_every_s: float | None
    cycles: int = 0
    hs_calls: int = 0
    sf_calls: int = 0
    idle_hs: list[int] = field(default_factory=list)
    idle_sf: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    missing: int = 0
    sim_seconds: float = 0.0
    wall: float = 0.0


def plan_interval(mode: str, *, forms: int, budget: int, per_hour: float) -> tuple[float, float | None]:
    """(interval seconds, sweep every seconds) that keep the HubSpot calls inside ``budget``."""
    from connector.core.freshness import shortest_interval, sweep_every_for

    if mode == "every form":
        return DAY * forms / budget, None
    sweep = sweep_every_for(budget, forms=forms)
    interval = 60.0
    for _ in range(20):   # forms with news per cycle depend on the interval: a fixed point
        busy = min(forms, per_hour / 3600 * interval)
        found = shortest_interval(budget, forms=forms, sweep_every_s=sweep,
                                  busy_forms_per_cycle=busy)
        if found is None:
            return math.inf, sweep
        interval = found
    return max(interval, 1.0), sweep


def simulate(mode: str, *, forms: int, budget: int, hours: float, per_hour: float,
             seed: int) -> Figures:
    from connector.adapters.sqlite.ledger import State
    from connector.adapters.transport import RetryPolicy
    from connector.commands.freshness import Freshness
    from connector.config.settings import settings_from_dict
    from connector.engine.report import RunOptions
    from connector.engine.wiring import build_engine, clients
    from connector.sandbox import Sandbox

    interval, sweep = plan_interval(mode, forms=forms, budget=budget, per_hour=per_hour)
    fig = Figures(mode, forms, budget, interval, sweep)
    if math.isinf(interval):
        return fig
    rng = random.Random(seed)
    sim = {"t": time.time()}
    start = sim["t"]
    with Sandbox(token=TOKEN) as sandbox, tempfile.TemporaryDirectory() as tmp:
        app = sandbox.app
        app.hubspot.clock = lambda: sim["t"]
        app.hubspot.set_rate_limit(per_10s=10_000_000, per_second=1_000_000, daily=100_000_000)
        form_ids, campaigns = [], []
        for i in range(forms):
            form_ids.append(app.hubspot.create_form(f"Form {i}"))
            campaigns.append(app.salesforce.insert("Campaign", {"Name": f"C{i}", "IsActive": True}))
            # history, so every form has a watermark before the measured cycles
            app.hubspot.add_submission(form_ids[i], {"email": f"old{i}@acme.example", "lastname": "Old"},
                                       submitted_at=int((start - 3600 - 600 * i) * 1000))
        settings = settings_from_dict({
            "method": "hybrid",
            "salesforce": {"instance_url": sandbox.url, "access_token": TOKEN},
            "hubspot": {"base_url": sandbox.url, "access_token": TOKEN},
            "state": {"path": str(Path(tmp) / "leadsync.db")},
            "campaigns": [{"form_id": f, "campaign_id": c} for f, c in zip(form_ids, campaigns)],
            "sync": {"probe": mode != "every form",
                     "full_sweep_every": f"{int(sweep or 3600)}s"},
        }, env={})
        state = State.open(settings.state_path)
        vendors = clients(settings, retry=RetryPolicy.fast())
        engine = build_engine(settings, state=state, vendors=vendors)
        engine.clock = lambda: sim["t"]
        fresh = Freshness(settings, state=state, hubspot=vendors.hubspot, clock=lambda: sim["t"])

        arrivals: list[float] = []
        t = start
        end = start + hours * 3600
        while True:
            t += rng.expovariate(per_hour / 3600)
            if t >= end:
                break
            arrivals.append(t)
        appeared: dict[str, float] = {}     # conversion id -> when it appeared
        done: set[str] = set()
        wall0 = time.monotonic()
        fresh.cycle(engine, RunOptions(keep_details=False))      # warm-up: the first sweep
        sim["t"] += interval
        nxt = 0
        while sim["t"] < end + interval:
            while nxt < len(arrivals) and arrivals[nxt] <= sim["t"]:
                at = arrivals[nxt]
                cid = app.hubspot.add_submission(
                    form_ids[rng.randrange(forms)],
                    {"email": f"p{nxt}@acme.example", "lastname": f"P{nxt}"},
                    submitted_at=int(at * 1000))
                appeared[cid] = at
                nxt += 1
            before = len(appeared) - len(done)
            ran = time.monotonic()
            result = fresh.cycle(engine, RunOptions(keep_details=False))
            took = time.monotonic() - ran
            report = result.report
            fig.cycles += 1
            fig.hs_calls += report.hs_calls
            fig.sf_calls += report.sf_calls
            if before == 0 and not (result.plan.sweep and mode != "every form"):
                fig.idle_hs.append(report.hs_calls)
                fig.idle_sf.append(report.sf_calls)
            finished = sim["t"] + took
            for row in state.rows("applied"):
                cid = row["conversion_id"]
                if cid in appeared and cid not in done:
                    done.add(cid)
                    fig.delays.append(finished - appeared[cid])
            sim["t"] += interval
        # one more cycle with nothing new, so every row has an idle cycle measured
        idle = fresh.cycle(engine, RunOptions(keep_details=False))
        if not (idle.plan.sweep and mode != "every form"):
            fig.idle_hs.append(idle.report.hs_calls)
            fig.idle_sf.append(idle.report.sf_calls)
        fig.missing = len(appeared) - len(done)
        fig.sim_seconds = sim["t"] - start
        fig.wall = time.monotonic() - wall0
        state.close()
    return fig


TARGETS = {2500: 300.0, 25000: 60.0}   # issue 22: median delay at 100 forms under these budgets


def show(fig: Figures) -> None:
    if math.isinf(fig.interval_s):
        print(f"  {fig.mode:<11}{fig.forms:>6}{fig.budget:>9,}  the sweeps alone spend the budget")
        return
    per_day = DAY / fig.sim_seconds
    med = statistics.median(fig.delays) if fig.delays else float("nan")
    p90 = (statistics.quantiles(fig.delays, n=10)[-1] if len(fig.delays) >= 2 else
           (fig.delays[0] if fig.delays else float("nan")))
    idle_hs = statistics.median(fig.idle_hs) if fig.idle_hs else float("nan")
    idle_sf = statistics.median(fig.idle_sf) if fig.idle_sf else float("nan")
    sweep = f"{fig.sweep_every_s / 3600:.1f}h" if fig.sweep_every_s else "-"
    print(f"  {fig.mode:<11}{fig.forms:>6}{fig.budget:>9,}{fig.interval_s:>10.0f}{sweep:>8}"
          f"{idle_hs:>9.0f}{idle_sf:>9.0f}{fig.hs_calls * per_day:>11,.0f}{fig.sf_calls * per_day:>10,.0f}"
          f"{med:>10.0f}{p90:>9.0f}{len(fig.delays):>6}{fig.missing:>6}{fig.cycles:>7}{fig.wall:>7.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, nargs="+", default=[2500, 25000],
                        help="HubSpot calls a day the daemon may spend (default: 2,500 and 25,000)")
    parser.add_argument("--forms", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours per row")
    parser.add_argument("--per-hour", type=float, default=12.0,
                        help="new submissions an hour, across all forms (the trickle)")
    parser.add_argument("--modes", nargs="+", default=["every form", "probe"],
                        choices=["every form", "probe"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"Freshness: {args.per_hour:g} new submissions an hour over {args.hours:g} simulated "
          "hours; the interval follows from the budget; calls a day extrapolated from the run.")
    print(f"  {'mode':<11}{'forms':>6}{'budget':>9}{'interval':>10}{'sweep':>8}{'idle HS':>9}"
          f"{'idle SF':>9}{'HS/day':>11}{'SF/day':>10}{'median s':>10}{'p90 s':>9}{'subs':>6}"
          f"{'late':>6}{'cycles':>7}{'wall s':>7}")
    checks = []
    for budget in args.budget:
        for forms in args.forms:
            for mode in args.modes:
                fig = simulate(mode, forms=forms, budget=budget, hours=args.hours,
                               per_hour=args.per_hour, seed=args.seed)
                show(fig)
                if mode == "probe" and forms == 100 and budget in TARGETS and fig.delays:
                    med = statistics.median(fig.delays)
                    checks.append(f"target at 100 forms and {budget:,} calls a day: median "
                                  f"{med:.0f} s, under {TARGETS[budget]:.0f} s: "
                                  f"{'met' if med < TARGETS[budget] else 'NOT met'}")
    for line in checks:
        print(line)
    print("idle HS/SF: median calls of a cycle with nothing new (the probe's sweeps excluded); "
          "late: submissions without a member by the end; delay: appearance to CampaignMember.")


if __name__ == "__main__":
    main()
