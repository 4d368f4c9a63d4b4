"""Form fields -> Salesforce Lead and Contact fields, with a sync rule and transforms each.

Pure: a submission and a mapping in, a :class:`Response` (or a :class:`RecordError` with
a reason an admin can act on) out; and, for a record that exists, which fields a response
may change (:func:`field_changes`). Cleaning here, rather than letting Salesforce reject
the record, means one over-long job title or odd phone number does not cost a form fill.
The mapping file is read into a :class:`FieldMapping` by ``connector.config.mapping_file``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

from connector.errors import ConfigError, RecordError
from connector.core.model import Response, Submission
from connector.core.redact import redact
from connector.core.schema import FieldInfo, ObjectSchema, Schema
from connector.core.transforms import Target, address_picklist, apply_transforms

NOT_PROVIDED = "[not provided]"  # Salesforce Web-to-Lead's own placeholder

# Lengths of the standard Lead fields (Salesforce "Lead" object reference). Values longer
# than these are truncated rather than failing the whole record with STRING_TOO_LONG.
LEAD_FIELD_LENGTHS: dict[str, int] = {
    "Email": 80, "FirstName": 40, "LastName": 80, "Company": 255, "Phone": 40,
    "MobilePhone": 40, "Title": 128, "Street": 255, "City": 40, "State": 80,
    "PostalCode": 20, "Country": 80, "Website": 255, "Industry": 255, "LeadSource": 255,
    "Description": 32000, "Salutation": 40, "Rating": 255, "Status": 255,
}
# The Contact's equivalents (its address is the Mailing one; Department instead of Company).
CONTACT_FIELD_LENGTHS: dict[str, int] = {
    **{k: v for k, v in LEAD_FIELD_LENGTHS.items()
       if k not in ("Street", "City", "State", "PostalCode", "Country", "Company", "Website",
                    "Industry", "Rating", "Status")},
    "MailingStreet": 255, "MailingCity": 40, "MailingState": 80, "MailingPostalCode": 20,
    "MailingCountry": 80, "OtherStreet": 255, "OtherCity": 40, "OtherState": 80,
    "OtherPostalCode": 20, "OtherCountry": 80, "Department": 80, "Fax": 40, "HomePhone": 40,
    "OtherPhone": 40, "AssistantName": 40, "AssistantPhone": 40,
}
STANDARD_LENGTHS = {"Lead": LEAD_FIELD_LENGTHS, "Contact": CONTACT_FIELD_LENGTHS}
NUMERIC_FIELDS = {"NumberOfEmployees": int, "AnnualRevenue": float}
MULTILINE_FIELDS = {"Description", "Street", "MailingStreet", "OtherStreet"}

RULES = ("fill_blank", "overwrite", "on_create_only", "never")
SOBJECTS = ("Lead", "Contact")

# Deliberately simple: Salesforce's own check is permissive, and HubSpot already validated
# the address on the form. We reject what Salesforce would (no @, spaces, no dot in the
# domain, over 80 characters) so the failure is ours, early, and explained.
_EMAIL = re.compile(r"^[^@\s\"(),:;<>\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


@dataclass(frozen=True)
class FieldSpec:
    """One form field: where it goes on a Lead and/or a Contact, by which rule, how shaped."""

    form_field: str                              # lower-case HubSpot internal name
    lead: str | None = None
    contact: str | None = None
    rule: str = "fill_blank"
    transforms: tuple[str, ...] = ()
    value_map: Mapping[str, str] = field(default_factory=dict)
    line: int = 0                                # of the [fields.x] header (or the entry)
    phone_region: str | None = None              # the phone transform's region (mapping_file)

    def target(self, sobject: str) -> str | None:
        return self.lead if sobject == "Lead" else self.contact if sobject == "Contact" else None


@dataclass(frozen=True)
class FieldMapping:
    fields: tuple[FieldSpec, ...] = ()
    defaults: Mapping[str, str] = field(default_factory=dict)     # Lead field -> value, create only
    source: str = "<built-in>"
    default_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def lead(self) -> dict[str, str]:
        """Form field -> Lead field (the first format's view; ``never`` fields left out)."""
        return {s.form_field: s.lead for s in self.fields if s.lead and s.rule != "never"}

    @property
    def email_field(self) -> str:
        """The form field that carries the person's identity."""
        for spec in self.fields:
            if "Email" in (spec.lead, spec.contact):
                return spec.form_field
        raise ConfigError("no form field is mapped to Email", key="fields")

    def targets(self, sobject: str) -> list[tuple[FieldSpec, str]]:
        """(spec, Salesforce field) for every field mapped onto one object, in file order."""
        return self._targets.get(sobject, [])

    def rule_for(self, sobject: str, sf_field: str) -> str | None:
        """The rule for a Salesforce field (None when nothing maps to it).

        Email is the identity: written when a record is created, never changed after, so
        its effective rule is ``on_create_only`` whatever the file says.
        """
        return self._rules.get((sobject, sf_field.lower()))

    # Asked for every field of every response: worked out once per mapping, not per call.
    @cached_property
    def _targets(self) -> dict[str, list[tuple[FieldSpec, str]]]:
        return {sobject: [(s, t) for s in self.fields if (t := s.target(sobject))]
                for sobject in SOBJECTS}

    @cached_property
    def _rules(self) -> dict[tuple[str, str], str]:
        rules: dict[tuple[str, str], str] = {}
        for sobject, pairs in self._targets.items():
            for spec, target in pairs:
                rules.setdefault((sobject, target.lower()), spec.rule)
            if (sobject, "email") in rules:
                rules[(sobject, "email")] = "on_create_only"
        return rules

    @cached_property
    def _plans(self) -> dict[int, tuple[Schema | None, Any]]:
        return {}            # see _field_plans

    @cached_property
    def country_fields(self) -> tuple[str, ...]:
        """Form fields that hold the person's country, best first (``state`` reads within it)."""
        named = [s.form_field for s in self.fields if "country" in s.transforms]
        named += [s.form_field for s in self.fields
                  if any(re.search(r"Country(Code)?$", t) for t in (s.lead, s.contact) if t)]
        return tuple(dict.fromkeys([*named, "country"]))

    def read_fields(self, sobject: str) -> tuple[str, ...]:
        """The fields whose current values a lookup must fetch to apply the rules."""
        names = [t for s, t in self.targets(sobject)
                 if s.rule in ("fill_blank", "overwrite") and t.lower() != "email"]
        return tuple(dict.fromkeys(names))


# -- cleaning ----------------------------------------------------------------------------

def normalise_email(raw: str | None) -> str:
    """Trim, lower-case and check an email; raise RecordError with the reason if unusable."""
    if raw is None or not raw.strip():
        raise RecordError("no email address in the submission", code="MISSING_EMAIL")
    email = clean_text(raw).strip().lower()
    if len(email) > LEAD_FIELD_LENGTHS["Email"]:
        raise RecordError(f"email address longer than 80 characters ({len(email)})",
                          code="INVALID_EMAIL")
    if not _EMAIL.match(email):
        # The ledger keeps this text: an address-like value is shown as <email> (redact).
        raise RecordError(redact(f"not a valid email address: {email[:80]!r}"),
                          code="INVALID_EMAIL")
    return email


# Invisible format characters (Unicode category Cf) a script needs: the zero-width joiner and
# non-joiner shape Indic and Persian words and emoji sequences, so removing them changes the
# text. Every other Cf character (U+202E RIGHT-TO-LEFT OVERRIDE, zero-width spaces, the BOM,
# soft hyphens, bidi isolates) only changes how the text *looks*: an email, a name or a
# Company that reads one way and sorts, matches and dedupes another, the trick behind
# "Trojan source" and spoofed names. Dropped, like control characters.
KEPT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})   # ZWNJ, ZWJ


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Drop NULs, control characters Salesforce would store as garbage or reject, and the
    invisible format characters (Cf) that make a value look unlike what it is; ZWJ and ZWNJ,
    which scripts and emoji need, are kept."""
    if value.isprintable():        # nearly every value: nothing to drop (no Cc, Cf, Cs)
        return value.strip()
    keep = {"\n", "\t"} if multiline else set()
    out = []
    for ch in value:
        if ch in keep or ch in KEPT_FORMAT_CHARS:
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cs", "Cf"):
            out.append(" " if ch in "\r\n\t" else "")
        else:
            out.append(ch)
    return "".join(out).strip()


def is_blank(value: Any) -> bool:
    """Empty for the rules: None, "", whitespace, or Web-to-Lead's "[not provided]".

    The placeholder counts as blank so progressive profiling replaces a placeholder
    LastName or Company with the real one when a later form asks for it.
    """
    if value is None:
        return True
    text = str(value).strip()
    return not text or text == NOT_PROVIDED


# -- a submission -> a response ----------------------------------------------------------

def to_response(sub: Submission, mapping: FieldMapping, *, campaign_id: str, member_status: str,
                schema: Schema | None = None) -> Response:
    """Map, transform and clean one submission; the email is the identity, so it must be usable.

    ``lead_fields`` are the values of a new Lead (defaults, mapped fields, and the
    ``[not provided]`` placeholders Salesforce requires); ``contact_fields`` the values for
    Contact fields, before any rule (those apply against a record: :func:`field_changes`).
    """
    values: dict[str, str] = {}
    for name, raw in sub.values.items():
        if raw is not None:
            text = raw if type(raw) is str else str(raw)
            # clean_text's own first test, inline: nearly every answer is printable
            values[name.lower()] = text.strip() if text.isprintable() else clean_text(text, multiline=True)
    email = normalise_email(values.get(mapping.email_field))
    country = _record_country(mapping, values)
    notes: list[str] = []
    left_out: list[str] = []
    found: dict[str, dict[str, str]] = {"Lead": {}, "Contact": {}}
    for plan in _field_plans(mapping, schema).answered(tuple(values)):
        answer = values.get(plan.form_field)
        if not answer or answer == NOT_PROVIDED:      # values are cleaned (stripped) above: blank
            continue
        value, why = plan.value(answer, country)
        if why:
            notes.extend(f"{plan.form_field} -> {plan.sobject}.{plan.sf_field}: {n}" for n in why)
            if value is None:
                left_out.append(f"{plan.sobject}.{plan.sf_field}")
        if value is not None:
            found[plan.sobject][plan.sf_field] = value
    lead = {**mapping.defaults, **found["Lead"], "Email": email}
    for required in ("LastName", "Company"):
        if is_blank(lead.get(required)):
            lead[required] = NOT_PROVIDED
    contact = found["Contact"]
    if mapping.targets("Contact"):
        contact = {**contact, "Email": email}
    return Response(sub.conversion_id, sub.form_id, sub.submitted_at, email, lead, campaign_id,
                    member_status, contact_fields=contact, form_values=values, notes=tuple(notes),
                    page_url=sub.page_url, left_out=tuple(left_out))


class _FieldPlan:
    """One mapped (form field, Salesforce field) pair, with the answers it has already placed.

    :func:`field_value` is pure, and forms repeat their answers (countries, states, job
    titles, companies), so a value is worked out once per run and looked up after that:
    this was most of a sync's own CPU. The memo is bounded; past the bound it stops growing
    and values are worked out again, so memory stays flat on any backlog.
    """

    __slots__ = ("spec", "sobject", "sf_field", "form_field", "obj", "by_country", "memo")
    MEMO_LIMIT = 4_096     # per field: about 1 MB at most, whatever the backlog

    def __init__(self, spec: FieldSpec, sobject: str, sf_field: str, obj: ObjectSchema | None) -> None:
        self.spec, self.sobject, self.sf_field, self.obj = spec, sobject, sf_field, obj
        self.form_field = spec.form_field
        self.by_country = "state" in spec.transforms    # the only transform that reads it
        self.memo: dict[Any, tuple[str | None, tuple[str, ...]]] = {}

    def value(self, raw: str, country: str | None) -> tuple[str | None, tuple[str, ...]]:
        key = (raw, country) if self.by_country else raw
        hit = self.memo.get(key)
        if hit is None:
            hit = field_value(self.spec, self.sobject, self.sf_field, raw, obj=self.obj,
                              country=country)
            if len(self.memo) < self.MEMO_LIMIT:
                self.memo[key] = hit
        return hit


class _PlanSet:
    """A mapping's field plans, and for each set of form fields seen, the plans it answers.

    A form sends the same fields on every fill, so which of the mapping's plans a fill can
    answer is worked out once per form rather than asked of every plan for every fill (a
    mapping covers every form, so most of its fields are absent from any one)."""

    __slots__ = ("plans", "by_fields")
    FIELD_SETS_LIMIT = 256     # forms' field sets; past it, worked out each time

    def __init__(self, plans: list[_FieldPlan]) -> None:
        self.plans = plans
        self.by_fields: dict[tuple[str, ...], list[_FieldPlan]] = {}

    def answered(self, fields: tuple[str, ...]) -> list[_FieldPlan]:
        """The plans whose form field is in ``fields``, in the mapping's order (a later
        plan for the same Salesforce field wins, as it always has)."""
        hit = self.by_fields.get(fields)
        if hit is None:
            present = set(fields)
            hit = [plan for plan in self.plans if plan.form_field in present]
            if len(self.by_fields) < self.FIELD_SETS_LIMIT:
                self.by_fields[fields] = hit
        return hit


def _field_plans(mapping: FieldMapping, schema: Schema | None) -> _PlanSet:
    """The mapping's field plans for one org's schema, built on first use and then kept.

    Kept on the mapping, keyed by the schema object (held, so its id is not reused): a run
    has one schema, and a daemon's next cycle a new one, so only the latest few are kept.
    """
    plans = mapping._plans
    entry = plans.get(id(schema))
    if entry is None or entry[0] is not schema:
        if len(plans) >= 4:
            plans.clear()
        built = []
        for sobject in SOBJECTS:
            obj = schema.get(sobject) if schema else None
            built += [_FieldPlan(spec, sobject, sf_field, obj) for spec, sf_field in mapping.targets(sobject)
                      if spec.rule != "never" and sf_field.lower() != "email"]
        entry = plans[id(schema)] = (schema, _PlanSet(built))
    return entry[1]


def field_value(spec: FieldSpec, sobject: str, sf_field: str, raw: str, *,
                obj: ObjectSchema | None, country: str | None = None
                ) -> tuple[str | None, tuple[str, ...]]:
    """One form value -> the value for one Salesforce field, with notes; None when dropped."""
    info = obj.field(sf_field) if obj else None
    length = info.length if info is not None and info.is_text and info.length else \
        STANDARD_LENGTHS.get(sobject, {}).get(sf_field)
    multiline = sf_field in MULTILINE_FIELDS or (info is not None and info.type == "textarea")
    text = raw if multiline else clean_text(raw)
    target = Target(sobject, sf_field, info, obj, length, spec.value_map, country,
                    spec.phone_region)
    value, notes = apply_transforms(spec.transforms, text, target)
    if value is None or is_blank(value):
        return None, notes
    if (info is not None and info.is_number) or (info is None and sf_field in NUMERIC_FIELDS):
        return _number(value, info, sf_field, notes)
    value, more = _within_picklist(value, target)
    if value is None:
        return None, (*notes, *more)
    if length and len(value) > length:
        if "truncate" not in spec.transforms:
            notes = (*notes, f"cut to the field's {length} characters (was {len(value)})")
        value = value[:length]
    return value, notes


def _number(value: str, info: FieldInfo | None, sf_field: str,
            notes: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    whole = info.type == "int" if info is not None else NUMERIC_FIELDS[sf_field] is int
    try:
        number = float(value.replace(",", "").replace(" ", ""))
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or (whole and not number.is_integer()):
        kind = "a whole number" if whole else "a number"
        return None, (*notes, f"{value[:40]!r} is not {kind}; dropped")
    return str(int(number) if whole else number), notes


def _within_picklist(value: str, target: Target) -> tuple[str | None, tuple[str, ...]]:
    """A restricted picklist takes only its own values: match case-insensitively, else drop."""
    picklist, by_label = address_picklist(target)
    if picklist is None or picklist.type == "multipicklist":
        return value, ()
    for entry in picklist.active_values():
        if (entry.label if by_label else entry.value).casefold() == value.casefold():
            return (entry.label if by_label else entry.value), ()
    if by_label or picklist.restricted:
        return None, (f"{value[:60]!r} is not a value of the restricted picklist "
                      f"{target.sobject}.{picklist.name}; dropped",)
    return value, ()


def _record_country(mapping: FieldMapping, values: Mapping[str, str]) -> str | None:
    """The form's country answer, which the ``state`` transform reads states within."""
    for name in mapping.country_fields:
        if values.get(name):
            return values[name]
    return None


