"""``leadsync mappings check``: the configured mapping and routing held against the org.

One composite call reads the describes of Lead and Contact (and Task with follow-up Tasks),
one more the configured campaigns and their member statuses; the checks themselves are pure
(``connector.core.mapping_check``, ``connector.core.campaigns``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.adapters.hubspot.forms import HubSpotClient
from connector.adapters.hubspot.scopes import refused_probes
from connector.adapters.salesforce.campaigns import campaign_problems
from connector.commands.lifecycle import check_problems as lifecycle_problems
from connector.engine.pauses import owner_problems
from connector.config.mapping_file import load_mapping, protected_of
from connector.core.campaigns import CampaignProblem
from connector.config.settings import Settings
from connector.core.mapping_check import (Problem, check_lead_statuses, check_mapping, check_routing,
                                          check_task_key, has_errors)
from connector.core.enrich.scoring_check import check_scoring
from connector.core.schema import schema_from_describes
from connector.core.scopes import (ScopeCheck, scope_checks, scope_checks_granted, scope_needs,
                                   scope_problems, scopes_unchecked)
from connector.engine.wiring import clients
from connector.engine.writeback import writeback_problems
from connector.errors import LeadsyncError


@dataclass(frozen=True)
class MappingReport:
    mapping_source: str              # the mapping file, as its problems name it
    config_source: str | None        # the configuration file, for routing's problems
    problems: list[Problem]          # the mapping file's
    routing: list[Problem]           # the configuration's [routing] against the org
    campaigns: list[CampaignProblem] = field(default_factory=list)   # each pauses its form
    forms: list[Problem] = field(default_factory=list)   # configured forms HubSpot does not list
    scopes: tuple[ScopeCheck, ...] = ()   # each HubSpot scope the configuration needs, and whether held

    @property
    def ok(self) -> bool:
        return not (has_errors(self.problems + self.routing) or self.campaigns)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3


def check(settings: Settings) -> MappingReport:
    mapping = load_mapping(settings.mapping_path())
    vendors = clients(settings)      # one HubSpot client for every check (one OAuth refresh)
    client = vendors.salesforce
    tasks = ["Task"] if settings.routing.tasks is not None else []
    schema = schema_from_describes(client.describe(["Lead", "Contact", *tasks]))
    problems = check_mapping(mapping, schema, protected_of(settings))
    routing = check_routing(settings.routing, schema.get("Lead"))   # these are in the config file
    routing += check_task_key(settings.routing, schema.get("Task"),
                              settings.salesforce.lead_external_id_field)
    routing += owner_problems(settings.routing, client)   # owners the org lacks: fall back or park
    routing += lifecycle_problems(settings, client)   # [lifecycle]'s owners and recycle fields
    if settings.lifecycle is not None:                # ... and the statuses it sets
        routing += check_lead_statuses(
            [("lifecycle.recycled_status", settings.lifecycle.recycled_status),
             ("lifecycle.nurture_status", settings.lifecycle.nurture_status)], schema.get("Lead"))
    routing += check_scoring(settings.scoring, settings.routing, schema)   # [scoring], hubspotscore
    campaigns = campaign_problems(client, settings.campaigns)
    # [writeback]'s HubSpot properties: also in the config file
    routing += writeback_problems(settings, hubspot=vendors.hubspot)
    try:
        scopes = hubspot_scopes(settings, vendors.hubspot)
        routing += scope_problems(scopes)      # a scope the HubSpot app lacks
    except LeadsyncError as exc:               # a refused token, an outage: the rest stands
        scopes = ()
        routing.append(scopes_unchecked(exc.message))
    return MappingReport(mapping.source, settings.source, problems, routing, campaigns,
                         forms_problems(settings, vendors.hubspot), scopes)


def hubspot_scopes(settings: Settings, hubspot: HubSpotClient | None = None
                   ) -> tuple[ScopeCheck, ...]:
    """The HubSpot scopes the configuration needs: against the scopes an OAuth app's token
    lists, else each read tried once (nothing written)."""
    sources = {c.source for c in settings.campaigns}
    needs = scope_needs(forms="form" in sources, events="event" in sources,
                        meetings="meetings" in sources, freshness_probe=settings.sync.probe,
                        writeback=settings.writeback is not None)
    hub = hubspot or clients(settings).hubspot
    if hub.tokens is not None:               # an OAuth app: its token reply lists them
        hub.tokens.current()
        if hub.tokens.scopes is not None:
            return scope_checks_granted(needs, hub.tokens.scopes)
    first = {source: next((c for c in settings.campaigns if c.source == source), None)
             for source in ("form", "event")}
    lacking = refused_probes(hub,
                             [n.probe for n in needs if n.probe is not None],
                             form_id=first["form"].form_id if first["form"] else None,
                             event_id=first["event"].event_id if first["event"] else None)
    return scope_checks(needs, lacking)


def forms_problems(settings: Settings, hubspot: HubSpotClient | None = None) -> list[Problem]:
    """The configured forms HubSpot's list (every form type) does not hold, as warnings."""
    from connector.core.form_coverage import listing_failed, unseen_forms
    from connector.errors import LeadsyncError

    try:
        listed = (hubspot or clients(settings).hubspot).form_names()
    except LeadsyncError as exc:
        return [listing_failed(type(exc).__name__)]
    return unseen_forms([c.form_id for c in settings.campaigns], listed)
