"""Forms paused for a reason found while pulling: HubSpot has no such form (404).

Kept beside ``engine/run`` (which pauses forms whose campaign cannot take members before the
pull) so the engine only asks: each missing form is paused alone, named by its
``[[campaigns]]`` entry, while the other forms go on. Nothing of it is recorded and its
watermark stays, so once the entry is fixed (or the form is back) a run picks it up.
"""

from __future__ import annotations

from typing import Any, Iterable

from connector.config.settings import Settings
from connector.core.counts import Count
from connector.engine.report import RunReport


def pause_missing(settings: Settings, source: Any, paused: dict[str, str], report: RunReport) -> None:
    """Pause the forms the source found missing (``HubSpotClient.missing_forms``) in
    ``paused`` (the engine's form id -> why) and in the report."""
    for entry in missing_form_pauses(settings, getattr(source, "missing_forms", ()) or ()):
        paused[entry["form_id"]] = entry["message"]
        report.paused.append(entry)
        report.counts[Count.PAUSED_FORMS] += 1


def missing_form_pauses(settings: Settings, form_ids: Iterable[str]) -> list[dict[str, Any]]:
    """One paused entry (as ``RunReport.paused`` holds them) per form HubSpot answered 404."""
    out = []
    for form_id in sorted(form_ids):
        index = next((i for i, c in enumerate(settings.campaigns) if c.form_id == form_id), None)
        entry = f"campaigns[{index}]" if index is not None else "campaigns"
        campaign = settings.campaign_for(form_id)
        out.append({"entry": entry, "form_id": form_id,
                    "campaign_id": campaign.campaign_id if campaign else None,
                    "message": f"{entry} (form {form_id}): HubSpot has no form with this id "
                               "(404); check form_id in the configuration (the other forms go on)"})
    return out
