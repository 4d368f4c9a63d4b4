"""Soak: kill leadsync at random moments, inject faults, feed it garbage; count what survives.

    python bench/soak.py                      # 30 SIGKILLs over a 2,000-response sync, 20% faults
    python bench/soak.py --kills 5 --responses 500

The sandbox runs in this process (so it outlives the kills); each sync is a real
``python -m connector sync`` subprocess killed with SIGKILL after a random delay, then rerun.
Prints figures: duplicates and lost responses (both must be 0), faults injected, runs needed.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.sandbox import Sandbox  # noqa: E402
from connector.adapters.sqlite.ledger import State  # noqa: E402

EXT = "Leadsync_Response_Id__c"


def world(sandbox: Sandbox, responses: int, people: int) -> tuple[list[str], list[str]]:
    hs, sf = sandbox.app.hubspot, sandbox.app.salesforce
    hs.set_rate_limit(per_10s=100_000, per_second=10_000)
    forms = [hs.create_form(f"Form {i}") for i in range(4)]
    campaigns = [sf.insert("Campaign", {"Name": f"Campaign {i}"}) for i in range(4)]
    for i in range(0, people, 5):  # a fifth already Leads, a fifth Contacts
        sf.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"p{i}@example.com"})
        sf.insert("Contact", {"LastName": f"C{i}", "Email": f"p{i + 1}@example.com"})
    t0 = int(time.time() * 1000) - responses * 1000
    for i in range(responses):
        hs.add_submission(forms[i % 4], {"email": f"p{i % people}@example.com", "lastname": f"N{i}"},
                          submitted_at=t0 + i * 1000)
    return forms, campaigns


def config(path: Path, sandbox: Sandbox, forms: list[str], campaigns: list[str], method: str,
           state: Path) -> Path:
    lines = [f'method = "{method}"', "[salesforce]", f'instance_url = "{sandbox.url}"',
             f'lead_external_id_field = "{EXT}"', "[hubspot]", f'base_url = "{sandbox.url}"',
             "[state]", f'path = "{state}"', "[sync]", "batch_size = 50"]
    for form, campaign in zip(forms, campaigns):
        lines += ["[[campaigns]]", f'form_id = "{form}"', f'campaign_id = "{campaign}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def audit(sandbox: Sandbox, state_path: Path, method: str, responses: int, people: int) -> dict[str, int]:
    sf = sandbox.app.salesforce
    leads = [lead for lead in sf.records("Lead") if not lead.get("IsConverted")]
    members = collections.Counter((m["CampaignId"], m.get("LeadId") or m.get("ContactId"))
                                  for m in sf.records("CampaignMember"))
    rows = State.open(state_path).rows()
    applied = sum(1 for r in rows if r["status"] == "applied")
    by_email = collections.Counter((lead.get("Email") or "").lower() for lead in leads)
    created_by_us = sum(1 for lead in leads if lead.get(EXT))
    if method == "poi":
        duplicate_leads = created_by_us - len({lead[EXT] for lead in leads if lead.get(EXT)})
    else:
        duplicate_leads = sum(n - 1 for n in by_email.values() if n > 1)
    return {"responses": responses, "applied": applied, "lost": responses - applied,
            "duplicate_leads": duplicate_leads,
            "duplicate_members": sum(n - 1 for n in members.values() if n > 1),
            "members": len(members), "leads_created": created_by_us}


def run_kills(method: str, kills: int, responses: int, people: int, seed: int, faults: float) -> None:
    rng = random.Random(seed)
    with Sandbox(seed=seed) as sandbox, tempfile.TemporaryDirectory() as tmp:
        forms, campaigns = world(sandbox, responses, people)
        state = Path(tmp) / "leadsync.db"
        cfg = config(Path(tmp) / "c.toml", sandbox, forms, campaigns, method, state)
        share = faults / 4
        sandbox.app.faults.configure(error_rate=share, rate_limit_rate=share, drop_rate=share,
                                     apply_then_drop_rate=share, retry_after=None, latency_ms=1)
        env = {**os.environ, "LEADSYNC_SALESFORCE_ACCESS_TOKEN": sandbox.token,
               "LEADSYNC_HUBSPOT_ACCESS_TOKEN": sandbox.token}
        command = [sys.executable, "-m", "connector", "sync", "--config", str(cfg)]
        started = time.monotonic()
        killed_mid_run = 0
        for _ in range(kills):
            proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.05, 1.5))
            if proc.poll() is None:
                killed_mid_run += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finals = 0
        while True:  # reruns until a run ends clean (faults stay on)
            finals += 1
            done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode == 0 or finals >= 10:
                break
        sandbox.app.faults.configure(error_rate=0, rate_limit_rate=0, drop_rate=0,
                                     apply_then_drop_rate=0, latency_ms=0)
        figures = audit(sandbox, state, method, responses, people)
        faults_injected = dict(sandbox.app.faults.stats)
        print(f"{method:<7} kills={kills} (mid-run {killed_mid_run}) reruns-to-clean={finals} "
              f"faults={faults_injected.get('total', 0)} {faults_injected} "
              f"{figures} {time.monotonic() - started:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--responses", type=int, default=2000)
    parser.add_argument("--people", type=int, default=800)
    parser.add_argument("--faults", type=float, default=0.2, help="share of calls faulted (split 4 ways)")
    parser.add_argument("--methods", default="poi,hybrid,unique")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for method in args.methods.split(","):
        run_kills(method, args.kills, args.responses, args.people, args.seed, args.faults)


if __name__ == "__main__":
    main()
