"""A sandbox org for the lifecycle tests: a rep who gets the hand-offs (Ade), a pool (Bea,
Cy), a manager for escalations (Max), a nurture queue, the recycle fields and statuses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.engine.lifecycle import LifecycleReport, PassOptions, run_lifecycle
from connector.engine.wiring import clients
from sync_helpers import Org

STATUSES = ["Open - Not Contacted", "Sales Ready", "Working - Contacted", "Recycled",
            "Closed - Converted", "Closed - Not Converted"]
HOUR = 3_600_000
DAY = 24 * HOUR
REASON, DATE = "Recycle_Reason__c", "Recycle_Date__c"


class World(Org):
    users: dict[str, str]
    queue: str

    def routing(self) -> dict[str, Any]:
        return {"mode": "rules", "default_owner": "user:ade@acme.example",
                "stages": {"nurture": "Open - Not Contacted", "sales_ready": "Sales Ready",
                           "sales_ready_forms": [self.forms[1]]},
                "tasks": {"sla": "4h", "max_age": "3650d"}}

    def lifecycle_table(self, **over: Any) -> dict[str, Any]:
        return {"sla": "2h", "on_breach": "both", "max_reassignments": 2,
                "pool": ["user:bea@acme.example", "user:cy@acme.example"],
                "escalate_to": "user:max@acme.example", "recycled_status": "Recycled",
                "recycle_reason_field": REASON, "recycle_date_field": DATE,
                "recycle_delay": "30d", "recycle_owner": "queue:Marketing_Nurture", **over}

    def config(self, **over: Any) -> Any:
        return self.settings("hybrid", routing=self.routing(), lifecycle=self.lifecycle_table(**over))

    def hand_off(self, email: str) -> str:
        """A sales-ready fill, synced: a Lead owned by Ade with its follow-up Task."""
        self.fill(1, email, lastname="Doe", company="Corp")
        report = self.sync("hybrid", routing=self.routing())
        assert report.status == "ok", report.error
        lead = self.leads(email)[0]
        return str(lead["Id"])

    def tasks(self, lead_id: str) -> list[dict[str, Any]]:
        return [t for t in self.sf.records("Task") if t["WhoId"] == lead_id]

    def lead(self, lead_id: str) -> dict[str, Any]:
        return self.sf.get("Lead", lead_id)

    def run(self, now_ms: int, *, settings: Any = None, **options: Any) -> LifecycleReport:
        settings = settings or self.config()
        state = State.open(settings.state_path)
        try:
            client = clients(settings, retry=RetryPolicy.fast()).salesforce
            return run_lifecycle(settings, state, client, PassOptions(now_ms=now_ms, **options))
        finally:
            state.close()


def make_world(sandbox: Any, tmp_path: Path) -> World:
    sandbox.app.load({"salesforce": {"schema": {"Lead": {
        REASON: {"type": "string", "length": 255}, DATE: {"type": "date"}}}}})
    world = World(sandbox, tmp_path / "leadsync.db")
    world.add_forms(2)
    world.sf.set_picklist("Lead", "Status", STATUSES)
    world.users = {name: world.sf.add_user(name.title(), username=f"{name}@acme.example")
                   for name in ("ade", "bea", "cy", "max")}
    world.queue = world.sf.add_queue("Marketing Nurture", developer_name="Marketing_Nurture")
    return world


def now() -> int:
    return int(time.time() * 1000)
