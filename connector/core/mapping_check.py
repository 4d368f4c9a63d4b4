"""``leadsync mappings check``: a mapping held against the org's describe, line by line.

Pure: a :class:`FieldMapping` and a :data:`Schema` in, a list of :class:`Problem` out. What
it finds is what would otherwise surface as a record Salesforce rejects in the middle of a
sync (a field that does not exist, is read-only, a picklist value the org does not hold),
said where the admin fixes it: the file's line, the key, and what to write instead.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal, Sequence

from connector.core.normalise import SOBJECTS, STANDARD_LENGTHS, FieldMapping, FieldSpec
from connector.core.enrich.routing import Routing
from connector.core.enrich.tasks import task_key
from connector.core.mapping_rules import Problem, Protected, check_static
from connector.core.schema import FieldInfo, ObjectSchema, Schema
from connector.core.transforms import Target, address_picklist

Level = Literal["error", "warning"]
_VALUE_TRANSFORMS = {"country", "state", "map"}          # transforms that choose a value
_TEXT_ONLY = {"phone", "country", "state", "title", "lower", "upper"}
_WRITES = {"fill_blank": ("create", "update"), "overwrite": ("create", "update"),
           "on_create_only": ("create",), "never": ()}

__all__ = ["Problem", "Protected", "check_mapping", "check_org", "check_routing",
           "check_task_key", "has_errors"]


def check_mapping(mapping: FieldMapping, schema: Schema,
                  protected: Protected | None = None) -> list[Problem]:
    """Every problem of a mapping, the org-free rules' (``connector.core.mapping_rules``) and
    the describe's, sorted by line (errors before warnings): what ``mappings check`` says."""
    protected = protected or Protected()
    static = check_static(mapping, protected)
    held = {(p.line, p.where) for p in static if p.level == "error"}
    problems = [*static, *(p for p in check_org(mapping, schema) if (p.line, p.where) not in held)]
    return sorted(problems, key=lambda p: (p.line, p.level != "error", p.where))


def check_org(mapping: FieldMapping, schema: Schema) -> list[Problem]:
    """The problems only the org's describe can tell (a field missing, read-only, a picklist
    value it does not hold, a length): what a run holds the mapping against when it has read
    the describe anyway (``Engine._prepare``), sorted by line."""
    problems: list[Problem] = []
    for sobject in SOBJECTS:
        obj = schema.get(sobject)
        targets = mapping.targets(sobject)
        if obj is None:
            if targets:
                problems.append(Problem(targets[0][0].line, sobject,
                                        f"the org's describe has no {sobject}; fields mapped to it "
                                        "cannot be checked", "warning"))
            continue
        for spec, sf_field in targets:
            problems.extend(_check_target(spec, sobject, sf_field, obj))
    problems.extend(_check_defaults(mapping, schema.get("Lead")))
    problems.extend(_required_unfilled(mapping, schema.get("Lead"), "Lead"))
    problems.extend(_required_unfilled(mapping, schema.get("Contact"), "Contact"))
    return sorted(problems, key=lambda p: (p.line, p.level != "error", p.where))


def has_errors(problems: list[Problem]) -> bool:
    return any(p.level == "error" for p in problems)


# -- one mapped field --------------------------------------------------------------------

def _check_target(spec: FieldSpec, sobject: str, sf_field: str, obj: ObjectSchema) -> list[Problem]:
    where = f"fields.{spec.form_field}.{sobject.lower()} -> {sobject}.{sf_field}"

    def problem(message: str, level: Level = "error") -> Problem:
        return Problem(spec.line, where, message, level)

    if spec.rule == "never":
        return []          # switched off: the field need not even exist in this org
    info = obj.field(sf_field)
    if info is None:
        return [problem(f"{sobject} has no field {sf_field}{_suggest(sf_field, obj)}")]
    out = []
    if info.name != sf_field:
        out.append(problem(f"Salesforce spells it {info.name}", "warning"))
    not_writable = _writable(info, spec, sobject)
    if not_writable:
        return [*out, *(problem(m) for m in not_writable)]
    out.extend(problem(m, lvl) for m, lvl in _type_fit(info, spec))
    if info.is_text:
        out.extend(problem(m, lvl) for m, lvl in _picklist_fit(info, spec, sobject, obj))
        out.extend(problem(m, lvl) for m, lvl in _length_fit(info, spec, sobject))
    return out


