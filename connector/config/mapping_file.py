"""A mapping file (``mappings/*.toml``) -> :class:`FieldMapping`; a mistake names its line.

Its format::

    [defaults]                  # written on a new Lead only
    LeadSource = "Web"

    [fields.phone]              # the HubSpot form field's internal name
    lead = "Phone"              # Lead field (optional)
    contact = "Phone"           # Contact field (optional)
    rule = "overwrite"          # fill_blank (default) | overwrite | on_create_only | never
    transforms = ["phone"]      # applied in order; see connector/core/transforms.py
    map = { hot = "Hot" }       # for the "map" transform
    phone_region = "GB"         # for the "phone" transform: this field's default region

    [options]
    phone_region = "US"         # the "phone" transform's default region for every field
                                # (numbers written without +country code; default "US")

The first format (``[lead] form_field = "LeadField"``) still loads: each entry is a
Lead-only ``fill_blank`` field.

The mapping itself (what a form value becomes, which rule applies) is pure and lives in
``connector.core.normalise``; this module only reads and checks the file, so a typo fails
at start-up with a line number instead of silently dropping a field mid-run.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from connector.core.ids import is_api_name
from connector.core.mapping_check import check_org, check_routing
from connector.core.mapping_rules import Protected, check_static, errors
from connector.core.normalise import RULES, FieldMapping, FieldSpec
from connector.core.transforms import TRANSFORMS
from connector.errors import ConfigError

if TYPE_CHECKING:
    from connector.config.settings import Settings
    from connector.core.enrich.routing import Routing
    from connector.core.schema import Schema

_FIELD_KEYS = {"lead", "contact", "rule", "transforms", "map", "phone_region"}
_OPTION_KEYS = {"phone_region"}


class MappingError(ConfigError):
    """A mapping file is wrong; says which file, line and key, and what would be right."""

    def __init__(self, message: str, *, key: str, line: int = 0, source: str = "") -> None:
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}" if where else message, key=key)
        self.line = line


def load_mapping(path: str | Path) -> FieldMapping:
    """Read a mapping file (either format); a mistake is a MappingError naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"mapping file not found: {path}", key="sync.mapping") from None
    return parse_mapping(text, str(path))


def load_configured_mapping(settings: "Settings") -> FieldMapping:
    """The configuration's mapping, held against the rules that need no org.

    Every command that runs the engine loads the mapping here, so a form field mapped onto
    what leadsync or Salesforce alone writes (``OwnerId``, Lead ``Status``, the exactly-once
    key, ``Id``...; see ``connector.core.mapping_rules``) stops the command before any call,
    as ``leadsync mappings check`` reports it, instead of writing visitors' answers there.
    """
    mapping = load_mapping(settings.mapping_path())
    refuse_protected(mapping, protected_of(settings))
    return mapping


def protected_of(settings: "Settings") -> Protected:
    """The protected fields as this configuration names them (its key field, its stages)."""
    return Protected.of(settings.salesforce.lead_external_id_field,
                        stages=settings.routing.stages is not None)


def refuse_protected(mapping: FieldMapping, protected: Protected) -> None:
    """A MappingError naming every line that writes a protected field; nothing when none."""
    found = errors(check_static(mapping, protected))
    if found:
        first = found[0]
        more = "".join(f"; line {p.line}: {p.where}: {p.message}" for p in found[1:])
        raise MappingError(f"{first.where}: {first.message}{more}", key=first.where.split(" ")[0],
                           line=first.line, source=mapping.source)


def refuse_against_org(mapping: FieldMapping, schema: "Schema", routing: "Routing",
                       config_source: str | None) -> None:
    """A MappingError naming every error ``mappings check`` finds with the org's describe in
    the mapping (by its lines) and in ``[routing.stages]`` (by the configuration file)."""
    found = errors(check_org(mapping, schema))
    stages = errors(check_routing(routing, schema.get("Lead")))
    if not (found or stages):
        return
    said = "; ".join([*(f"line {p.line}: {p.where}: {p.message}" for p in found),
                      *(f"{config_source or 'the configuration'}: {p.where}: {p.message}"
                        for p in stages)])
    first = (found or stages)[0]
    raise MappingError(f"the org refuses what the mapping writes (`leadsync mappings check` lists "
                       f"it): {said}", key=first.where.split(" ")[0], line=first.line,
                       source=mapping.source if found else "")


