"""Lead-to-account matching: which Salesforce Account does this person belong to? (pure)

A new person at a company that is already a customer should not arrive as a stray Lead
(field notes: the complaint about today's tools). This room answers "which Account?" from
plain data: the people of a batch (email -> company as typed) and the Account rows the
adapter's lookups returned. The shipped free-mail list is read by ``connector.shipped``;
domains are read by ``connector.core.domains``; the ``[accounts]`` table is parsed by
``connector.config.accounts``.

How a match is made, and why:

* **By email domain against Account.Website**, compared as *registrable* domains
  (``eu.shop.acme.co.uk`` and ``https://www.acme.co.uk/about`` are both ``acme.co.uk``),
  exactly, never as substrings: the adapter finds candidates with ``Website LIKE
  '%acme.com%'``, which also returns ``notacme.com``; this room rejects those.
* **Free-mail domains never match by domain** (gmail.com says nothing about an employer).
  Neither do the org's own domains (``ignore_domains``: its staff fill forms too).
* **Optionally by company name**, normalised the way matching tools do it (cleanco, the
  Salesforce matching rules, LeanData): accents folded, case and punctuation dropped,
  "&" read as "and", legal-form suffixes (Inc, Ltd, GmbH, S.A., ...) stripped from the end.
* **A domain match beats a company match**: a domain is evidence of employment, a typed
  company name is a claim.
* **Several Accounts on one key** are resolved deterministically, whatever order the rows
  came in: an Account whose Website host is exactly the person's host first (the person at
  ``uk.acme.com`` belongs to the Account whose site is ``uk.acme.com``), then the oldest
  CreatedDate, then the lowest Id; the note names the Accounts passed over, for the ledger.

The public-suffix handling is a short built-in list of multi-part suffixes (``co.uk``,
``com.au``, ...) and shared-hosting suffixes (``github.io``, ``myshopify.com``, ...), not
the full Public Suffix List: enough for company websites, small enough to read.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterable, Mapping

from connector.core.domains import email_domain, normalise_domain, registrable_domain, website_domain
from connector.shipped import load_free_mail

NEW_PERSON_CHOICES = ("contact", "lead")

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class AccountMatching:
    """The ``[accounts]`` table: whether and how people are matched to Accounts."""

    enabled: bool = False
    by_company: bool = False            # also match by normalised company name
    new_person: str = "lead"            # under unique, a new person at a matched Account:
                                        # "contact" (a Contact on that Account) | "lead"
                                        # (a Lead carrying the Account in lead_field)
    lead_field: str | None = None       # Lead field (e.g. "Matched_Account__c") for the Account Id
    free_mail_extra: tuple[str, ...] = ()   # more free-mail domains from config
    ignore_domains: tuple[str, ...] = ()    # e.g. the org's own domain

    def __post_init__(self) -> None:
        # Built by hand (tests, the demo) as well as by the parser: keep the domain lists
        # in the one form the matching compares, so "Gmail.com " still means gmail.com.
        object.__setattr__(self, "free_mail_extra", _domains_or_keep(self.free_mail_extra))
        object.__setattr__(self, "ignore_domains", _domains_or_keep(self.ignore_domains))


def _domains_or_keep(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise_domain(v) or v.strip().lower() for v in values))


def is_free_mail(domain: str, settings: AccountMatching) -> bool:
    """Is this email domain a free-mail provider (shipped list or ``free_mail_extra``)?"""
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        return False
    extra = settings.free_mail_extra
    if domain in extra or registrable_domain(domain) in extra:
        return True
    return domain in load_free_mail()


def _is_ignored(domain: str, settings: AccountMatching) -> bool:
    return bool(settings.ignore_domains) and (
        domain in settings.ignore_domains
        or registrable_domain(domain) in settings.ignore_domains)


# --------------------------------------------------------------------------- company names

# Legal-form words stripped from the end of a name (as normalised tokens: dots dropped,
# so "S.A." is "sa" and "L.L.C." is "llc"). Multi-word forms come first in the match.
_ONE_WORD_FORMS = (
    "inc incorporated llc lc llp lp ltd limited gmbh mbh ag kg ohg ug ev "
    "sa sas sasu sarl sca snc eurl bv nv cv vof plc corp corporation co company "
    "pty pte pvt srl spa sl slu oy oyj ab as asa aps kk yk gk bhd sdn "
    "doo dd ad zrt kft sro bvba sprl cvba lda ltda cia pllc pc se kgaa"
).split()
_SEVERAL_WORD_FORMS = (
    "limited liability company", "private limited", "public limited company",
    "and co", "and company", "and cia", "gmbh and co kg", "ag and co kg", "a s",
    "sp z oo", "sp z o o", "s de rl", "s de rl de cv", "sa de cv", "kabushiki kaisha",
    "sdn bhd", "sab de cv", "sapi de cv", "sa rl",
    "ооо", "оао", "зао", "пао", "ао", "тов",      # Russian / Ukrainian forms
)
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(sorted(
    {(w,) for w in _ONE_WORD_FORMS} | {tuple(t.split()) for t in _SEVERAL_WORD_FORMS},
    key=lambda t: (-len(t), t)))

# Company texts that name no company: a match on them would join strangers.
_NO_COMPANY = frozenset({
    "", "not provided", "n a", "na", "none", "null", "nil", "self", "self employed",
    "selfemployed", "individual", "private", "personal", "unknown", "test", "student",
    "retired", "freelance", "freelancer", "home", "unemployed", "no company", "nope",
})
_NON_WORD = re.compile(r"[\W_]+")   # any script's letters and digits are words


@lru_cache(maxsize=65536)
def normalise_company(name: str) -> str:
    """A company name -> its comparison key: "Acme, Inc." == "ACME Inc" == "Acme GmbH" -> "acme".

    Accents folded and case dropped (NFKD, casefold), "&" read as "and", apostrophes and
    dots dropped inside words ("O'Reilly" -> "oreilly", "S.A." -> "sa"), other punctuation
    read as spaces, a leading "the" and legal-form suffixes stripped from the end, again
    and again ("Acme Holdings Pty Ltd" keeps "holdings": it is not a legal form). A name
    that is nothing but such words keeps its normalised text rather than becoming "",
    which would make every such name equal.
    """
    tokens = _tokens(name)
    if not tokens:
        return ""
    core = _strip_suffixes(tokens[1:] if tokens[0] == "the" and len(tokens) > 1 else tokens)
    return " ".join(core or tokens)


def _tokens(name: str) -> list[str]:
    text = unicodedata.normalize("NFKD", str(name).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("đ", "d")
    text = text.replace("ł", "l").replace("œ", "oe").replace("ı", "i")
    text = text.replace("&", " and ").replace("+", " and ")
    text = re.sub(r"['’`´.]", "", text)
    return _NON_WORD.sub(" ", text).split()


def _strip_suffixes(tokens: list[str]) -> list[str]:
    changed = True
    while changed and tokens:
        changed = False
        for term in LEGAL_SUFFIXES:
            n = len(term)
            if len(tokens) > n and tuple(tokens[-n:]) == term:
                tokens = tokens[:-n]
                changed = True
                break
    return tokens


def is_company_name(name: str | None) -> bool:
    """Does this text name a company at all ("[not provided]", "n/a", "self" do not)?"""
    return bool(name) and normalise_company(str(name)) not in _NO_COMPANY


# --------------------------------------------------------------------------- lookup terms


@dataclass(frozen=True)
class LookupTerms:
    """What the adapter searches for: Account.Website by domain, Account.Name by prefix.

    ``domains`` are registrable domains (free mail and ignored domains left out), with the
    Unicode spelling beside the ``xn--`` one for international names, since a Website is
    typed either way. ``company_prefixes`` are letters and digits only (nothing to escape
    in a LIKE), at least 3 characters unless the company's first word is shorter ("HP").
    """

    domains: tuple[str, ...] = ()
    company_prefixes: tuple[str, ...] = ()


def lookup_terms(people: Mapping[str, str | None], settings: AccountMatching) -> LookupTerms:
    """The searches that can find every Account these people may match, and no more."""
    if not settings.enabled:
        return LookupTerms()
    domains: set[str] = set()
    prefixes: set[str] = set()
    for email, company in people.items():
        domain = _matchable_domain(email, settings)
        if domain:
            domains.update(_spellings(registrable_domain(domain)))
        if settings.by_company and company and is_company_name(company):
            prefixes.update(company_prefixes(company))
    return LookupTerms(tuple(sorted(domains)), tuple(sorted(prefixes)))


def _matchable_domain(email: str, settings: AccountMatching) -> str:
    domain = email_domain(email)
    if not domain or is_free_mail(domain, settings) or _is_ignored(domain, settings):
        return ""
    return domain


def _spellings(domain: str) -> tuple[str, ...]:
    if "xn--" not in domain:
        return (domain,)
    try:
        return (domain, domain.encode("ascii").decode("idna"))
    except UnicodeError:
        return (domain,)


_LEADING_RUN = re.compile(r"[^\W_]+")


def company_prefixes(company: str) -> tuple[str, ...]:
    """Starts of the company's name to search ``Account.Name LIKE 'prefix%'`` with.

    The leading letters and digits as typed ("Acme, Inc." -> "acme"), since the Account's
    raw Name must start with them, plus their accent-folded spelling when it differs
    ("Société" -> "societe"), as the Account may be typed either way. When the leading run
    is shorter than 3 characters ("L'Oréal" -> "l") the normalised name's first word
    ("loreal") is used; a 2-character name ("HP", "3M") is searched as it is; nothing
    shorter is searched at all (it would read half the org). A leading "the" is skipped.
    Prefixes are letters and digits only: nothing in them needs escaping in a LIKE.
    Known limit: "The Acme Company" is not found from "Acme" (the pure matching would
    accept it; the search misses it).
    """
    text = company.strip().casefold()
    if text.startswith("the "):
        text = text[4:].lstrip()
    m = _LEADING_RUN.match(text)
    run = m.group(0) if m else ""
    if len(run) >= 3:
        folded = _fold(run)
        return (run,) if folded == run or len(folded) < 3 else (run, folded)
    first = normalise_company(company).split(" ", 1)[0]
    if len(first) >= 3:
        return (first,)
    return (run,) if len(run) == 2 else ()


def _fold(text: str) -> str:
    """Accents folded, letters and digits kept: the ASCII spelling of a typed word."""
    return "".join(_tokens(text))


# --------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class AccountMatch:
    """The Account a person was matched to, how, and what was passed over."""

    account_id: str
    name: str
    owner_id: str | None
    how: str                 # "domain" | "company"
    note: str = ""           # e.g. "2 Accounts share acme.com; chose the oldest 001.. over 001.."


@dataclass(frozen=True)
class _Account:
    id: str
    name: str
    owner_id: str | None
    created: datetime
    host: str | None          # normalised Website host, None when blank or junk

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.created, self.id)


@dataclass
class _Index:
    by_domain: dict[str, list[_Account]] = field(default_factory=dict)
    by_name: dict[str, list[_Account]] = field(default_factory=dict)


def match_accounts(people: Mapping[str, str | None], account_rows: Iterable[Mapping[str, Any]],
                   settings: AccountMatching) -> dict[str, AccountMatch]:
    """Each person (email -> company) with an Account -> that match; the others are absent.

    ``account_rows`` are whatever the adapter's LIKE searches returned (Id, Name, Website,
    OwnerId, CreatedDate), false positives and repeats included; the rows are indexed once,
    so a batch of 1,000 people costs one pass over each.
    """
    if not settings.enabled:
        return {}
    index = _index(account_rows, by_company=settings.by_company)
    matches: dict[str, AccountMatch] = {}
    for email, company in people.items():
        match = _match_one(email, company, index, settings)
        if match is not None:
            matches[email] = match
    return matches


def _index(rows: Iterable[Mapping[str, Any]], *, by_company: bool) -> _Index:
    index = _Index()
    seen: set[str] = set()
    for row in rows:
        account = _account(row)
        if account is None or account.id in seen:
            continue
        seen.add(account.id)
        if account.host is not None:
            index.by_domain.setdefault(registrable_domain(account.host), []).append(account)
        if by_company and is_company_name(account.name):
            index.by_name.setdefault(normalise_company(account.name), []).append(account)
    return index


def _account(row: Mapping[str, Any]) -> _Account | None:
    account_id = row.get("Id")
    if not account_id:
        return None
    return _Account(id=str(account_id), name=str(row.get("Name") or ""),
                    owner_id=row.get("OwnerId") or None,
                    created=_created(row.get("CreatedDate")),
                    host=website_domain(row.get("Website")))


_NEWEST = datetime.max.replace(tzinfo=timezone.utc)


def _created(value: Any) -> datetime:
    """CreatedDate as an aware datetime; a missing or odd one sorts last (never 'oldest')."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return _NEWEST
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _match_one(email: str, company: str | None, index: _Index,
               settings: AccountMatching) -> AccountMatch | None:
    domain = _matchable_domain(email, settings)
    if domain:
        candidates = index.by_domain.get(registrable_domain(domain))
        if candidates:
            return _choose(candidates, how="domain", key=registrable_domain(domain), host=domain)
    if settings.by_company and company and is_company_name(company):
        candidates = index.by_name.get(normalise_company(company))
        if candidates:
            return _choose(candidates, how="company", key=repr(normalise_company(company)))
    return None


def _choose(candidates: list[_Account], *, how: str, key: str,
            host: str | None = None) -> AccountMatch:
    """The deterministic pick among Accounts sharing a key, with a note naming the others.

    Accounts whose Website host is the person's own host (``uk.acme.com``) are preferred
    over the rest of the registrable domain; within that, the oldest CreatedDate, then the
    lowest Id, so the same rows give the same answer in any order.
    """
    ranked = sorted(candidates, key=lambda a: a.order)
    exact = [a for a in ranked if host is not None and a.host == host]
    if exact and len(exact) < len(ranked):
        chosen = exact[0]
        which = "the oldest" if len(exact) > 1 else "the one"
        why = f"{which} with Website {host}"
    else:
        chosen = ranked[0]
        why = "the oldest"
    note = ""
    if len(ranked) > 1:
        others = ", ".join(a.id for a in ranked if a is not chosen)
        note = f"{len(ranked)} Accounts share {key}; chose {why}, {chosen.id}, over {others}"
    return AccountMatch(chosen.id, chosen.name, chosen.owner_id, how, note)
