"""``mappings check`` for ``[scoring]``: its fields held against the org's describe. (pure)

A score written to a field the org lacks, or cannot hold, fails every scored response's
write mid-sync; so the score fields must exist on the objects they are written to, be
writable, numeric (or text long enough for a score), the date field a Date, the reasons
field text of at least the reasons' length. Fit rules naming a Salesforce field that
neither Lead nor Contact has would never match: a warning. Patterns are compiled when the
section is read (a ConfigError naming the rule), so a check never meets a broken one.

And ``[routing] score_field = "hubspotscore"``: HubSpot's legacy score stopped updating on
31 August 2025, so it reads a frozen value; ``[scoring]`` computes one that is current.
"""

from __future__ import annotations

from connector.core.enrich.routing import Routing
from connector.core.enrich.scoring import EMAIL_DOMAIN, EMAIL_KIND, REASONS_MAX, Scoring
from connector.core.mapping_rules import Problem
from connector.core.schema import ObjectSchema, Schema

SCORE_TEXT_MIN = 6          # a text score field holds "-100.5" at least
FROZEN_SCORES = ("hubspotscore",)


def check_scoring(scoring: Scoring | None, routing: Routing, schema: Schema) -> list[Problem]:
    out: list[Problem] = []
    if routing.score_field and routing.score_field.lower() in FROZEN_SCORES:
        out.append(Problem(0, f"routing.score_field = {routing.score_field!r}",
                           "HubSpot's legacy score stopped updating on 31 August 2025: this reads "
                           "a frozen value; configure [scoring] to compute a current one",
                           "warning"))
    if scoring is None:
        return out
    for sobject, name in (("Lead", scoring.lead_field), ("Contact", scoring.contact_field)):
        obj = schema.get(sobject)
        if name is None or obj is None:
            continue
        key = "lead_field" if sobject == "Lead" else "contact_field"
        out += _field(obj, f"scoring.{key} -> {sobject}.{name}", name, "score")
        if scoring.date_field:
            out += _field(obj, f"scoring.date_field -> {sobject}.{scoring.date_field}",
                          scoring.date_field, "date")
        if scoring.reasons_field:
            out += _field(obj, f"scoring.reasons_field -> {sobject}.{scoring.reasons_field}",
                          scoring.reasons_field, "reasons")
    for i, rule in enumerate(scoring.fit):
        name = rule.field
        if name in (EMAIL_DOMAIN, EMAIL_KIND) or not (name[:1].isupper() or name.endswith("__c")):
            continue                       # a form field: the form decides what it holds
        if not any(obj.field(name) for obj in schema.values()):
            out.append(Problem(0, f"scoring.fit[{i}].field -> {name}",
                               "neither Lead nor Contact has this field, so the rule only "
                               "matches a form field of that name", "warning"))
    return out


def _field(obj: ObjectSchema, where: str, name: str, kind: str) -> list[Problem]:
    info = obj.field(name)
    if info is None:
        return [Problem(0, where, f"{obj.name} has no field {name}")]
    if not (info.createable and info.updateable):
        return [Problem(0, where, f"{info.name} is read-only for the integration user")]
    if kind == "score":
        if info.is_number or (info.type in ("string", "textarea") and info.length >= SCORE_TEXT_MIN):
            return []
        return [Problem(0, where, f"{info.name} is a {info.type} field"
                                  + (f" of {info.length}" if info.length else "")
                                  + f"; the score needs a Number (or Text of {SCORE_TEXT_MIN}+)")]
    if kind == "date":
        if info.type == "date":
            return []
        return [Problem(0, where, f"{info.name} is a {info.type} field; the score's date needs "
                                  "a Date field")]
    if info.type not in ("string", "textarea"):
        return [Problem(0, where, f"{info.name} is a {info.type} field; the reasons need Text")]
    if info.length < REASONS_MAX:
        return [Problem(0, where, f"{info.name} holds {info.length} characters; the reasons are "
                                  f"up to {REASONS_MAX}: make it Text({REASONS_MAX})")]
    return []
