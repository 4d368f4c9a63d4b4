"""``[scoring]`` -> :class:`connector.core.enrich.scoring.Scoring`, or a ConfigError naming the key.

The shape (kept exactly as issue 19 names it)::

    [scoring]
    sales_ready = 80            # the threshold that hands a person off
    half_life = "30d"           # behaviour points halve every 30 days (optional)
    step_after = "90d"          # or/and: no response for 90 days ...
    step_to = 0                 # ... cuts behaviour points down to this
    min_behaviour = 20          # optional minimums besides the total
    min_fit = 0
    lead_field = "Leadsync_Score__c"      # where the score is written
    contact_field = "Leadsync_Score__c"
    date_field = "Leadsync_Score_Date__c" # the date it was computed (Lead and Contact)
    reasons_field = "Leadsync_Score_Reasons__c"
    demote = false              # a drop below sales_ready is reported, not acted on
    caps = { form = 60, page = 20 }       # per group (a rule's group, else its first condition)

    [[scoring.behaviour]]
    points = 30
    form = ["<demo form guid>"]           # and/or campaign, field + value|pattern, page

    [[scoring.fit]]
    points = -20
    field = "email_kind"                  # or any Lead/Contact or form field
    value = "free"                        # or pattern = "(?i)student"

Every mistake fails at start-up with its key, never mid-run: patterns compile here, rules
with no condition are refused (they would score every response alike), and a cap names a
group some rule is in.
"""

from __future__ import annotations

import re
from typing import Any, Collection, Mapping

from connector.config import validate as v
from connector.core.enrich.scoring import (EMAIL_DOMAIN, EMAIL_KIND, KINDS, REASONS_MAX,
                                           BehaviourRule, FitRule, Match, Scoring)
from connector.core.ids import is_api_name
from connector.errors import ConfigError

_KEYS = {"sales_ready", "half_life", "step_after", "step_to", "min_behaviour", "min_fit",
         "lead_field", "contact_field", "date_field", "reasons_field", "demote", "caps",
         "behaviour", "fit"}
_BEHAVIOUR_KEYS = {"points", "form", "campaign", "field", "value", "pattern", "page", "name",
                   "group"}
_FIT_KEYS = {"points", "field", "value", "pattern", "name"}


def parse_scoring(table: Mapping[str, Any] | None, *, forms: Collection[str] = ()) -> Scoring | None:
    """``[scoring]`` -> Scoring, None when the section is absent."""
    if table is None:
        return None
    v.check_keys(table, _KEYS, "scoring")
    sales_ready = _number(table.get("sales_ready"), "scoring.sales_ready", required=True)
    assert sales_ready is not None
    behaviour = tuple(_behaviour(raw, i, forms) for i, raw in enumerate(
        v.table_list(table.get("behaviour"), "scoring.behaviour", "[[scoring.behaviour]]")))
    fit = tuple(_fit(raw, i) for i, raw in enumerate(
        v.table_list(table.get("fit"), "scoring.fit", "[[scoring.fit]]")))
    if not behaviour and not fit:
        raise ConfigError("needs [[scoring.behaviour]] or [[scoring.fit]] rules", key="scoring")
    caps = _caps(table.get("caps"), {r.group for r in behaviour})
    fields = {name: _field_name(table.get(name), f"scoring.{name}")
              for name in ("lead_field", "contact_field", "date_field", "reasons_field")}
    return Scoring(
        sales_ready=sales_ready, behaviour=behaviour, fit=fit,
        half_life_days=_days(table.get("half_life"), "scoring.half_life"),
        step_after_days=_days(table.get("step_after"), "scoring.step_after"),
        step_to=_number(table.get("step_to", 0), "scoring.step_to") or 0.0,
        caps=caps,
        min_behaviour=_number(table.get("min_behaviour"), "scoring.min_behaviour"),
        min_fit=_number(table.get("min_fit"), "scoring.min_fit"),
        lead_field=fields["lead_field"], contact_field=fields["contact_field"],
        date_field=fields["date_field"], reasons_field=fields["reasons_field"],
        reasons_length=REASONS_MAX,
        demote=v.boolean(table.get("demote", False), "scoring.demote"))


