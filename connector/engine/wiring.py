"""The one composition root: settings -> clients, state, mapping, engine.

Every command that talks to the vendors builds them here (sync, retry, backfill, the daemon,
reconcile, mappings check), so a new store or client is wired in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.adapters.hubspot.forms import HubSpotClient
from connector.adapters.hubspot.sources import HubSpotSources
from connector.adapters.salesforce.client import SalesforceClient
from connector.adapters.sqlite.ledger import State
from connector.adapters.transport import RetryPolicy
from connector.config.mapping_file import load_configured_mapping
from connector.config.settings import Settings
from connector.engine.report import Progress
from connector.engine.run import Engine


@dataclass
class Clients:
    salesforce: SalesforceClient
    hubspot: HubSpotClient


def clients(settings: Settings, *, retry: RetryPolicy | None = None) -> Clients:
    retry = retry or RetryPolicy()
    return Clients(SalesforceClient(settings.salesforce, retry=retry),
                   HubSpotSources(settings.hubspot, retry=retry,
                                  streams=[c.stream for c in settings.campaigns]))


def open_state(settings: Settings, *, read_only: bool = False) -> State:
    """The ledger; read-only (never created or changed) for dry runs, status and previews."""
    return State.open_read_only(settings.state_path) if read_only else State.open(settings.state_path)


def build_engine(settings: Settings, *, state: State, vendors: Clients | None = None,
                 retry: RetryPolicy | None = None, progress: Progress | None = None) -> Engine:
    vendors = vendors or clients(settings, retry=retry)
    mapping = load_configured_mapping(settings)
    if isinstance(vendors.hubspot, HubSpotSources):   # events and meetings read what it maps
        vendors.hubspot.read_fields([s.form_field for s in mapping.fields], mapping.email_field)
    return Engine(settings, salesforce=vendors.salesforce, hubspot=vendors.hubspot, state=state,
                  mapping=mapping, progress=progress)


class Session:
    """Everything a run needs, built from Settings; closes the state when done."""

    def __init__(self, settings: Settings, *, dry_run: bool = False, retry: Any = None,
                 progress: Progress | None = None) -> None:
        self.state = open_state(settings, read_only=dry_run)
        try:
            self.vendors = clients(settings, retry=retry)
            self.engine = build_engine(settings, state=self.state, vendors=self.vendors,
                                       progress=progress)
        except BaseException:
            self.state.close()
            raise

    def __enter__(self) -> Engine:
        return self.engine

    def __exit__(self, *exc: object) -> None:
        self.state.close()