def _writable(info: FieldInfo, spec: FieldSpec, sobject: str) -> list[str]:
    writes = _WRITES[spec.rule]
    if info.name.lower() == "email":
        writes = ("create",)                      # the identity: never updated
    out = []
    if "create" in writes and not info.createable:
        out.append(f"{sobject}.{info.name} is read-only (not createable); remove it or set "
                   'rule = "never"')
    elif "update" in writes and not info.updateable:
        out.append(f"{sobject}.{info.name} cannot be updated; use rule = \"on_create_only\"")
    return out


def _type_fit(info: FieldInfo, spec: FieldSpec) -> list[tuple[str, Level]]:
    """leadsync writes text and numbers: a number field takes numbers, text takes text."""
    if info.is_number:
        text_only = sorted(set(spec.transforms) & _TEXT_ONLY)
        out: list[tuple[str, Level]] = []
        if text_only:
            out.append((f"a number field ({info.type}); transforms {text_only} make text, "
                        "remove them", "error"))
        bad = [v for v in spec.value_map.values() if v and not _is_number(v)]
        if bad:
            out.append((f"a number field ({info.type}); map values {bad} are not numbers", "error"))
        return out
    if info.type == "boolean":
        values = set(spec.value_map.values())
        if not values or not values <= {"true", "false", ""}:
            return [('a checkbox; map the form\'s answers to true/false, e.g. map = { yes = "true", '
                     '"*" = "false" }', "error")]
        return []
    if not info.is_text:
        return [(f"leadsync writes text or numbers; a {info.type} field cannot take a form value",
                 "error")]
    return []


def _picklist_fit(info: FieldInfo, spec: FieldSpec, sobject: str,
                  obj: ObjectSchema) -> list[tuple[str, Level]]:
    picklist, by_label = address_picklist(Target(sobject, info.name, info, obj))
    if picklist is None:
        return []
    restricted = picklist.restricted or by_label
    kind = "restricted picklist" if restricted else "picklist"
    if by_label:
        kind += f" (State and Country/Territory Picklists: only {picklist.name}'s names)"
    allowed = {(v.label if by_label else v.value).casefold() for v in picklist.active_values()}
    out: list[tuple[str, Level]] = []
    for key, value in spec.value_map.items():
        if value and value.casefold() not in allowed:
            out.append((f"map value {value!r} (for {key!r}) is not in the {kind}; use one of "
                        f"{_sample(picklist, by_label)}", "error"))
    chooses = set(spec.transforms) & _VALUE_TRANSFORMS
    if restricted and not chooses:
        hint = _transform_hint(info.name)
        out.append((f"{kind}; add {hint}", "error"))
    elif restricted and chooses == {"map"} and "*" not in spec.value_map:
        out.append((f'{kind}: answers the map does not list are dropped; add "*" = "<value>" to '
                    "catch them", "warning"))
    return out


def _transform_hint(name: str) -> str:
    if re.search(r"Country(Code)?$", name):
        return 'transforms = ["country"]'
    if re.search(r"State(Code)?$", name):
        return 'transforms = ["state"]'
    return 'transforms = ["map"] with map = { "<form answer>" = "<picklist value>" }'


def _length_fit(info: FieldInfo, spec: FieldSpec, sobject: str) -> list[tuple[str, Level]]:
    """Values longer than the field are cut; say so where the org made a field short."""
    if not info.length or "truncate" in spec.transforms or info.is_picklist:
        return []
    out: list[tuple[str, Level]] = []
    long_values = [v for v in spec.value_map.values() if len(v) > info.length]
    if long_values:
        out.append((f"map values longer than the field's {info.length} characters: {long_values}",
                    "error"))
    standard = STANDARD_LENGTHS.get(sobject, {}).get(info.name)
    custom_short = info.name.endswith("__c") and info.length < 255
    if (standard and info.length < standard) or custom_short:
        out.append((f"{sobject}.{info.name} holds {info.length} characters; longer answers are cut. "
                    'Add "truncate" to transforms to say that is intended', "warning"))
    return out


