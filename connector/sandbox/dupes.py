"""Duplicate rules on Lead and Contact, with Salesforce's standard matching rules.

Help, "Standard Lead Duplicate Rule" / "Standard Contact Duplicate Rule": the rule on Lead
matches new leads against leads (Standard Lead Matching Rule) and against contacts (Standard
Contact Matching Rule), and the Contact rule the other way round (orgs created since Summer
'17); default actions are Allow on create and on edit, and the alert text is "Use one of
these records?". Help, "Standard Contact Matching Rule and Standard Lead Matching Rule":
match keys narrow the candidates, then the matching equation decides, each field compared
with its own methods and threshold (see ``_CRITERIA``). docs/sandbox-org-rules.md, section 3,
lists what is followed and what is approximated (Metaphone 3 and the name-variant list are
simplified here; the methods, thresholds, blank-field rule and transposed names are as
documented).

Help, "Considerations for Duplicate Rules": an alert cannot be shown to an API client, so
"users are blocked from saving records" when a rule that alerts finds duplicates for
"records added or edited using Salesforce APIs. Use DuplicateRuleHeader to allow saving
records"; "records within the same save aren't compared to each other; they are only
compared with records already in Salesforce". So a rule that blocks, or allows with an
alert, fails the record with ``DUPLICATES_DETECTED`` unless the request sends
``Sforce-Duplicate-Rule-Header: allowSave=true``; ``allow`` without an alert (report only)
saves. An edit runs the rule only when it changes a field the matching rule compares (an
administrator's guide: "a duplicate rule, when editing a record, is triggered only if the
user changes one of the fields mapped on the rule"). Trusted writes (dataset loads) skip
the rules.

The field comparison methods (edit distance, keyboard distance, Jaro-Winkler, phonetic
codes, name variants, company names) live in ``dupes_text``; this module keeps the rules,
the matching equation and the check a save runs, and re-exports the scorers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol

from .dupes_text import (_company_words, _exact, _norm, _phone_digits, company_score, edit_score,
                         first_name_score, last_name_score, phonetic)
from .sf_errors import SfError

__all__ = ["DuplicateRule", "DuplicateRules", "RuleError", "build_rule", "legacy_rules",
           "standard_match", "duplicate_error", "MESSAGE", "ALERT"]

MESSAGE = "You're creating a duplicate record. We recommend you use an existing record instead."
ALERT = "Use one of these records?"        # the standard rules' alert text (collections replies)
ACTIONS = ("block", "allow")
MATCHING = ("standard", "email")
_RULE_NAMES = {"Lead": "Standard_Lead_Match_Rule_v1_0", "Contact": "Standard_Contact_Match_Rule_v1_1"}
_EMAIL_RULE = "Exact_Email_Match_Rule"
_KEYS = {"sobject", "active", "action_on_insert", "action_on_update", "matching_rule", "alert",
         "legacy"}


class RuleError(ValueError):
    """A duplicate rule definition the sandbox cannot take; the message says why."""


@dataclass(frozen=True)
class DuplicateRule:
    sobject: str                  # Lead or Contact
    active: bool = True
    action_on_insert: str = "block"
    action_on_update: str = "allow"     # the standard rules' documented default on edit
    matching_rule: str = "standard"     # "email": a custom Email EXACT matching rule
    alert: bool = False                 # an "allow" that alerts: the API cannot show it, so blocks
    legacy: bool = False                # from {"Lead": true} (an older dataset's form)

    def spec(self) -> dict[str, Any]:
        out = {"sobject": self.sobject, "active": self.active,
               "action_on_insert": self.action_on_insert,
               "action_on_update": self.action_on_update, "matching_rule": self.matching_rule}
        if self.alert:
            out["alert"] = True
        if self.legacy:
            out["legacy"] = True   # so a dump loads back with the same update behaviour
        return out

    @property
    def name(self) -> str:
        return f"Standard_{self.sobject}_Duplicate_Rule"


def build_rule(spec: Any, where: str = "duplicate rule") -> DuplicateRule:
    """``{"sobject": "Lead"|"Contact", "active", "action_on_insert": "block"|"allow", ...}``."""
    if not isinstance(spec, Mapping):
        raise RuleError(f"{where}: expected an object with sobject, active, action_on_insert")
    unknown = set(spec) - _KEYS
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    sobject = {"lead": "Lead", "contact": "Contact"}.get(str(spec.get("sobject") or "").lower())
    if sobject is None:
        raise RuleError(f"{where}: sobject must be Lead or Contact, not {spec.get('sobject')!r}")
    active = spec.get("active", True)
    if not isinstance(active, bool):
        raise RuleError(f"{where}: active must be true or false")
    insert = spec.get("action_on_insert", "block")
    update = spec.get("action_on_update", "allow")
    for key, value in (("action_on_insert", insert), ("action_on_update", update)):
        if value not in ACTIONS:
            raise RuleError(f"{where}: {key} must be one of {', '.join(ACTIONS)}, not {value!r}")
    matching = spec.get("matching_rule", "standard")
    if matching not in MATCHING:
        raise RuleError(f"{where}: matching_rule must be one of {', '.join(MATCHING)}")
    alert = spec.get("alert", False)
    if not isinstance(alert, bool):
        raise RuleError(f"{where}: alert must be true or false")
    return DuplicateRule(sobject, active, insert, update, matching, alert, bool(spec.get("legacy")))


def legacy_rules(flags: Mapping[str, Any]) -> list[DuplicateRule]:
    """Older datasets' ``{"Lead": true}``: an exact-email rule that blocks create and edit
    (an edit that changes Email)."""
    out = []
    for name, on in flags.items():
        sobject = {"lead": "Lead", "contact": "Contact"}.get(str(name).lower())
        if sobject is None:
            raise RuleError(f"duplicate_rules: only Lead and Contact have rules, not {name!r}")
        out.append(DuplicateRule(sobject, bool(on), "block", "block", "email", False, True))
    return out


# -- the matching rules --------------------------------------------------------------------

# field -> (Lead field, Contact field, scorer, threshold); Contact's company is its Account's Name
_CRITERIA: dict[str, tuple[str, str, Callable[[Any, Any], float], float]] = {
    "FirstName": ("FirstName", "FirstName", first_name_score, 85),
    "LastName": ("LastName", "LastName", last_name_score, 90),
    "Company": ("Company", "AccountName", company_score, 70),
    "Title": ("Title", "Title", lambda a, b: max(company_score(a, b), edit_score(_norm(a), _norm(b))), 50),
    "Email": ("Email", "Email", _exact, 100),
    "Phone": ("Phone", "Phone", lambda a, b: 100.0 if _phone_digits(a) and _phone_digits(a) == _phone_digits(b) else 0.0, 80),
    "Street": ("Street", "MailingStreet", lambda a, b: edit_score(_norm(a), _norm(b)), 80),
    "City": ("City", "MailingCity", lambda a, b: edit_score(_norm(a), _norm(b)), 85),
    "Zip": ("PostalCode", "MailingPostalCode", _exact, 80),
}
# The documented matching equation (the same for both standard rules); an inner tuple is an OR.
_EQUATION: tuple[tuple[Any, ...], ...] = (
    ("FirstName", "LastName", "Title", "Company"),
    ("FirstName", "LastName", "Email"),
    ("FirstName", "LastName", "Phone", "Company"),
    ("FirstName", "LastName", "Street", ("City", "Zip", "Phone")),
    ("FirstName", "LastName", "Street", "Title"),
    ("FirstName", "LastName", "Title", "Email"),
    ("FirstName", "LastName", "Phone"),
)


def _profile(sobject: str, row: Mapping[str, Any], account_name: Callable[[Any], Any]) -> dict[str, Any]:
    """The compared values of a Lead or Contact under the common names of ``_CRITERIA``."""
    out = {}
    for key, (lead_field, contact_field, _, _) in _CRITERIA.items():
        if sobject == "Lead":
            out[key] = row.get(lead_field)
        elif contact_field == "AccountName":
            out[key] = account_name(row.get("AccountId"))
        else:
            out[key] = row.get(contact_field)
    return out


def _match_keys(p: Mapping[str, Any]) -> set[str]:
    """The Help's match keys: Email; First initial + last name sound + email domain, company
    (first 5 characters) or phone (without leading 1 and last four digits)."""
    keys = set()
    email = _norm(p.get("Email"))
    if email:
        keys.add("e:" + email)
    last = phonetic(str(p.get("LastName") or ""))
    first = _norm(p.get("FirstName"))[:1]
    stem = f"{first}{last}"
    if last:
        if "@" in email:
            keys.add(f"n:{stem}@{email.split('@', 1)[1]}")
            keys.add(f"n:{last}@{email.split('@', 1)[1]}")   # first name blank on one side
        company = "".join(_company_words(p.get("Company")))[:5]
        if company:
            keys.add(f"c:{stem}{company}")
        phone = _phone_digits(p.get("Phone"))
        if len(phone) > 4:
            keys.add(f"p:{stem}{phone[:-4]}")
    return keys


def _scores(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, float]:
    out = {k: scorer(a.get(k), b.get(k)) for k, (_, _, scorer, _) in _CRITERIA.items()}
    if a.get("FirstName") and a.get("LastName") and b.get("FirstName") and b.get("LastName"):
        # "the values are transposed to account for possible data entry mistakes"
        swapped_first = first_name_score(a["FirstName"], b["LastName"])
        swapped_last = last_name_score(a["LastName"], b["FirstName"])
        if min(swapped_first, swapped_last) > min(out["FirstName"], out["LastName"]):
            out["FirstName"], out["LastName"] = swapped_first, swapped_last
    return out


def _passes(term: Any, scores: Mapping[str, float], a: Mapping[str, Any], b: Mapping[str, Any],
            *, group: tuple[Any, ...]) -> bool:
    if isinstance(term, tuple):
        return any(_passes(t, scores, a, b, group=group) for t in term)
    if term in ("FirstName", "LastName") and "Email" in group and (not a.get(term) or not b.get(term)):
        return True   # "ignores blank fields when Email is included in field grouping"
    return scores[term] >= _CRITERIA[term][3]


def standard_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    """The confidence (mean score of the first satisfied group) or None when no group holds."""
    scores = _scores(a, b)
    for group in _EQUATION:
        if all(_passes(term, scores, a, b, group=group) for term in group):
            flat = [t for t in group if isinstance(t, str)]
            return round(sum(scores[t] for t in flat) / len(flat), 1)
    return None


class DupeHost(Protocol):
    """What matching reads from the store: its tables (``.rows`` by id)."""

    @property
    def tables(self) -> Mapping[str, Any]:   # read-only, so Store's dict[str, Table] fits
        ...


Matches = list[tuple[str, str, list[tuple[Mapping[str, Any], float]]]]


class DuplicateRules:
    """The org's duplicate rules (one per object) and a cache of candidates' match keys.

    The cache holds each record's compared values and keys next to the row object they were
    computed from (rows are replaced, never mutated, on update), so a scan costs a dict look-up
    per record once the keys are known.
    """

    def __init__(self) -> None:
        self.rules: dict[str, DuplicateRule] = {}
        self._cache: dict[tuple[str, str], tuple[Any, Any, dict[str, Any], set[str]]] = {}

    def put(self, rule: DuplicateRule) -> None:
        self.rules[rule.sobject] = rule

    def dump(self) -> list[dict[str, Any]]:
        return [r.spec() for r in self.rules.values()]

    def check(self, store: DupeHost, sobject: str, row: Mapping[str, Any],
              old: Mapping[str, Any] | None, *, allow_save: bool, record_details: bool,
              api_version: str, same_save: Iterable[str] = ()) -> None:
        """Raise DUPLICATES_DETECTED when the object's active rule stops this API save.

        ``same_save``: ids saved earlier in the same request (a collections call), which
        Salesforce does not compare with each other.
        """
        rule = self.rules.get(sobject)
        if rule is None or not rule.active or allow_save:
            return
        action = rule.action_on_insert if old is None else rule.action_on_update
        if action == "allow" and not rule.alert:
            return     # allowed without an alert: saved (and reported, in Salesforce)
        if old is not None and not any(row.get(f) != old.get(f) for f in _compared(rule)):
            return     # an edit that changes no compared field does not run the rule
        matches = self.find(store, rule, row, frozenset(same_save))
        if matches:
            raise duplicate_error(rule, matches, api_version, record_details)

    def find(self, store: DupeHost, rule: DuplicateRule, row: Mapping[str, Any],
             skip: frozenset[str] = frozenset()) -> Matches:
        """Matches per matching rule: [(entity type, rule name, [(record, confidence)])]."""
        accounts = store.tables["Account"].rows

        def account_name(account_id: Any) -> Any:
            account = accounts.get(account_id) if account_id else None
            return account.get("Name") if account is not None else None

        if rule.matching_rule == "email":
            email = _norm(row.get("Email"))
            found = [(r, 100.0) for rid, r in store.tables[rule.sobject].rows.items()
                     if email and rid != row.get("Id") and rid not in skip
                     and not r.get("IsConverted") and _norm(r.get("Email")) == email]
            return [(rule.sobject, _EMAIL_RULE, found)] if found else []
        me = _profile(rule.sobject, row, account_name)
        keys = _match_keys(me)
        out: Matches = []
        for target in (rule.sobject, "Contact" if rule.sobject == "Lead" else "Lead"):
            found = []
            for other, prof in self._candidates(store, target, row, keys, account_name=account_name,
                                                skip=skip):
                confidence = standard_match(me, prof)
                if confidence is not None:
                    found.append((other, confidence))
            if found:
                found.sort(key=lambda pair: -pair[1])
                out.append((target, _RULE_NAMES[target], found))
        return out

    def _candidates(self, store: DupeHost, target: str, row: Mapping[str, Any], keys: set[str],
                    *, account_name: Callable[[Any], Any], skip: frozenset[str]
                    ) -> Iterable[tuple[Mapping[str, Any], dict[str, Any]]]:
        """Records sharing a match key with ``row`` (converted Leads, itself and records of
        the same save excluded)."""
        if not keys:
            return
        for rid, other in store.tables[target].rows.items():
            if rid == row.get("Id") or rid in skip or other.get("IsConverted"):
                continue
            company = account_name(other.get("AccountId")) if target == "Contact" else None
            hit = self._cache.get((target, rid))
            if hit is None or hit[0] is not other or hit[1] != company:
                prof = _profile(target, other, account_name)
                hit = (other, company, prof, _match_keys(prof))
                self._cache[(target, rid)] = hit
            if hit[3] & keys:
                yield other, hit[2]


def _compared(rule: DuplicateRule) -> tuple[str, ...]:
    """The record fields the rule's matching rule compares (an edit must change one)."""
    if rule.matching_rule == "email":
        return ("Email",)
    column = 0 if rule.sobject == "Lead" else 1
    fields = tuple(str(spec[column]) for spec in _CRITERIA.values())
    return tuple("AccountId" if f == "AccountName" else f for f in fields)