def parse_mapping(text: str, source: str = "<text>") -> FieldMapping:
    """The mapping in a TOML text; pure, so tests need no file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", key="sync.mapping") from None
    lines = _key_lines(text)
    unknown = sorted(set(data) - {"lead", "fields", "defaults", "options"})
    if unknown:
        raise MappingError(f"unknown section(s) {unknown}; expected [fields.<form field>], "
                           "[defaults] and [options]",
                           key=unknown[0], line=lines.get((unknown[0],), 0), source=source)
    if "lead" in data and "fields" in data:
        raise MappingError("use either [lead] (the first format) or [fields.<form field>], not both",
                           key="lead", line=lines.get(("lead",), 0), source=source)
    region = _options(data.get("options"), lines, source)
    if "lead" in data:
        specs = _old_format(data["lead"], lines, source)
    else:
        specs = tuple(_field_spec(name, raw, lines, source=source, region=region)
                      for name, raw in (data.get("fields") or {}).items())
    defaults = _defaults(data.get("defaults") or {}, lines, source)
    mapping = FieldMapping(specs, defaults, source,
                           {k: lines.get(("defaults", k), 0) for k in defaults})
    _check_form_fields(mapping, source)
    try:
        mapping.email_field  # noqa: B018 - validates that Email is mapped
    except ConfigError:
        raise MappingError('no form field is mapped to Email; add [fields.email] lead = "Email"',
                           key="fields.email", source=source) from None
    return mapping


def _old_format(lead: Any, lines: Mapping[tuple[str, ...], int], source: str) -> tuple[FieldSpec, ...]:
    if not isinstance(lead, dict):
        raise MappingError("[lead] must be a table", key="lead", source=source)
    specs = []
    for name, target in lead.items():
        line = lines.get(("lead", name), 0)
        if not isinstance(target, str) or not is_api_name(target):
            raise MappingError(f"[lead] {name} must name a Salesforce field", key=f"lead.{name}",
                               line=line, source=source)
        specs.append(FieldSpec(name.lower(), lead=target, line=line))
    return tuple(specs)


def _options(raw: Any, lines: Mapping[tuple[str, ...], int], source: str) -> str | None:
    """``[options]``: settings for the whole file (today the phone transform's region)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MappingError("[options] must be a table", key="options",
                           line=lines.get(("options",), 0), source=source)
    for key in raw:
        if key not in _OPTION_KEYS:
            raise MappingError(f"unknown key {key!r}; expected {sorted(_OPTION_KEYS)}",
                               key=f"options.{key}", line=lines.get(("options", key), 0),
                               source=source)
    error = _region_error(raw.get("phone_region"))
    if error:
        raise MappingError(error, key="options.phone_region",
                           line=lines.get(("options", "phone_region"), 0), source=source)
    return raw["phone_region"].upper() if raw.get("phone_region") else None