def _behaviour(raw: Mapping[str, Any], i: int, forms: Collection[str]) -> BehaviourRule:
    where = f"scoring.behaviour[{i}]"
    v.check_keys(raw, _BEHAVIOUR_KEYS, where)
    points = _number(raw.get("points"), f"{where}.points", required=True)
    assert points is not None
    rule_forms = v.texts(raw.get("form"), f"{where}.form")
    for form in rule_forms:
        if forms and form not in forms:
            raise ConfigError(f"form {form} is not one of the configured [[campaigns]] forms, "
                              "so it would never match", key=f"{where}.form")
    campaigns = v.texts(raw.get("campaign"), f"{where}.campaign")
    field = v.optional_text(raw.get("field"), f"{where}.field")
    answer = _match(raw, where) if field else None
    if field is None and ("value" in raw or "pattern" in raw):
        raise ConfigError("needs field (the form field whose answer it compares)",
                          key=f"{where}.{'value' if 'value' in raw else 'pattern'}")
    pages = tuple(p.casefold() for p in v.texts(raw.get("page"), f"{where}.page"))
    present = [kind for kind, given in zip(KINDS, (rule_forms, campaigns, field, pages)) if given]
    if not present:
        raise ConfigError("needs a condition: form, campaign, field (+ value or pattern) or page",
                          key=where)
    group = v.optional_text(raw.get("group"), f"{where}.group") or present[0]
    name = v.optional_text(raw.get("name"), f"{where}.name") or _behaviour_name(
        present[0], forms=rule_forms, campaigns=campaigns, field=field, answer=answer,
        pages=pages)
    return BehaviourRule(name=name, points=points, group=group, forms=frozenset(rule_forms),
                         campaigns=frozenset(campaigns), field=field.lower() if field else None,
                         answer=answer, pages=pages)


def _behaviour_name(kind: str, *, forms: tuple[str, ...], campaigns: tuple[str, ...],
                    field: str | None, answer: Match | None, pages: tuple[str, ...]) -> str:
    """A rule's name when none is given: what it looks at, short enough for a reasons field."""
    if kind == "form":
        return f"form {forms[0]}" + (" ..." if len(forms) > 1 else "")
    if kind == "campaign":
        return f"campaign {campaigns[0]}" + (" ..." if len(campaigns) > 1 else "")
    if kind == "field" and answer is not None:
        shown = answer.pattern.pattern if answer.pattern is not None else "|".join(answer.values)
        return f"{field} = {shown}"
    return f"page {pages[0]}"


def _fit(raw: Mapping[str, Any], i: int) -> FitRule:
    where = f"scoring.fit[{i}]"
    v.check_keys(raw, _FIT_KEYS, where)
    points = _number(raw.get("points"), f"{where}.points", required=True)
    assert points is not None
    field = v.optional_text(raw.get("field"), f"{where}.field")
    if field is None:
        raise ConfigError("is required", key=f"{where}.field")
    if field == EMAIL_KIND and "value" in raw:
        for value in v.texts(raw.get("value"), f"{where}.value"):
            if value.casefold() not in ("free", "business"):
                raise ConfigError('must be "free" or "business"', key=f"{where}.value")
    match = _match(raw, where)
    shown = match.pattern.pattern if match.pattern is not None else "|".join(match.values)
    name = v.optional_text(raw.get("name"), f"{where}.name") or f"{field} = {shown}"
    return FitRule(name=name, points=points,
                   field=field if field not in (EMAIL_DOMAIN, EMAIL_KIND) else field,
                   match=match)


def _match(raw: Mapping[str, Any], where: str) -> Match:
    """``value`` (one or a list, case-blind) or ``pattern`` (a regular expression), one of them."""
    has_value, has_pattern = "value" in raw, "pattern" in raw
    if has_value == has_pattern:
        raise ConfigError("give value or pattern (one of them)", key=f"{where}.value")
    if has_value:
        values = raw.get("value")
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = str(values)
        return Match(values=tuple(x.casefold() for x in v.texts(values, f"{where}.value")))
    text = v.optional_text(raw.get("pattern"), f"{where}.pattern")
    if text is None:
        raise ConfigError("is required", key=f"{where}.pattern")
    try:
        return Match(pattern=re.compile(text))
    except re.error as exc:
        raise ConfigError(f"not a valid regular expression: {exc}", key=f"{where}.pattern") from None


def _caps(raw: Any, groups: set[str]) -> dict[str, float]:
    if raw is None:
        return {}
    table = v.table(raw, "scoring.caps")
    caps = {}
    for group, value in table.items():
        if group not in groups:
            raise ConfigError(f"no [[scoring.behaviour]] rule is in group {group!r} "
                              f"(groups: {', '.join(sorted(groups)) or 'none'})",
                              key=f"scoring.caps.{group}")
        cap = _number(value, f"scoring.caps.{group}", required=True)
        assert cap is not None
        if cap < 0:
            raise ConfigError("must be zero or more", key=f"scoring.caps.{group}")
        caps[str(group)] = cap
    return caps


def _days(value: Any, key: str) -> float | None:
    if value is None:
        return None
    return v.duration(value, key) / 86400


def _number(value: Any, key: str, *, required: bool = False) -> float | None:
    if value is None and required:
        raise ConfigError("is required", key=key)
    return v.number_or_none(value, key)


def _field_name(value: Any, key: str) -> str | None:
    name = v.optional_text(value, key)
    if name is not None and not is_api_name(name):
        raise ConfigError(f"not a field API name: {name!r}", key=key)
    return name
