"""A sandbox world with a HubSpot marketing event and meetings mapped to campaigns, driven
through hubspot-api-client as a script would drive HubSpot."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import hubspot  # type: ignore[import-untyped]
from hubspot.crm.objects.meetings import (  # type: ignore[import-untyped]
    AssociationSpec, PublicAssociationsForObject, PublicObjectId, SimplePublicObjectInputForCreate)
from hubspot.marketing.events import (  # type: ignore[import-untyped]
    BatchInputMarketingEventEmailSubscriber, MarketingEventCreateRequestParams,
    MarketingEventEmailSubscriber)

from connector.adapters.transport import RetryPolicy
from connector.config.settings import Settings, settings_from_dict
from connector.engine.report import RunReport
from connector.engine.wiring import Session
from sync_helpers import T0, WORLD_START, Org

EVENT_STATUSES = (("Registered", False), ("Attended", True), ("No Show", False),
                  ("Cancelled", False))
VERB = {"registered": "register", "attended": "attend", "cancelled": "cancel"}


@dataclass
class EventWorld:
    org: Org
    event_id: str = ""
    event_campaign: str = ""
    meetings_campaign: str = ""
    clock: int = T0
    extra: list[dict[str, Any]] = field(default_factory=list)

    @property
    def client(self) -> Any:
        sb = self.org.sandbox
        return hubspot.Client.create(access_token=sb.token, host=sb.url, base_url=sb.url)

    def __post_init__(self) -> None:
        # The script seeding the world calls HubSpot as fast as it can: its calls must not
        # spend the window the sync reads in (rate limits have tests of their own).
        self.org.sandbox.app.hubspot.set_rate_limit(per_10s=100_000, per_second=10_000)

    def create_event(self, name: str = "Q3 launch webinar") -> str:
        params = MarketingEventCreateRequestParams(
            event_name=name, event_organizer="Acme", external_account_id="leadsync-tests",
            external_event_id=f"ext-{name}", custom_properties=[],
            start_date_time=datetime.fromtimestamp(T0 / 1000, timezone.utc),
            end_date_time=datetime.fromtimestamp((T0 + 86_400_000 * 365 * 5) / 1000, timezone.utc))
        self.event_id = self.client.marketing.events.basic_api.create(params).object_id
        sf = self.org.sf
        self.event_campaign = sf.insert("Campaign", {"Name": name, "IsActive": True})
        for order, (label, responded) in enumerate(EVENT_STATUSES, start=3):
            sf.insert("CampaignMemberStatus", {"CampaignId": self.event_campaign, "Label": label,
                                               "HasResponded": responded, "SortOrder": order})
        return self.event_id

    def record(self, state: str, email: str, **contact: str) -> None:
        """A participant's state, by email, at the world's next minute."""
        self.clock += 60_000
        body = BatchInputMarketingEventEmailSubscriber(inputs=[MarketingEventEmailSubscriber(
            email=email, interaction_date_time=self.clock, properties={},
            contact_properties=contact)])
        self.client.marketing.events.add_event_attendees_api.record_by_email(
            self.event_id, VERB[state], body)

    def end_event(self) -> None:
        """The event is over (it ended a second ago): its silent registrants read as no-shows."""
        ended = int(time.time() * 1000) - 1000
        self.client.api_request({"method": "PATCH", "path": f"/marketing/v3/marketing-events/{self.event_id}",
                                 "body": {"endDateTime": _iso(ended)}})

    def add_meetings_campaign(self) -> str:
        self.meetings_campaign = self.org.sf.insert("Campaign", {"Name": "Meetings", "IsActive": True})
        self.org.sf.insert("CampaignMemberStatus", {"CampaignId": self.meetings_campaign,
                                                    "Label": "Meeting Booked", "HasResponded": True,
                                                    "SortOrder": 3})
        return self.meetings_campaign

    def book_meeting(self, email: str, **contact: str) -> str:
        """A meeting booked by a contact (created first through an event-free form fill)."""
        hs = self.org.sandbox.app.hubspot
        if email.lower() not in hs.store.contacts:
            hs.create_form("Contact capture", form_id="contact-capture") \
                if "contact-capture" not in hs.store.forms else None
            self.clock += 60_000
            hs.add_submission("contact-capture", {"email": email, **contact}, submitted_at=self.clock)
        contact_id = hs.store.contacts[email.lower()].id
        body = SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": _iso(self.clock), "hs_meeting_title": "Demo"},
            associations=[PublicAssociationsForObject(
                to=PublicObjectId(id=contact_id),
                types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=200)])])
        return str(self.client.crm.objects.meetings.basic_api.create(body).id)

    def settings(self, method: str = "hybrid", *, forms: bool = False, event: bool = True,
                 meetings: bool = False, **sections: Any) -> Settings:
        sb = self.org.sandbox
        campaigns: list[dict[str, Any]] = []
        if forms:
            campaigns += [{"form_id": f, "campaign_id": c}
                          for f, c in zip(self.org.forms, self.org.campaigns)]
        if event:
            campaigns.append({"event_id": self.event_id, "campaign_id": self.event_campaign,
                              "statuses": {"registered": "Registered", "attended": "Attended",
                                           "no_show": "No Show", "cancelled": "Cancelled"}})
        if meetings:
            campaigns.append({"meetings": True, "campaign_id": self.meetings_campaign,
                              "member_status": "Meeting Booked"})
        data: dict[str, Any] = {
            "method": method,
            "salesforce": {"instance_url": sb.url, "access_token": sb.token,
                           **sections.pop("salesforce", {})},
            "hubspot": {"base_url": sb.url, "access_token": sb.token},
            "state": {"path": str(self.org.state_path)}, "campaigns": campaigns}
        data.update(sections)
        data["sync"] = {"start": WORLD_START, **data.get("sync", {})}
        return settings_from_dict(data, env={})

    def sync(self, method: str = "hybrid", **kw: Any) -> RunReport:
        with Session(self.settings(method, **kw), retry=RetryPolicy.fast()) as engine:
            return engine.run()

    def members(self) -> list[dict[str, Any]]:
        return [m for m in self.org.members() if m["CampaignId"] == self.event_campaign]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat().replace("+00:00", "Z")
