"""Names for the status page: forms, campaigns and owners as people know them, not as Ids.

Read from the APIs when a page is made (one HubSpot forms listing, the account's details for
its portal and app domain, one Salesforce composite of campaigns, users and queues: the same
reads ``whatif --html`` makes), and kept in the state's cache with the time they were read.
When the APIs cannot be asked (no token on this host, a network down, a vendor erroring),
the cached names are used and the page says how old they are; an Id nobody has named stays
an Id. ``status`` without ``--html`` asks no API at all: it uses the cache as it is.

The cache row is written on the state file directly, without the run lock: it is one
upserted ``meta`` row (``cache:status.names``) no run reads, so a daemon holding the lock
is neither waited for nor disturbed (SQLite serialises the write itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping

from connector.adapters.transport import RetryPolicy
from connector.config.settings import Settings

CACHE_KEY = "status.names"
# A page is made by a person or a cron job: two quick tries, not a sync's patience.
STATUS_RETRY = RetryPolicy(attempts=2, max_seconds=10.0, initial=0.2, max_wait=1.0)


@dataclass(frozen=True)
class StatusNames:
    """Id -> name for forms, campaigns and owners, where the portal's pages live, and where
    the names came from (``api`` now, ``cache`` of ``read_at``, or ``none``)."""

    forms: Mapping[str, str] = field(default_factory=dict)
    campaigns: Mapping[str, str] = field(default_factory=dict)
    owners: Mapping[str, str] = field(default_factory=dict)
    portal_id: int | None = None
    ui_domain: str | None = None
    source: str = "none"
    read_at: datetime | None = None
    note: str | None = None          # why the APIs were not used, when they were not

    def form(self, form_id: str) -> str:
        return self.forms.get(form_id) or form_id

    def campaign(self, campaign_id: str) -> str:
        return self.campaigns.get(campaign_id) or campaign_id

    def owner(self, owner_id: str) -> str:
        return self.owners.get(owner_id) or owner_id

    def to_cache(self) -> dict[str, Any]:
        return {"forms": dict(self.forms), "campaigns": dict(self.campaigns),
                "owners": dict(self.owners), "portal_id": self.portal_id,
                "ui_domain": self.ui_domain}

    @classmethod
    def from_cache(cls, value: Any, read_at: datetime, note: str | None) -> "StatusNames":
        data = value if isinstance(value, dict) else {}
        portal = data.get("portal_id")
        return cls(forms=_strings(data.get("forms")), campaigns=_strings(data.get("campaigns")),
                   owners=_strings(data.get("owners")),
                   portal_id=int(portal) if isinstance(portal, int) else None,
                   ui_domain=str(data["ui_domain"]) if data.get("ui_domain") else None,
                   source="cache", read_at=read_at, note=note)


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def read_live(settings: Settings, owner_ids: Iterable[str], *, now: datetime,
              vendors: Any = None) -> StatusNames:
    """Every name from the APIs (raises whatever the clients raise when they cannot)."""
    from connector.commands.whatif import read_names
    from connector.engine.wiring import clients

    vendors = vendors or clients(settings, retry=STATUS_RETRY)
    details = vendors.hubspot.get("/account-info/v3/details")
    names = read_names(settings, vendors.salesforce, vendors.hubspot, form_names={},
                       routings=[settings.routing], owner_ids=owner_ids)
    portal = details.get("portalId")
    return StatusNames(forms=names.forms, campaigns=names.campaigns, owners=names.owners,
                       portal_id=int(portal) if isinstance(portal, int) else None,
                       ui_domain=str(details.get("uiDomain") or "") or None,
                       source="api", read_at=now)


def names_for_status(settings: Settings, state: Any, *, owner_ids: Iterable[str], refresh: bool,
                     now: datetime, vendors: Any = None) -> StatusNames:
    """Fresh names when ``refresh`` (and the APIs answer), stored in the cache; else the
    cached ones with their age and the reason; else none (every Id shown as it is)."""
    note = None
    if refresh:
        try:
            live = read_live(settings, owner_ids, now=now, vendors=vendors)
        except Exception as exc:  # noqa: BLE001 - any failure falls back to the cache
            note = f"names not read from the APIs ({_why(exc)}); using the cached copy"
        else:
            _store(settings.state_path, live)
            return live
    else:
        note = "names from the cache (the APIs are asked only when the HTML page is made)"
    entry = state.cached_entry(CACHE_KEY)
    if entry is None:
        return StatusNames(note=(note or "") + "; no cached names yet: Ids are shown")
    value, read_at = entry
    return StatusNames.from_cache(value, read_at, note)


def _why(exc: Exception) -> str:
    """The failure in a few words (no URL, token or response body)."""
    from connector.errors import LeadsyncError

    if isinstance(exc, LeadsyncError):
        first = str(exc).splitlines()[0] if str(exc) else ""
        return first[:160] or type(exc).__name__
    return type(exc).__name__


def _store(path: Path, names: StatusNames) -> None:
    """Keep the names in the state's cache; an existing state only (status never creates
    one), and a failure to write (a read-only share) costs only the cache."""
    from connector.adapters.sqlite.ledger import State

    if not Path(path).exists():
        return
    try:
        state = State.open(path)
    except Exception:  # noqa: BLE001 - the page is made from the live names anyway
        return
    try:
        state.cache(CACHE_KEY, names.to_cache())
    except Exception:  # noqa: BLE001
        pass
    finally:
        state.close()