# -- [defaults] --------------------------------------------------------------------------

def _check_defaults(mapping: FieldMapping, lead: ObjectSchema | None) -> list[Problem]:
    if lead is None:
        return []
    out = []
    for name, value in mapping.defaults.items():
        line = mapping.default_lines.get(name, 0)
        where = f"defaults.{name} -> Lead.{name}"
        info = lead.field(name)
        if info is None:
            out.append(Problem(line, where, f"Lead has no field {name}{_suggest(name, lead)}"))
            continue
        if not info.createable:
            out.append(Problem(line, where, f"Lead.{info.name} is read-only (not createable); remove it"))
            continue
        picklist, by_label = address_picklist(Target("Lead", info.name, info, lead))
        if picklist is not None:
            allowed = {(v.label if by_label else v.value).casefold() for v in picklist.active_values()}
            if value.casefold() not in allowed:
                restricted = picklist.restricted or by_label
                out.append(Problem(line, where, f"{value!r} is not a value of the "
                                   f"{'restricted ' if restricted else ''}picklist; use one of "
                                   f"{_sample(picklist, by_label)}", "error" if restricted else "warning"))
        elif info.is_number and not _is_number(value):
            out.append(Problem(line, where, f"{value!r} is not a number ({info.type} field)"))
        elif info.length and info.is_text and len(value) > info.length:
            out.append(Problem(line, where, f"longer than the field's {info.length} characters"))
    return out


def _required_unfilled(mapping: FieldMapping, obj: ObjectSchema | None, sobject: str
                       ) -> list[Problem]:
    """Custom fields the org requires on a new Lead (or Contact) that nothing leadsync writes
    would fill.

    A field that is createable, not nillable and not defaulted on create must be in every
    new record, or Salesforce refuses it (``REQUIRED_FIELD_MISSING``), every new record of
    the sync parked alike. Standard required fields (LastName, Company) leadsync fills itself;
    checkboxes are never nillable but default to false, so they are not asked for. Contacts
    are created for new people at a matched Account (``[accounts] new_person = "contact"``);
    ``[defaults]`` are for new Leads only, so a Contact's field can only be mapped.
    """
    if obj is None:
        return []
    filled = {name.lower() for name in mapping.defaults} if sobject == "Lead" else set()
    filled |= {sf_field.lower() for spec, sf_field in mapping.targets(sobject) if spec.rule != "never"}
    fix = ('map a form field to it or add {name} = "<value>" to [defaults]' if sobject == "Lead"
           else "map a form field to it (contact = ...), or keep [accounts] new_person = \"lead\"")
    where = "nor in [defaults]" if sobject == "Lead" else "by the mapping"
    out = []
    for info in obj.fields.values():
        if (info.name.endswith("__c") and info.createable and not info.nillable
                and not info.defaulted_on_create and info.type != "boolean"
                and info.name.lower() not in filled):
            out.append(Problem(0, f"{sobject}.{info.name}", "required by the org (not nillable, no "
                               f"default on create) but neither mapped {where}: every "
                               f"new {sobject} would be refused with REQUIRED_FIELD_MISSING; "
                               + fix.format(name=info.name), "warning"))
    return out


# -- the config's [routing] against the Lead --------------------------------------------

