"""What the engine derives from the configured streams: each stream's landing, each event
campaign's status ladder, and meetings' sales-readiness.

A form lands every response at its ``member_status``; an event lands each participation at
the status its state is configured to (``statuses = {...}``), and its campaign's members
only move forward (``connector.core.progression``); a meeting booked is sales-ready.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from connector.config.settings import CampaignMap
from connector.config.sources import MEETINGS, STATE_KEYS
from connector.core.batch import Landing
from connector.core.campaigns import OrgCampaigns, is_campaign_id
from connector.core.enrich.routing import Routing
from connector.core.ids import to_id18
from connector.core.progression import Ladder, OrgStatus, ladder_for


def landing_of(campaign: CampaignMap) -> Landing:
    statuses = ({state: campaign.statuses.of(state) or "" for state in STATE_KEYS}
                if campaign.statuses else {})
    return Landing(campaign.campaign_id, campaign.member_status, statuses)


def ladders_of(campaigns: Sequence[CampaignMap], org: OrgCampaigns) -> dict[str, Ladder]:
    """Campaign id (as configured) -> its ladder, for the event entries."""
    out: dict[str, Ladder] = {}
    for c in campaigns:
        if c.statuses is None:
            continue
        facts = org.by_id.get(to_id18(c.campaign_id)) if is_campaign_id(c.campaign_id) else None
        rows = [OrgStatus(s.label, s.has_responded, s.sort_order)
                for s in (facts.statuses if facts else ())]
        out[c.campaign_id] = ladder_for({s: c.statuses.of(s) or "" for s in STATE_KEYS}, rows)
    return out


def routing_of(routing: Routing, campaigns: Sequence[CampaignMap]) -> Routing:
    """Meetings booked are sales-ready by default: a follow-up Task when Tasks are on."""
    streams = frozenset(c.stream for c in campaigns if c.source == MEETINGS)
    return replace(routing, sales_ready_streams=routing.sales_ready_streams | streams) if streams \
        else routing
