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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol

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


# -- text comparison -----------------------------------------------------------------------

def _norm(value: Any) -> str:
    return " ".join(str(value or "").lower().split())


def _lev(a: str, b: str, sub_cost: Callable[[str, str], float] | None = None) -> float:
    if a == b:
        return 0.0
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        cur = [float(i)]
        for j, cb in enumerate(b, 1):
            cost = 0.0 if ca == cb else (sub_cost(ca, cb) if sub_cost else 1.0)
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost))
        prev = cur
    return prev[-1]


def edit_score(a: str, b: str) -> float:
    """Edit Distance: 100 for equal text, falling with each insertion, deletion, change."""
    if not a or not b:
        return 0.0
    return 100.0 * (1 - _lev(a, b) / max(len(a), len(b)))


_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYPOS = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}


def _key_cost(a: str, b: str) -> float:
    pa, pb = _KEYPOS.get(a), _KEYPOS.get(b)
    if pa and pb and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1:
        return 0.5        # a neighbouring key: a likely typing slip
    return 1.0


def keyboard_score(a: str, b: str) -> float:
    """Keyboard Distance: an edit distance where a neighbouring-key slip costs half."""
    if not a or not b:
        return 0.0
    return 100.0 * (1 - _lev(a, b, _key_cost) / max(len(a), len(b)))


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity, 0..100 (prefix weight 0.1, up to 4 characters)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    window = max(len(a), len(b)) // 2 - 1
    used = [False] * len(b)
    matches_a = []
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not used[j] and b[j] == ch:
                used[j] = True
                matches_a.append(ch)
                break
    if not matches_a:
        return 0.0
    matches_b = [b[j] for j in range(len(b)) if used[j]]
    transpositions = sum(x != y for x, y in zip(matches_a, matches_b)) / 2
    m = len(matches_a)
    jaro = (m / len(a) + m / len(b) + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return 100.0 * (jaro + prefix * 0.1 * (1 - jaro))


def phonetic(word: str) -> str:
    """A compact sound key in the spirit of (double) metaphone: ``Doe`` -> ``T``,
    ``Benioff`` -> ``PNF`` as in the Help's match-key examples. A simplification of
    Metaphone 3, which is proprietary."""
    w = "".join(ch for ch in word.lower() if ch.isalpha())
    if not w:
        return ""
    for src, dst in (("ph", "f"), ("gh", ""), ("ck", "k"), ("sch", "sk"), ("sh", "x"),
                     ("ch", "x"), ("th", "0"), ("dg", "j"), ("wr", "r")):
        w = w.replace(src, dst)
    if w[:2] in ("kn", "gn", "pn"):
        w = w[1:]
    out: list[str] = []
    for i, ch in enumerate(w):
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if ch in "aeiou":
            code = "A" if i == 0 else ""
        elif ch == "c":
            code = "S" if nxt in "eiy" else "K"
        elif ch == "g":
            code = "J" if nxt in "eiy" else "K"
        elif ch in "wyh":
            code = ch.upper() if i == 0 and nxt in "aeiou" else ""
        else:
            code = {"b": "P", "d": "T", "v": "F", "z": "S", "q": "K", "x": "KS"}.get(ch, ch.upper())
        if code and (not out or out[-1] != code):
            out.append(code)
    return "".join(out)


_VARIANTS = [
    ("robert", "bob", "bobby", "rob", "robbie"), ("william", "bill", "billy", "will", "willy"),
    ("james", "jim", "jimmy", "jamie"), ("michael", "mike", "mikey"), ("john", "jack", "johnny"),
    ("katherine", "catherine", "kate", "katie", "kathy", "cathy"),
    ("elizabeth", "liz", "lizzie", "beth", "betty", "eliza"), ("thomas", "tom", "tommy"),
    ("david", "dave", "davey"), ("daniel", "dan", "danny"), ("christopher", "chris", "kit"),
    ("alexander", "alex", "sandy"), ("samuel", "sam", "sammy"), ("joseph", "joe", "joey"),
    ("anthony", "tony"), ("patrick", "pat", "paddy"), ("patricia", "pat", "patty", "trish"),
    ("stephen", "steven", "steve"), ("richard", "rick", "rich", "dick"), ("edward", "ed", "ted"),
    ("andrew", "andy", "drew"), ("matthew", "matt"), ("nicholas", "nick", "nicky"),
    ("jennifer", "jen", "jenny"), ("susan", "sue", "suzy"), ("margaret", "maggie", "peggy", "meg"),
    ("benjamin", "ben", "benny"), ("gregory", "greg"), ("jeffrey", "jeff"), ("ronald", "ron"),
    ("donald", "don"), ("lawrence", "larry"), ("charles", "charlie", "chuck"),
    ("henry", "harry", "hank"), ("deborah", "deb", "debbie"), ("rebecca", "becky"),
    ("victoria", "vicky", "tori"), ("timothy", "tim"), ("kenneth", "ken", "kenny"),
]
_VARIANT_OF: dict[str, set[str]] = {}
for _group in _VARIANTS:
    for _name in _group:
        _VARIANT_OF.setdefault(_name, set()).update(_group)


def first_name_score(a: str, b: str) -> float:
    """Exact, Initials, Jaro-Winkler, Metaphone 3, Name Variant; the maximum counts."""
    a, b = _norm(a).rstrip("."), _norm(b).rstrip(".")
    if not a or not b:
        return 0.0
    if a == b or b in _VARIANT_OF.get(a, ()):
        return 100.0
    if (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return 100.0          # Initials: "J" and "John"
    if phonetic(a) == phonetic(b):
        return 100.0
    return jaro_winkler(a, b)


def last_name_score(a: str, b: str) -> float:
    """Exact, Keyboard Distance, Metaphone 3; the maximum counts."""
    a, b = _norm(a), _norm(b)
    if not a or not b:
        return 0.0
    if a == b or phonetic(a) == phonetic(b):
        return 100.0
    return keyboard_score(a, b)


_LEGAL = {"inc", "incorporated", "corp", "corporation", "co", "company", "llc", "ltd", "limited",
          "plc", "gmbh", "ag", "sa", "the", "group", "holdings"}


def _company_words(value: Any) -> list[str]:
    words = "".join(ch if ch.isalnum() else " " for ch in str(value or "").lower()).split()
    return [w for w in words if w not in _LEGAL]


def company_score(a: Any, b: Any) -> float:
    """Acronym, Edit Distance, Exact, after dropping punctuation and legal words (Inc, Corp...)."""
    wa, wb = _company_words(a), _company_words(b)
    if not wa or not wb:
        return 0.0
    ja, jb = " ".join(wa), " ".join(wb)
    if ja == jb:
        return 100.0
    for short, words in ((ja, wb), (jb, wa)):
        if len(words) > 1 and short.replace(" ", "") == "".join(w[0] for w in words):
            return 100.0      # Acronym: "IBM" and "International Business Machines"
    return edit_score(ja, jb)


def _phone_digits(value: Any) -> str:
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _exact(a: Any, b: Any) -> float:
    return 100.0 if _norm(a) and _norm(a) == _norm(b) else 0.0


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
            group: tuple[Any, ...]) -> bool:
    if isinstance(term, tuple):
        return any(_passes(t, scores, a, b, group) for t in term)
    if term in ("FirstName", "LastName") and "Email" in group and (not a.get(term) or not b.get(term)):
        return True   # "ignores blank fields when Email is included in field grouping"
    return scores[term] >= _CRITERIA[term][3]


def standard_match(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    """The confidence (mean score of the first satisfied group) or None when no group holds."""
    scores = _scores(a, b)
    for group in _EQUATION:
        if all(_passes(term, scores, a, b, group) for term in group):
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
            for other, prof in self._candidates(store, target, row, keys, account_name, skip):
                confidence = standard_match(me, prof)
                if confidence is not None:
                    found.append((other, confidence))
            if found:
                found.sort(key=lambda pair: -pair[1])
                out.append((target, _RULE_NAMES[target], found))
        return out

    def _candidates(self, store: DupeHost, target: str, row: Mapping[str, Any], keys: set[str],
                    account_name: Callable[[Any], Any], skip: frozenset[str]
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