def check_routing(routing: Routing, lead: ObjectSchema | None) -> list[Problem]:
    """The stages' Lead Status values and date field against the org's Lead.

    A status the org's Lead Status picklist does not hold (an admin renamed "Working -
    Contacted") would fail every sales-ready fill's update mid-sync; the date field must be
    a writable date. Line 0: these live in the config file, not the mapping.
    """
    stages = routing.stages
    if stages is None or lead is None:
        return []
    out = check_lead_statuses([(f"routing.stages.{key}", value) for key, value in
                               (("sales_ready", stages.sales_ready), ("nurture", stages.nurture))],
                              lead)
    if stages.date_field:
        where = f"routing.stages.date_field -> Lead.{stages.date_field}"
        info = lead.field(stages.date_field)
        if info is None:
            out.append(Problem(0, where, f"Lead has no field {stages.date_field}"
                               f"{_suggest(stages.date_field, lead)}"))
        elif info.type not in ("date", "datetime"):
            out.append(Problem(0, where, f"Lead.{info.name} is a {info.type} field, not a date"))
        elif not (info.createable and info.updateable):
            out.append(Problem(0, where, f"Lead.{info.name} is read-only; pick a writable date field"))
        elif info.type != stages.date_type:
            out.append(Problem(0, where, f"Lead.{info.name} is a {info.type} field; set "
                               f'date_type = "{info.type}"'))
    return out


def check_lead_statuses(values: Sequence[tuple[str, str | None]],
                        lead: ObjectSchema | None) -> list[Problem]:
    """Each (config key, Lead Status value) against the org's Lead Status picklist: one the
    picklist lacks would fail every update that sets it ([routing.stages], [lifecycle]'s
    recycled and nurture statuses)."""
    if lead is None:
        return []
    out: list[Problem] = []
    status = lead.field("Status")
    for key, value in values:
        if not value:
            continue
        where = f"{key} -> Lead.Status"
        if status is None or not status.picklist:
            out.append(Problem(0, where, "the org's describe shows no Lead Status picklist; "
                               "cannot check the value", "warning"))
            continue
        active = {v.value: v for v in status.active_values()}
        if value in active:
            continue
        same = [v for v in active if v.casefold() == value.casefold()]
        if same:
            out.append(Problem(0, where, f"{value!r} differs in case from the picklist's "
                               f"{same[0]!r}; write it as the org does", "warning"))
        elif any(v.value == value for v in status.picklist):
            out.append(Problem(0, where, f"{value!r} is an inactive Lead Status; use one of "
                               f"{_sample(status, False)}"))
        else:
            out.append(Problem(0, where, f"{value!r} is not a Lead Status in this org; use one of "
                               f"{_sample(status, False)}"))
    return out


def check_task_key(routing: Routing, task: ObjectSchema | None,
                   configured: str | None = None) -> list[Problem]:
    """Whether the follow-up Tasks of ``[routing.tasks]`` can be written once.

    Without the response-id field on Task a reply lost on a Task write (or a run killed
    after it) can leave the rep a second Task, so its absence is a warning naming what to
    add; a plain field works (replays look it up) but is not indexed unless Unique.
    """
    if routing.tasks is None:
        return []
    key = task_key(task, configured)
    name = key.field or configured or "Leadsync_Response_Id__c"
    where = f"routing.tasks -> Task.{name}"
    add = (f"add Text(255) {name.removesuffix('__c')} to Activity (Task) with External ID "
           "and Unique, editable by the integration user")
    if key.field is None:
        return [Problem(0, where, f"{key.why}: a reply lost on a Task write can leave a second "
                                  f"Task; {add}", "warning")]
    info = task.field(key.field) if task is not None else None
    if not (key.upsert or key.lookup):
        return [Problem(0, where, f"{key.why}: replays cannot find their Task; {add}", "warning")]
    if key.lookup and info is not None and not info.unique:
        return [Problem(0, where, "not an External ID and not Unique, so not indexed: a replay's "
                                  "lookup scans the org's Tasks; check External ID (or Unique)",
                        "warning")]
    return []


# -- helpers -----------------------------------------------------------------------------

def _suggest(name: str, obj: ObjectSchema) -> str:
    names = [f.name for f in obj.fields.values()]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def _sample(picklist: FieldInfo, by_label: bool, most: int = 6) -> str:
    values = [v.label if by_label else v.value for v in picklist.active_values()]
    shown = ", ".join(repr(v) for v in values[:most])
    return shown + (f" ... ({len(values)} in all)" if len(values) > most else "")


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
