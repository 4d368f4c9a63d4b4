"""Salesforce field metadata: ``FieldDef``, the field types, and describe's field shape.

Split out of ``sf_schema``: one definition of a field (type, length, flags, picklist) that
describe, coercion, validation rules and SOQL all read, with the small constructors the
standard objects are written with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable


# -- fields ----------------------------------------------------------------------------

STRING_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "combobox"}
TYPES = STRING_TYPES | {"id", "reference", "boolean", "int", "double", "currency", "percent",
                        "date", "datetime"}
_TYPE_ALIASES = {"text": "string", "longtextarea": "textarea", "checkbox": "boolean",
                 "number": "double", "integer": "int", "long": "int"}
_SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
               "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
               "date": "xsd:date", "datetime": "xsd:dateTime"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    required: bool = False          # REQUIRED_FIELD_MISSING on create when absent
    default: Any = None             # applied on create when the field is absent
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    external_id: bool = False
    unique: bool = False
    custom: bool = False
    name_field: bool = False
    picklist_labels: tuple[str, ...] = ()   # parallel to picklist when labels differ (ISO codes)
    controller: str | None = None           # a dependent picklist's controlling field
    valid_for: tuple[str, ...] = ()         # parallel to picklist: base64 bitmaps over controller

    def describe(self) -> dict[str, Any]:
        """The field entry of a describe result, with the keys clients read."""
        is_string = self.type in STRING_TYPES
        return {
            "aggregatable": self.type not in ("textarea", "boolean"),
            "autoNumber": False,
            "byteLength": self.length * 3 if is_string or self.type in ("id", "reference") else 0,
            "calculated": False,
            "caseSensitive": False,
            "controllerName": self.controller,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultedOnCreate": self.default is not None or self.name in _DEFAULTED,
            "dependentPicklist": self.controller is not None,
            "digits": 9 if self.type == "int" else 0,
            "externalId": self.external_id,
            "filterable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent"),
            "idLookup": self.type == "id" or self.external_id or self.name in ("Email", "Name"),
            "label": self.label or _label(self.name),
            "length": self.length if is_string else 0,
            "name": self.name,
            "nameField": self.name_field,
            "nillable": self.nillable,
            "picklistValues": [
                {"active": True, "defaultValue": v == self.default,
                 "label": self.picklist_labels[i] if self.picklist_labels else v,
                 "validFor": self.valid_for[i] if self.valid_for else None,
                 "value": v} for i, v in enumerate(self.picklist)],
            "precision": 18 if self.type in ("double", "currency", "percent") else 0,
            "referenceTo": list(self.reference_to),
            "relationshipName": (self.name[:-2] if self.type == "reference" and
                                 self.name.endswith("Id") else None),
            "restrictedPicklist": self.restricted,
            "scale": 2 if self.type in ("currency", "percent") else (
                0 if self.type != "double" else 6),
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


_DEFAULTED = {"Id", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate",
              "LastModifiedById", "SystemModstamp", "IsDeleted"}


def _label(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base[:-2] if base.endswith("Id") and len(base) > 2 else base
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ").strip()


def _s(name: str, length: int, **kw: Any) -> FieldDef:
    return FieldDef(name, kw.pop("type", "string"), length=length, **kw)


def _ref(name: str, *to: str, **kw: Any) -> FieldDef:
    return FieldDef(name, "reference", length=18, reference_to=to, **kw)


def _ro(fd: FieldDef) -> FieldDef:
    return replace(fd, createable=False, updateable=False)


def _pick(name: str, values: Iterable[str], length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=length, picklist=tuple(values), **kw)


def _system(owner: bool = True, owner_to: tuple[str, ...] = ("User",),
            owner_label: str = "Owner ID") -> list[FieldDef]:
    out = [FieldDef("Id", "id", label="Record ID", length=18, nillable=False, createable=False,
                    updateable=False),
           FieldDef("IsDeleted", "boolean", label="Deleted", nillable=False, createable=False,
                    updateable=False),
           FieldDef("CreatedDate", "datetime", nillable=False, createable=False, updateable=False),
           _ro(_ref("CreatedById", "User", label="Created By ID", nillable=False)),
           FieldDef("LastModifiedDate", "datetime", nillable=False, createable=False,
                    updateable=False),
           _ro(_ref("LastModifiedById", "User", label="Last Modified By ID", nillable=False)),
           FieldDef("SystemModstamp", "datetime", label="System Modstamp", nillable=False,
                    createable=False, updateable=False)]
    if owner:
        out.append(_ref("OwnerId", *owner_to, label=owner_label, nillable=False))
    return out
