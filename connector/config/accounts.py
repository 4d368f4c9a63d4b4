"""The ``[accounts]`` table -> :class:`AccountMatching`; every mistake named by its key.

Lead-to-account matching itself is pure and lives in ``connector.core.accounts``; this is
only the reading of what the admin wrote, so a typo fails at start-up, before any call.
"""

from __future__ import annotations

from typing import Any, Mapping

from connector.config import validate as v
from connector.core.accounts import NEW_PERSON_CHOICES, AccountMatching
from connector.core.domains import normalise_domain
from connector.core.ids import is_api_name
from connector.errors import ConfigError

_KEYS = ("enabled", "by_company", "new_person", "lead_field", "free_mail_extra",
         "ignore_domains")


def parse_account_matching(table: Mapping[str, Any] | None) -> AccountMatching:
    """The ``[accounts]`` table of leadsync's TOML -> :class:`AccountMatching`.

    No table means matching is off. A table that is present turns it on unless it says
    ``enabled = false``: writing ``[accounts]`` and then finding nothing matched because a
    second switch was left off would be a silent surprise. Every mistake names its key.
    """
    if table is None:
        return AccountMatching()
    v.check_keys(table, _KEYS, "accounts")
    return AccountMatching(
        enabled=_bool(table.get("enabled", True), "accounts.enabled"),
        by_company=_bool(table.get("by_company", False), "accounts.by_company"),
        new_person=_new_person(table.get("new_person", "lead")),
        lead_field=_lead_field(table.get("lead_field")),
        free_mail_extra=_domain_list(table.get("free_mail_extra", []),
                                     "accounts.free_mail_extra"),
        ignore_domains=_domain_list(table.get("ignore_domains", []), "accounts.ignore_domains"),
    )


_bool = v.boolean   # the shared validator (connector.config.validate)


def _new_person(value: Any) -> str:
    return v.choice(value, "accounts.new_person", NEW_PERSON_CHOICES)


def _lead_field(value: Any) -> str | None:
    """A Lead field's API name; whether it exists is for ``mappings check`` (describe)."""
    if value is None:
        return None
    if not isinstance(value, str) or not is_api_name(value.strip()):
        raise ConfigError("must be the API name of a Lead field, e.g. Matched_Account__c",
                          key="accounts.lead_field")
    return value.strip()


def _domain_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError('must be a list of domains, e.g. ["example.com"]', key=key)
    out: list[str] = []
    for i, item in enumerate(value):
        domain = normalise_domain(item) if isinstance(item, str) else None
        if domain is None:
            raise ConfigError(f"not a domain: {item!r}", key=f"{key}[{i}]")
        if domain not in out:
            out.append(domain)
    return tuple(out)
