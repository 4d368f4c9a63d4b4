"""The org's describe as plain data: which fields exist, their types, lengths and picklists.

Read from the JSON of ``GET sobjects/{X}/describe`` so that the mapping's transforms and
``mappings check`` work on the org's own truth (a field an admin shortened, a picklist
with the org's values, State and Country/Territory picklists) instead of on the standard
object reference. Pure: JSON in, frozen dataclasses out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Mapping

PICKLIST_TYPES = frozenset({"picklist", "multipicklist", "combobox"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "encryptedstring"}) | PICKLIST_TYPES


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    active: bool = True
    valid_for: str | None = None     # base64 validFor bitmap for dependent picklists


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    picklist: tuple[PicklistValue, ...] = ()
    restricted: bool = False
    controller: str | None = None    # the controlling field of a dependent picklist
    external_id: bool = False        # usable as the key of an upsert
    unique: bool = False
    filterable: bool = True          # usable in a SOQL WHERE (long text areas are not)
    defaulted_on_create: bool = False  # Salesforce fills it on create when it is not sent

    @property
    def is_picklist(self) -> bool:
        return self.type in PICKLIST_TYPES

    @property
    def is_number(self) -> bool:
        return self.type in NUMBER_TYPES

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES

    def active_values(self) -> tuple[PicklistValue, ...]:
        """The values Salesforce accepts on write (inactive ones are rejected)."""
        return tuple(v for v in self.picklist if v.active)


@dataclass(frozen=True)
class ObjectSchema:
    name: str
    fields: Mapping[str, FieldInfo] = field(default_factory=dict)   # keyed by lower-case name

    def field(self, name: str) -> FieldInfo | None:
        """The field by API name, case-insensitively (Salesforce treats names so)."""
        return self.fields.get(name.lower())


Schema = Mapping[str, ObjectSchema]     # "Lead", "Contact"


def schema_from_describe(describe: Mapping[str, Any]) -> ObjectSchema:
    """An :class:`ObjectSchema` from the JSON of ``GET sobjects/X/describe``."""
    fields = {}
    for raw in describe.get("fields") or ():
        info = _field_from_describe(raw)
        fields[info.name.lower()] = info
    return ObjectSchema(str(describe.get("name") or ""), fields)


def schema_from_describes(describes: Mapping[str, Mapping[str, Any]]) -> dict[str, ObjectSchema]:
    """``SalesforceClient.describe(...)`` output -> a :data:`Schema` keyed by object name."""
    out: dict[str, ObjectSchema] = {}
    for name, describe in describes.items():
        obj = schema_from_describe(describe)
        out[name] = obj if obj.name else ObjectSchema(name, obj.fields)
    return out


def _field_from_describe(raw: Mapping[str, Any]) -> FieldInfo:
    picklist = tuple(
        PicklistValue(str(v.get("value") or ""), str(v.get("label") or v.get("value") or ""),
                      bool(v.get("active", True)), v.get("validFor") or None)
        for v in raw.get("picklistValues") or ())
    return FieldInfo(
        name=str(raw.get("name") or ""), type=str(raw.get("type") or "string").lower(),
        length=int(raw.get("length") or 0), createable=bool(raw.get("createable", True)),
        updateable=bool(raw.get("updateable", True)), nillable=bool(raw.get("nillable", True)),
        picklist=picklist, restricted=bool(raw.get("restrictedPicklist", False)),
        controller=raw.get("controllerName") or None,
        external_id=bool(raw.get("externalId", False)), unique=bool(raw.get("unique", False)),
        filterable=bool(raw.get("filterable", True)),
        defaulted_on_create=bool(raw.get("defaultedOnCreate", False)))


def valid_for(value: PicklistValue, controller_index: int) -> bool:
    """Whether a dependent picklist value is allowed under the controlling value at an index.

    ``validFor`` is base64; after decoding, bit *i* (most significant bit first in each
    byte) stands for the controlling picklist's *i*-th value. A value without a bitmap is
    not dependent, so it is allowed everywhere.
    """
    if value.valid_for is None:
        return True
    try:
        bits = base64.b64decode(value.valid_for)
    except (ValueError, TypeError):
        return False
    byte, bit = divmod(controller_index, 8)
    return byte < len(bits) and bool(bits[byte] & (0x80 >> bit))


def dependent_values(obj: ObjectSchema, dependent: FieldInfo,
                     controlling_value: str) -> tuple[PicklistValue, ...]:
    """The active values of a dependent picklist allowed under one controlling value.

    For ``StateCode`` under ``CountryCode = "AU"`` this is Australia's states: it is how
    "WA" is told apart as Washington or Western Australia.
    """
    controller = obj.field(dependent.controller) if dependent.controller else None
    if controller is None:
        return dependent.active_values()
    index = next((i for i, v in enumerate(controller.picklist)
                  if v.value.lower() == controlling_value.lower()), None)
    if index is None:
        return ()
    return tuple(v for v in dependent.active_values() if valid_for(v, index))
