"""Shared building blocks for the engine's end-to-end tests against the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.config.settings import Settings, settings_from_dict
from connector.engine.wiring import Session
from connector.engine.report import RunReport
from connector.sandbox import Sandbox
from connector.adapters.transport import RetryPolicy

EXT = "Leadsync_Response_Id__c"
T0 = 1_763_000_000_000  # a fixed epoch-ms origin for submissions
# The fills are dated from T0 (November 2025): a new form starts at [sync] start (default
# 30 days back), so the worlds here say where theirs begins.
WORLD_START = "2025-01-01"


@dataclass
class Org:
    """A sandbox with forms mapped to campaigns, and a state file for the engine."""

    sandbox: Sandbox
    state_path: Path
    forms: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    clock: int = T0

    @property
    def sf(self) -> Any:
        return self.sandbox.app.salesforce

    @property
    def hs(self) -> Any:
        return self.sandbox.app.hubspot

    def add_forms(self, n: int) -> None:
        for i in range(len(self.forms), len(self.forms) + n):
            self.forms.append(self.hs.create_form(f"Form {i}"))
            self.campaigns.append(self.sf.insert("Campaign", {"Name": f"Campaign {i}", "IsActive": True}))

    def campaign_records(self) -> dict[str, list[dict[str, Any]]]:
        """The forms' campaigns as dataset records (``load`` replaces the org): active, with
        the statuses an API-created campaign gets, so a run does not pause their forms."""
        statuses = [{"CampaignId": c, "Label": label, "SortOrder": n, "IsDefault": n == 1,
                     "HasResponded": n == 2}
                    for c in self.campaigns for n, label in ((1, "Sent"), (2, "Responded"))]
        return {"Campaign": [{"Id": c, "Name": f"C{i}", "IsActive": True}
                             for i, c in enumerate(self.campaigns)],
                "CampaignMemberStatus": statuses}

    def close_campaign(self, form: int, message: str = "This campaign takes no new members.") -> None:
        """Make the org refuse new members of a form's campaign (a validation rule on
        CampaignMember), while the campaign stays active with its statuses: the way to make
        memberships fail mid-sync now that a deleted campaign pauses its form beforehand."""
        self.sf.add_validation_rule("CampaignMember", f"Closed_{form}",
                                    f'CampaignId = "{self.campaigns[form]}"', message)

    def fill(self, form: int, email: str, **values: str) -> str:
        self.clock += 60_000
        return self.hs.add_submission(self.forms[form], {"email": email, **values},
                                      submitted_at=self.clock)

    def settings(self, method: str = "unique", **sections: Any) -> Settings:
        data: dict[str, Any] = {
            "method": method,
            "salesforce": {"instance_url": self.sandbox.url, "access_token": self.sandbox.token,
                           **sections.pop("salesforce", {})},
            "hubspot": {"base_url": self.sandbox.url, "access_token": self.sandbox.token},
            "state": {"path": str(self.state_path)},
            "campaigns": [{"form_id": f, "campaign_id": c} for f, c in zip(self.forms, self.campaigns)],
        }
        data.update(sections)
        data["sync"] = {"start": WORLD_START, **data.get("sync", {})}
        return settings_from_dict(data, env={})

    def sync(self, method: str = "unique", *, dry_run: bool = False, **sections: Any) -> RunReport:
        with Session(self.settings(method, **sections), dry_run=dry_run, retry=RetryPolicy.fast()) as engine:
            return engine.run(dry_run=dry_run)

    def leads(self, email: str | None = None) -> list[dict[str, Any]]:
        rows = self.sf.records("Lead")
        return [r for r in rows if email is None or (r.get("Email") or "").lower() == email.lower()]

    def members(self, record_id: str | None = None) -> list[dict[str, Any]]:
        rows = self.sf.records("CampaignMember")
        return [r for r in rows if record_id is None or record_id in (r.get("LeadId"), r.get("ContactId"))]

    def write_config(self, path: Path, *, method: str = "hybrid", salesforce: dict[str, Any] | None = None,
                     sync: dict[str, Any] | None = None) -> Path:
        """A TOML config as a user writes it; tokens come from :meth:`env`, not the file."""
        def table(name: str, values: dict[str, Any]) -> list[str]:
            return [f"[{name}]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]

        lines = [f"method = {_toml(method)}"]
        lines += table("salesforce", {"instance_url": self.sandbox.url, **(salesforce or {})})
        lines += table("hubspot", {"base_url": self.sandbox.url})
        lines += table("state", {"path": str(self.state_path)})
        lines += table("sync", {"start": WORLD_START, **(sync or {})})
        for form, campaign in zip(self.forms, self.campaigns):
            lines += ["[[campaigns]]", f"form_id = {_toml(form)}", f"campaign_id = {_toml(campaign)}"]
        path.write_text("\n".join(lines) + "\n")
        return path

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        return {**(base or {}), "LEADSYNC_SALESFORCE_ACCESS_TOKEN": self.sandbox.token,
                "LEADSYNC_HUBSPOT_ACCESS_TOKEN": self.sandbox.token}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
