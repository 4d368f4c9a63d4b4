"""The scopes HubSpot's properties routes take, as its public OpenAPI spec lists them, and
the scopes the sandbox's app lists when it holds every one.

Source: github.com/HubSpot/HubSpot-public-api-spec-collection at commit
99893791383254f52aa07662baeb98aad65cc710, ``PublicApiSpecs/CRM/Properties/Rollouts/145899/v3/
properties.json``, each operation's ``security`` (docs/sandbox-wire-facts.md, "Properties
scopes"). Every read of ``/crm/v3/properties/{objectType}`` (list, get one, batch read,
groups) lists the same 100 alternatives, every write (create, update, archive, batch create,
groups) the same 26; HubSpot's reference pages say "This API requires one of the following
scopes". The lists do not depend on ``objectType``: the spec names one route for every
object, so a contact property can be read with, say, the deals read scope. Kept here, apart
from the handlers, because they are long and only data.
"""

from __future__ import annotations

# The scopes the sandbox's routes tell apart (forms, contacts, marketing events, contact
# properties' definitions) and ``oauth``: what the token endpoint lists for an app that holds
# every scope (``HubSpotApi.held_scopes``); a real app lists what was ticked.
MODELED_SCOPES = (
    "crm.objects.contacts.read", "crm.objects.contacts.write",
    "crm.objects.marketing_events.read", "crm.objects.marketing_events.write",
    "crm.schemas.contacts.read", "crm.schemas.contacts.write", "forms", "forms-uploaded-files",
    "oauth",
)

PROPERTIES_READ = (
    "automation", "cpq.quotes.read", "cpq.quotes.write", "crm.objects.appointments.read",
    "crm.objects.appointments.sensitive.read.v2", "crm.objects.appointments.sensitive.write.v2",
    "crm.objects.appointments.write", "crm.objects.calls.read", "crm.objects.carts.read",
    "crm.objects.commercepayments.write", "crm.objects.companies.highly_sensitive.read.v2",
    "crm.objects.companies.highly_sensitive.write.v2", "crm.objects.companies.read",
    "crm.objects.companies.sensitive.read.v2", "crm.objects.companies.sensitive.write.v2",
    "crm.objects.companies.write", "crm.objects.contacts.highly_sensitive.read.v2",
    "crm.objects.contacts.highly_sensitive.write.v2", "crm.objects.contacts.read",
    "crm.objects.contacts.sensitive.read.v2", "crm.objects.contacts.sensitive.write.v2",
    "crm.objects.contacts.write", "crm.objects.courses.read", "crm.objects.courses.write",
    "crm.objects.custom.highly_sensitive.read.v2",
    "crm.objects.custom.highly_sensitive.write.v2", "crm.objects.custom.read",
    "crm.objects.custom.sensitive.read.v2", "crm.objects.custom.sensitive.write.v2",
    "crm.objects.custom.write", "crm.objects.deals.highly_sensitive.read.v2",
    "crm.objects.deals.highly_sensitive.write.v2", "crm.objects.deals.read",
    "crm.objects.deals.sensitive.read.v2", "crm.objects.deals.sensitive.write.v2",
    "crm.objects.deals.write", "crm.objects.emails.read",
    "crm.objects.feedback_submissions.read", "crm.objects.goals.read",
    "crm.objects.goals.write", "crm.objects.invoices.read", "crm.objects.invoices.write",
    "crm.objects.leads.read", "crm.objects.leads.write", "crm.objects.line_items.read",
    "crm.objects.line_items.write", "crm.objects.listings.read", "crm.objects.listings.write",
    "crm.objects.marketing_events.read", "crm.objects.marketing_events.write",
    "crm.objects.meetings.read", "crm.objects.notes.read", "crm.objects.orders.read",
    "crm.objects.owners.read", "crm.objects.products.write",
    "crm.objects.projects.highly_sensitive.read", "crm.objects.projects.highly_sensitive.write",
    "crm.objects.projects.read", "crm.objects.projects.sensitive.read",
    "crm.objects.projects.sensitive.write", "crm.objects.projects.write",
    "crm.objects.quotes.read", "crm.objects.quotes.write", "crm.objects.services.read",
    "crm.objects.services.write", "crm.objects.subscriptions.read",
    "crm.objects.subscriptions.write", "crm.objects.tasks.read",
    "crm.objects.tickets.highly_sensitive.read", "crm.objects.tickets.sensitive.read",
    "crm.objects.users.read", "crm.pipelines.orders.read", "crm.schemas.appointments.read",
    "crm.schemas.calls.read", "crm.schemas.carts.read", "crm.schemas.commercepayments.read",
    "crm.schemas.companies.read", "crm.schemas.contacts.read", "crm.schemas.courses.read",
    "crm.schemas.custom.read", "crm.schemas.deals.read", "crm.schemas.emails.read",
    "crm.schemas.invoices.read", "crm.schemas.line_items.read", "crm.schemas.listings.read",
    "crm.schemas.meetings.read", "crm.schemas.notes.read", "crm.schemas.orders.read",
    "crm.schemas.projects.read", "crm.schemas.quotes.read", "crm.schemas.services.read",
    "crm.schemas.subscriptions.read", "crm.schemas.tasks.read", "crm.schemas.tickets.read",
    "e-commerce", "media_bridge.read", "tickets", "tickets.highly_sensitive.v2",
    "tickets.sensitive.v2", "timeline",
)

PROPERTIES_WRITE = (
    "crm.objects.carts.write", "crm.objects.orders.write",
    "crm.objects.tickets.highly_sensitive.write", "crm.objects.tickets.sensitive.write",
    "crm.objects.users.write", "crm.pipelines.orders.write", "crm.schemas.appointments.write",
    "crm.schemas.carts.write", "crm.schemas.commercepayments.write",
    "crm.schemas.companies.write", "crm.schemas.contacts.write", "crm.schemas.courses.write",
    "crm.schemas.custom.write", "crm.schemas.deals.write", "crm.schemas.invoices.write",
    "crm.schemas.listings.write", "crm.schemas.orders.write", "crm.schemas.projects.write",
    "crm.schemas.quotes.write", "crm.schemas.services.write", "crm.schemas.subscriptions.write",
    "crm.schemas.tickets.write", "e-commerce", "tickets", "tickets.highly_sensitive.v2",
    "tickets.sensitive.v2",
)
