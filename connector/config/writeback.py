"""``[writeback]``: which HubSpot contact properties leadsync keeps up to date, and how.

```toml
[writeback]
create_contacts = false              # a person with no HubSpot contact is counted and skipped
recycled_statuses = ["Recycled"]     # Lead Status values that mean "back to marketing"
nurture_statuses = ["Open - Not Contacted"]   # besides [routing.stages] nurture

[writeback.properties]               # field = "hubspot_property_name", or false to switch it off
salesforce_id = "leadsync_salesforce_id"
owner = false
```

The section's presence switches the write-back on (``enabled = false`` turns it off while
keeping the settings). Every field defaults to its ``leadsync_*`` property; a renamed one
must be a HubSpot property's internal name (lower-case letters, digits, ``_``). Read with
the shared validators, so each mistake is a :class:`ConfigError` naming its key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connector.config import validate as v
from connector.core.writeback import DEFAULT_NAMES, FIELDS, StageStatuses, WritebackProperties
from connector.errors import ConfigError

KEYS = {"enabled", "create_contacts", "properties", "recycled_statuses", "nurture_statuses",
        "batch_size"}
MAX_BATCH = 100          # HubSpot's CRM v3 batch endpoints take at most 100 inputs a call
# HubSpot internal property names: lower-case, start with a letter (the properties API's rule
# for custom ones; default ones such as hs_lead_status follow it too).
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class WritebackSettings:
    enabled: bool = True
    create_contacts: bool = False
    properties: WritebackProperties = field(default_factory=WritebackProperties)
    recycled_statuses: tuple[str, ...] = ()
    nurture_statuses: tuple[str, ...] = ()
    batch_size: int = MAX_BATCH

    def statuses(self, sales_ready: str | None, nurture: str | None) -> StageStatuses:
        """The stage rule's statuses: ``[routing.stages]``'s two plus this section's lists."""
        extra = {nurture} if nurture else set()
        return StageStatuses(sales_ready=sales_ready,
                             nurture=frozenset({*self.nurture_statuses, *extra}),
                             recycled=frozenset(self.recycled_statuses))


def parse_writeback(raw: Any) -> WritebackSettings | None:
    """``[writeback]`` -> settings, or None when the section is absent or ``enabled = false``."""
    if raw is None:
        return None
    table = v.check_keys(raw, KEYS, "writeback")
    if not v.boolean(table.get("enabled", True), "writeback.enabled"):
        return None
    names = _properties(table.get("properties"))
    settings = WritebackSettings(
        create_contacts=v.boolean(table.get("create_contacts", False), "writeback.create_contacts"),
        properties=names,
        recycled_statuses=v.texts(table.get("recycled_statuses"), "writeback.recycled_statuses"),
        nurture_statuses=v.texts(table.get("nurture_statuses"), "writeback.nurture_statuses"),
        batch_size=v.integer(table.get("batch_size", MAX_BATCH), "writeback.batch_size", 1, MAX_BATCH),
    )
    clash = set(settings.recycled_statuses) & set(settings.nurture_statuses)
    if clash:
        raise ConfigError(f"{sorted(clash)[0]!r} is also a nurture status; a status names one stage",
                          key="writeback.recycled_statuses")
    return settings


def _properties(raw: Any) -> WritebackProperties:
    if raw is None:
        return WritebackProperties()
    table = v.check_keys(raw, set(FIELDS), "writeback.properties")
    names: dict[str, str | None] = {}
    for f in FIELDS:
        key = f"writeback.properties.{f}"
        value = table.get(f, DEFAULT_NAMES[f])
        if value is False:
            names[f] = None
        elif value is True:
            names[f] = DEFAULT_NAMES[f]
        elif isinstance(value, str) and PROPERTY_NAME.match(value.strip()):
            names[f] = value.strip()
        else:
            raise ConfigError("must be a HubSpot property's internal name (lower-case letters, "
                              f"digits and _, e.g. {DEFAULT_NAMES[f]!r}) or false to switch it off",
                              key=key)
    used = [n for n in names.values() if n is not None]
    for name in used:
        if used.count(name) > 1:
            field_names = [f for f in FIELDS if names[f] == name]
            raise ConfigError(f"{name!r} is named for both {field_names[0]} and {field_names[1]}",
                              key=f"writeback.properties.{field_names[1]}")
    return WritebackProperties(**names)