# -- rules against an existing record ----------------------------------------------------

def field_changes(mapping: FieldMapping, sobject: str, incoming: Mapping[str, Any],
                  current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Field -> (before, after) that a response makes on an existing ``sobject`` record.

    ``incoming`` is the response's ``lead_fields`` or ``contact_fields``. Per field rule:
    ``fill_blank`` writes only where the record is blank (``[not provided]`` counts as
    blank); ``overwrite`` writes a non-blank value that differs; ``on_create_only`` and
    ``never`` write nothing. The email (the identity), unmapped fields and ``[defaults]``
    (create only) are never changed here.
    """
    now: dict[str, Any] | None = None      # lower-cased names, built only when a case differs
    out: dict[str, tuple[Any, Any]] = {}
    for name, value in incoming.items():
        rule = mapping.rule_for(sobject, name)
        if rule not in ("fill_blank", "overwrite") or name.lower() == "email" or is_blank(value):
            continue
        if sobject == "Lead" and mapping.defaults.get(name) == value:
            continue          # the default a new Lead gets, not the person's answer
        if name in current:
            before = current[name]
        else:
            if now is None:
                now = {key.lower(): v for key, v in current.items()}
            before = now.get(name.lower())
        if rule == "fill_blank" and is_blank(before):
            out[name] = (before, value)
        elif rule == "overwrite" and not _same(before, value):
            out[name] = (before, value)
    return out


def _same(before: Any, after: Any) -> bool:
    """Equal as Salesforce stores it: numbers by value (500.0 is "500"), text exactly."""
    if before is None:
        return False
    if isinstance(before, (int, float)) and not isinstance(before, bool):
        try:
            return float(before) == float(str(after).replace(",", ""))
        except ValueError:
            return False
    return str(before).strip() == str(after).strip()