_DETAIL_FIELDS = {"Lead": ("FirstName", "LastName", "Email", "Company", "Phone", "Title"),
                  "Contact": ("FirstName", "LastName", "Email", "Phone", "Title")}


def duplicate_error(rule: DuplicateRule, matches: Matches, api_version: str,
                    record_details: bool) -> SfError:
    """DUPLICATES_DETECTED with Salesforce's duplicateResult (matched ids; fields on request)."""
    results = []
    for entity, rule_name, found in matches:
        records = []
        for other, confidence in found:
            rec: dict[str, Any] = {"attributes": {"type": entity, "url": (
                f"/services/data/v{api_version}/sobjects/{entity}/{other['Id']}")}, "Id": other["Id"]}
            if record_details:
                rec.update({name: other.get(name) for name in _DETAIL_FIELDS[entity]})
            records.append({"additionalInformation": [], "fieldDiffs": [],
                            "matchConfidence": confidence, "record": rec})
        results.append({"entityType": entity, "errors": [], "matchEngine": (
            "ExactMatchEngine" if rule_name == _EMAIL_RULE else "FuzzyMatchEngine"),
            "matchRecords": records, "rule": rule_name, "size": len(records), "success": True})
    body = {"allowSave": False, "duplicateRule": rule.name, "duplicateRuleEntityType": rule.sobject,
            "errorMessage": MESSAGE, "matchResults": results}
    return SfError("DUPLICATES_DETECTED", MESSAGE, None, extra={"duplicateResult": body})
