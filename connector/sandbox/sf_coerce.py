"""Request values to stored values: field names, types and the errors Salesforce gives.

Split out of ``sf_store``: turning a REST body into canonical field names and typed values
(strings, ids, numbers, dates, picklists) is a job of its own, with its own long list of
wire-exact error messages, and needs nothing from the store but the org's objects.
"""

from __future__ import annotations

import re
from datetime import timezone
from typing import Any, Mapping

from .sf_errors import SfError
from .sf_records import WriteOptions, format_datetime, parse_datetime
from .sf_schema import PREFIXES, STRING_TYPES, FieldDef, ObjectDef, to_id18

__all__ = ["field_label", "coerce", "input_values", "parse_error"]

_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def field_label(fd: FieldDef) -> str:
    """The field's label as error messages name it."""
    return fd.label or fd.describe()["label"]


def coerce(objects: Mapping[str, ObjectDef], fd: FieldDef, value: Any) -> Any:
    """A request value as the field stores it; SfError as Salesforce rejects it."""
    if value is None:
        return False if fd.type == "boolean" else None
    t = fd.type
    if t in STRING_TYPES:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise parse_error("string", value)
        text = value if isinstance(value, str) else str(value)
        if text == "":
            return None  # Salesforce stores empty strings as null
        if fd.length and len(text) > fd.length:
            raise SfError("STRING_TOO_LONG", f"{field_label(fd)}: data value too large: "
                          f"{text} (max length={fd.length})", [fd.name])
        if t == "email" and not _EMAIL_RE.match(text):
            raise SfError("INVALID_EMAIL_ADDRESS",
                          f"{field_label(fd)}: invalid email address: {text}", [fd.name])
        if t == "picklist" and fd.restricted and fd.picklist:
            match = next((p for p in fd.picklist if p.lower() == text.lower()), None)
            if match is None:
                raise SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                              f"{field_label(fd)}: bad value for restricted picklist field: "
                              f"{text}", [fd.name])
            return match
        return text
    if t in ("id", "reference"):
        if not isinstance(value, str):
            raise parse_error("id", value)
        if value == "":
            return None
        rid = to_id18(value)
        if rid is None:
            raise SfError("MALFORMED_ID", f"{field_label(fd)}: id value of incorrect type: "
                          f"{value}", [fd.name])
        if t == "reference" and fd.reference_to and all(
                r in objects for r in fd.reference_to):
            if PREFIXES.get(rid[:3]) not in fd.reference_to:
                raise SfError("FIELD_INTEGRITY_EXCEPTION", f"{field_label(fd)}: id value of "
                              f"incorrect type: {value}", [fd.name])
        return rid
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise parse_error("boolean", value)
    if t == "int":
        if isinstance(value, bool):
            raise parse_error("int", value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise parse_error("int", value)
    if t in ("double", "currency", "percent"):
        if isinstance(value, bool):
            raise parse_error("double", value)
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise parse_error("double", value) from None
    if t == "date":
        dt = parse_datetime(value) if isinstance(value, str) else None
        if dt is None:
            raise parse_error("date", value)
        return dt.date().isoformat() if "T" not in value else dt.astimezone(
            timezone.utc).date().isoformat()
    if t == "datetime":
        dt = parse_datetime(value) if isinstance(value, str) else None
        if dt is None:
            raise parse_error("datetime", value)
        return format_datetime(dt)
    return value


def input_values(objects: Mapping[str, ObjectDef], obj: ObjectDef, fields: Any, *,
                 creating: bool, opts: WriteOptions) -> dict[str, Any]:
    """Map request fields to canonical names and coerced values; reject what SF rejects."""
    if not isinstance(fields, Mapping):
        raise SfError("JSON_PARSER_ERROR", "Cannot deserialize instance of "
                      f"{obj.name} from {type(fields).__name__} value", [])
    out: dict[str, Any] = {}
    locked: list[str] = []
    for key, value in fields.items():
        if key == "attributes":
            continue
        fd = obj.field(key)
        if fd is None:
            raise SfError("INVALID_FIELD",
                          f"No such column '{key}' on sobject of type {obj.name}")
        if not opts.trusted and not (fd.createable if creating else fd.updateable):
            locked.append(fd.name)
            continue
        out[fd.name] = value
    if locked:
        if creating and locked == ["Id"]:
            raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE",
                          "cannot specify Id in an insert call", ["Id"])
        raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: "
                      f"{', '.join(locked)}. Please check the security settings of this "
                      "field and verify that it is read/write for your profile or "
                      "permission set.", locked)
    return {name: coerce(objects, obj.fields[name], v) for name, v in out.items()}


def parse_error(kind: str, value: Any) -> SfError:
    """The JSON_PARSER_ERROR Salesforce gives for a value of the wrong JSON type."""
    token = "VALUE_STRING" if isinstance(value, str) else (
        "VALUE_TRUE" if value is True else "VALUE_FALSE" if value is False else
        "START_OBJECT" if isinstance(value, dict) else "START_ARRAY" if isinstance(value, list)
        else "VALUE_NUMBER")
    return SfError("JSON_PARSER_ERROR", f"Cannot deserialize instance of {kind} from {token} "
                   f"value {value} or request may be missing a required field", [])