def _region_error(value: Any) -> str | None:
    """Why a phone region is not one libphonenumber knows (None when it is, or is absent)."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}", value):
        import phonenumbers    # only a mapping that names a region pays for the import

        if value.upper() in phonenumbers.SUPPORTED_REGIONS:
            return None
    return f"not a phone region: {value!r}; use a two-letter ISO country code such as \"US\" or \"GB\""


def _field_spec(name: str, raw: Any, lines: Mapping[tuple[str, ...], int], *, source: str,
                region: str | None = None) -> FieldSpec:
    key = f"fields.{name}"
    line = lines.get(("fields", name), 0)

    def fail(message: str, sub: str | None = None) -> MappingError:
        at = lines.get(("fields", name, sub), line) if sub else line
        return MappingError(message, key=f"{key}.{sub}" if sub else key, line=at, source=source)

    if not isinstance(raw, dict):
        raise fail('must be a table, e.g. [fields.%s] lead = "FieldName"' % name)
    unknown = sorted(set(raw) - _FIELD_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {unknown}; expected {sorted(_FIELD_KEYS)}", unknown[0])
    targets = {}
    for sobject in ("lead", "contact"):
        value = raw.get(sobject)
        if value is not None and (not isinstance(value, str) or not is_api_name(value)):
            raise fail(f"must be a Salesforce field's API name, not {value!r}", sobject)
        targets[sobject] = value
    if not targets["lead"] and not targets["contact"]:
        raise fail('names no Salesforce field; add lead = "..." and/or contact = "..."')
    rule = raw.get("rule", "fill_blank")
    if rule not in RULES:
        raise fail(f"unknown rule {rule!r}; use one of {', '.join(RULES)}", "rule")
    transforms = _transforms(raw, fail)
    value_map = _value_map(raw.get("map"), fail)
    if value_map and "map" not in transforms:
        transforms = (*transforms, "map")     # a map given is a map meant
    if "map" in transforms and not value_map:
        raise fail('the "map" transform needs a map, e.g. map = { hot = "Hot" }', "transforms")
    region_error = _region_error(raw.get("phone_region"))
    if region_error:
        raise fail(region_error, "phone_region")
    if raw.get("phone_region"):
        region = raw["phone_region"].upper()
    return FieldSpec(name.lower(), targets["lead"], targets["contact"], rule, transforms, value_map,
                     line, region)


def _transforms(raw: Mapping[str, Any], fail: Any) -> tuple[str, ...]:
    value = raw.get("transforms", [])
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fail('must be a list of names, e.g. transforms = ["trim", "title"]', "transforms")
    for n in names:
        if n not in TRANSFORMS:
            raise fail(f"unknown transform {n!r}; use {', '.join(TRANSFORMS)}", "transforms")
    return tuple(names)


def _value_map(raw: Any, fail: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise fail('must be a table, e.g. map = { hot = "Hot", "*" = "Cold" }', "map")
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, (str, int, float)):
            raise fail(f"map value for {key!r} must be text or a number", "map")
        out[str(key)] = str(value)
    return out


def _defaults(raw: Any, lines: Mapping[tuple[str, ...], int], source: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise MappingError("[defaults] must be a table", key="defaults", source=source)
    out = {}
    for name, value in raw.items():
        if not is_api_name(name) or isinstance(value, (dict, list)):
            raise MappingError(f"[defaults] {name} must be a Lead field = a value", key=f"defaults.{name}",
                               line=lines.get(("defaults", name), 0), source=source)
        out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def _check_form_fields(mapping: FieldMapping, source: str) -> None:
    """Two entries for one form field (``Email`` and ``email``) are one field spelled twice."""
    seen: dict[str, FieldSpec] = {}
    for spec in mapping.fields:
        if spec.form_field in seen:
            raise MappingError(f"form field {spec.form_field!r} is mapped twice (also on line "
                               f"{seen[spec.form_field].line})", key=f"fields.{spec.form_field}",
                               line=spec.line, source=source)
        seen[spec.form_field] = spec


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|$)""")


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """(section..., key) -> the line it is on, so errors and checks can say "line 12".

    tomllib keeps no positions; tables, their keys and inline tables' keys at the start of
    a line are all a mapping file uses, so a line scan finds them.
    """
    out: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            section = tuple(_unquote(p) for p in _PART.findall(header.group(1)))
            out.setdefault(section, number)
            continue
        key = _KEY.match(line)
        if key:
            out.setdefault((*section, _unquote(key.group(1))), number)
    return out


def _unquote(part: str) -> str:
    return part[1:-1] if part[:1] in "\"'" and part[-1:] == part[:1] else part
