"""Whether every configured form is one HubSpot lists: ``mappings check``'s form warnings.

HubSpot's forms v3 list answers only ``formType=hubspot`` forms unless asked for others;
non-HubSpot ("captured") and pop-up ("flow") forms went missing that way in other tools'
pipelines. leadsync lists every type (``formTypes=all``); a configured form still not in
that list is a wrong id (or a form deleted, or an app without access to it), and its
campaign would never receive a member. Pure: ids and names in, problems out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from connector.core.mapping_rules import Problem


def unseen_forms(configured: Sequence[str], listed: Mapping[str, str]) -> list[Problem]:
    """A warning per configured form id HubSpot's list of every form type does not hold."""
    return [Problem(0, f"campaigns[{i}].form_id = {form_id!r}",
                    "HubSpot lists no form with this id among its forms of every type (hubspot, "
                    "captured, flow, blog_comment): check the id, and that the app may read "
                    "this form; until then this campaign receives no members", "warning")
            for i, form_id in enumerate(configured) if form_id not in listed]


def listing_failed(reason: str) -> Problem:
    """The forms could not be listed: said as a warning, the other checks still stand."""
    return Problem(0, "campaigns[].form_id", f"HubSpot's forms could not be listed ({reason}); "
                   "the configured forms were not checked", "warning")
