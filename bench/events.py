"""Marketing event participations against form fills: HubSpot and Salesforce calls per
response and wall time, for the same number of responses from the same people.

    python bench/events.py --responses 10000 --events 20 --method hybrid

Each contender gets a fresh in-process sandbox at HubSpot's default rate limits (the sync's
pacing is part of the figure) and a fresh state. Events: every event has registrations,
and two in three registrants attend (an attendance is a second response, and a status move
on the same membership); forms: the same number of fills over as many forms. Seeding goes
through the sandbox's own HubSpot endpoints (events: ``email-create``, 100 a call) with the
rate limit lifted, then the limit is put back before the sync.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from connector.adapters.transport import RetryPolicy  # noqa: E402
from connector.config.settings import settings_from_dict  # noqa: E402
from connector.engine.wiring import Session  # noqa: E402
from connector.sandbox import Sandbox  # noqa: E402
from connector.sandbox.hubspot_api import DEFAULT_RATE_LIMIT  # noqa: E402

T0 = 1_763_000_000_000
STATUSES = {"registered": "Registered", "attended": "Attended", "no_show": "No Show",
            "cancelled": "Cancelled"}


def _plan(n: int, streams: int, people: int, seed: int) -> list[list[tuple[str, str]]]:
    """Per stream, (state, email) in order: registrations, then two in three attend."""
    rng = random.Random(seed)
    per = n // streams
    registrants = (per * 3 + 4) // 5        # r + 2r/3 = per  ->  r = 3 per / 5
    out = []
    for _ in range(streams):
        who = rng.sample(range(people), registrants)
        steps = [("registered", f"p{i}@example.com") for i in who]
        steps += [("attended", f"p{i}@example.com") for i in who[:per - registrants]]
        out.append(steps)
    return out


def _settings(sb: Sandbox, state: Path, method: str, campaigns: list[dict[str, Any]]) -> Any:
    return settings_from_dict({
        "method": method, "state": {"path": str(state)},
        "salesforce": {"instance_url": sb.url, "access_token": sb.token,
                       "lead_external_id_field": "Leadsync_Response_Id__c"},
        "hubspot": {"base_url": sb.url, "access_token": sb.token},
        "sync": {"start": "2025-01-01", "batch_size": 1000}, "campaigns": campaigns}, env={})


def _campaign(sb: Sandbox, name: str, labels: list[tuple[str, bool]]) -> str:
    sf = sb.app.salesforce
    campaign = sf.insert("Campaign", {"Name": name, "IsActive": True})
    for order, (label, responded) in enumerate(labels, start=3):
        sf.insert("CampaignMemberStatus", {"CampaignId": campaign, "Label": label,
                                           "HasResponded": responded, "SortOrder": order})
    return campaign


def run_events(n: int, streams: int, people: int, method: str, seed: int) -> dict[str, Any]:
    with Sandbox(token="00Dbench!TOKEN") as sb, tempfile.TemporaryDirectory() as tmp:
        hs = sb.app.hubspot
        hs.set_rate_limit(per_10s=10**9, per_second=10**9)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {sb.token}"
        base = f"{sb.url}/marketing/v3/marketing-events"
        campaigns, clock = [], T0
        for e, steps in enumerate(_plan(n, streams, people, seed)):
            event = session.post(f"{base}/events", json={
                "eventName": f"Webinar {e}", "eventOrganizer": "Acme", "externalAccountId": "bench",
                "externalEventId": f"w{e}", "customProperties": []}, timeout=30).json()["objectId"]
            campaign = _campaign(sb, f"Webinar {e}", [("Registered", False), ("Attended", True),
                                                      ("No Show", False), ("Cancelled", False)])
            campaigns.append({"event_id": event, "campaign_id": campaign, "statuses": STATUSES})
            for state in ("registered", "attended"):
                batch = [email for s, email in steps if s == state]
                for i in range(0, len(batch), 100):
                    inputs = []
                    for email in batch[i:i + 100]:
                        clock += 1000
                        inputs.append({"email": email, "interactionDateTime": clock,
                                       "properties": {}, "contactProperties": {
                                           "lastname": email.split("@")[0], "company": "Acme"}})
                    verb = {"registered": "register", "attended": "attend"}[state]
                    session.post(f"{base}/{event}/attendance/{verb}/email-create",
                                 json={"inputs": inputs}, timeout=60).raise_for_status()
        hs.set_rate_limit(per_10s=DEFAULT_RATE_LIMIT["per_10s"],
                          per_second=DEFAULT_RATE_LIMIT["per_second"])
        return _sync(sb, Path(tmp) / "s.db", method, campaigns, n)


def run_forms(n: int, streams: int, people: int, method: str, seed: int) -> dict[str, Any]:
    with Sandbox(token="00Dbench!TOKEN") as sb, tempfile.TemporaryDirectory() as tmp:
        hs = sb.app.hubspot
        campaigns, clock = [], T0
        rng = random.Random(seed)
        for f in range(streams):
            form = hs.create_form(f"Form {f}")
            campaign = sb.app.salesforce.insert("Campaign", {"Name": f"Form {f}", "IsActive": True})
            campaigns.append({"form_id": form, "campaign_id": campaign})
            for _ in range(n // streams):
                clock += 1000
                email = f"p{rng.randrange(people)}@example.com"
                hs.add_submission(form, {"email": email, "lastname": email.split("@")[0],
                                         "company": "Acme"}, submitted_at=clock)
        return _sync(sb, Path(tmp) / "s.db", method, campaigns, n)


def _sync(sb: Sandbox, state: Path, method: str, campaigns: list[dict[str, Any]], n: int
          ) -> dict[str, Any]:
    started = time.monotonic()
    with Session(_settings(sb, state, method, campaigns), retry=RetryPolicy()) as engine:
        report = engine.run()
    wall = time.monotonic() - started
    return {"status": report.status, "error": report.error, "wall": wall,
            "hs": report.hs_calls, "sf": report.sf_calls, "n": n,
            "pulled": report.counts.get("pulled", 0)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20, help="events, and as many forms")
    parser.add_argument("--people", type=int, default=4_000)
    parser.add_argument("--method", default="hybrid", choices=["poi", "hybrid", "unique"])
    parser.add_argument("--seed", type=int, default=23)
    args = parser.parse_args(argv)
    rows = [("event participations", run_events(args.responses, args.events, args.people,
                                                args.method, args.seed)),
            ("form fills", run_forms(args.responses, args.events, args.people, args.method,
                                     args.seed))]
    print(f"\n{args.responses:,} responses over {args.events} streams, {args.people:,} people, "
          f"method {args.method}, HubSpot's default rate limits")
    print(f"  {'source':<22}{'pulled':>8}{'HS calls':>10}{'HS/resp':>9}{'SF calls':>10}"
          f"{'SF/resp':>9}{'wall s':>8}  status")
    for name, r in rows:
        n = max(r["pulled"], 1)
        print(f"  {name:<22}{r['pulled']:>8,}{r['hs']:>10,}{r['hs'] / n:>9.4f}{r['sf']:>10,}"
              f"{r['sf'] / n:>9.4f}{r['wall']:>8.1f}  {r['status']}"
              + (f" ({r['error']})" if r["error"] else ""))
    events, forms = rows[0][1], rows[1][1]
    print(f"  events / forms: HubSpot calls x{events['hs'] / max(forms['hs'], 1):.2f}, "
          f"Salesforce calls x{events['sf'] / max(forms['sf'], 1):.2f}, "
          f"wall x{events['wall'] / max(forms['wall'], 0.001):.2f}")


if __name__ == "__main__":
    main()
