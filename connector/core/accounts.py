"""Lead-to-account matching: which Salesforce Account does this person belong to? (pure)

A new person at a company that is already a customer should not arrive as a stray Lead
(field notes: the complaint about today's tools). This room answers "which Account?" from
plain data: the people of a batch (email -> company as typed) and the Account rows the
adapter's lookups returned. Reading the shipped free-mail list is its only I/O.

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
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from connector.errors import ConfigError, LeadsyncError
from connector.shipped import shipped_file

FREE_MAIL_FILE = "freemail.txt"   # in mappings/; found by connector.shipped
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


_KEYS = ("enabled", "by_company", "new_person", "lead_field", "free_mail_extra",
         "ignore_domains")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def parse_account_matching(table: Mapping[str, Any] | None) -> AccountMatching:
    """The ``[accounts]`` table of leadsync's TOML -> :class:`AccountMatching`.

    No table means matching is off. A table that is present turns it on unless it says
    ``enabled = false``: writing ``[accounts]`` and then finding nothing matched because a
    second switch was left off would be a silent surprise. Every mistake names its key.
    """
    if table is None:
        return AccountMatching()
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table", key="accounts")
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown key; expected one of {', '.join(sorted(_KEYS))}",
                              key=f"accounts.{key}")
    return AccountMatching(
        enabled=_bool(table.get("enabled", True), "accounts.enabled"),
        by_company=_bool(table.get("by_company", False), "accounts.by_company"),
        new_person=_new_person(table.get("new_person", "lead")),
        lead_field=_lead_field(table.get("lead_field")),
        free_mail_extra=_domain_list(table.get("free_mail_extra", []),
                                     "accounts.free_mail_extra"),
        ignore_domains=_domain_list(table.get("ignore_domains", []), "accounts.ignore_domains"),
    )


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", key=key)
    return value


def _new_person(value: Any) -> str:
    if value not in NEW_PERSON_CHOICES:
        raise ConfigError(f"must be one of {', '.join(NEW_PERSON_CHOICES)} (got {value!r})",
                          key="accounts.new_person")
    return str(value)


def _lead_field(value: Any) -> str | None:
    """A Lead field's API name; whether it exists is for ``mappings check`` (describe)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _FIELD_NAME.fullmatch(value.strip()):
        raise ConfigError("must be the API name of a Lead field, e.g. Matched_Account__c",
                          key="accounts.lead_field")
    return value.strip()


def _domain_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError('must be a list of domains, e.g. ["example.com"]', key=key)
    out: list[str] = []
    for i, item in enumerate(value):
        domain = normalise_domain(item) if isinstance(item, str) else None
        if domain is None:
            raise ConfigError(f"not a domain: {item!r}", key=f"{key}[{i}]")
        if domain not in out:
            out.append(domain)
    return tuple(out)


def _domains_or_keep(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise_domain(v) or v.strip().lower() for v in values))


# --------------------------------------------------------------------------- domains

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9\-]{1,59})")
_WWW = re.compile(r"^www\d*\.")
_SPLIT_LIST = re.compile(r"[\s,;|]+")

# Multi-part public suffixes: a domain ending in one of these is registered one label
# further left ("acme.co.uk", not "co.uk"). Not the full Public Suffix List
# (publicsuffix.org): the ccTLD second levels company websites actually use, plus shared
# hosting platforms whose customers each own a subdomain (two shops on myshopify.com are
# two companies, not one).
MULTI_PART_SUFFIXES: frozenset[str] = frozenset("""
    co.uk org.uk ac.uk gov.uk ltd.uk plc.uk me.uk net.uk sch.uk nhs.uk
    com.au net.au org.au edu.au gov.au asn.au id.au
    co.nz net.nz org.nz ac.nz govt.nz
    co.jp ne.jp or.jp ac.jp go.jp
    com.br net.br org.br gov.br
    co.in net.in org.in firm.in gen.in ind.in ac.in gov.in
    co.za org.za net.za gov.za ac.za
    com.mx org.mx gob.mx
    com.cn net.cn org.cn gov.cn edu.cn
    com.hk org.hk com.tw org.tw com.sg org.sg com.my com.ph com.vn co.id co.th ac.th
    co.kr or.kr ac.kr com.pk com.bd com.lk com.np
    com.tr org.tr gen.tr com.ua com.pl net.pl org.pl com.ru com.es com.pt com.gr com.cy
    co.il org.il ac.il com.sa com.eg com.qa com.kw com.om com.bh co.ae
    com.ar com.co com.pe com.ve com.uy com.ec com.bo com.py com.do com.gt com.pa com.sv
    co.cr com.ni com.hn com.cu
    com.ng co.ke co.tz co.ug com.gh co.zw co.bw com.na co.ma
    co.at or.at gv.at ac.at co.hu co.no com.mt com.ee
    qc.ca on.ca bc.ca ab.ca
    github.io gitlab.io herokuapp.com netlify.app vercel.app pages.dev web.app
    firebaseapp.com azurewebsites.net cloudfront.net appspot.com blogspot.com
    wordpress.com wixsite.com squarespace.com weebly.com myshopify.com business.site
    webflow.io carrd.co
""".split())

# Sites where the path, not the host, names the company ("linkedin.com/company/acme"):
# an Account whose Website is such a profile page tells nothing about the domain.
PROFILE_HOSTS: frozenset[str] = frozenset("""
    linkedin.com facebook.com fb.com twitter.com x.com instagram.com youtube.com
    xing.com crunchbase.com google.com goo.gl bit.ly linktr.ee medium.com github.com
    yelp.com tiktok.com pinterest.com t.me wa.me
""".split())


def normalise_domain(text: str) -> str | None:
    """A website, host or email address -> its lower-case host without ``www.``; None if junk.

    Accepts what people type into a Website field: a scheme or none, ``www.``, paths,
    queries, ports, user-info, a trailing dot, any case, several sites in one field (the
    first is taken). International names come out in their IDNA (``xn--``) form so the
    typed and the encoded spelling compare equal. IP addresses, single labels
    (``localhost``), "n/a" and the like are junk: they identify no company.
    """
    if not isinstance(text, str):
        return None
    first = _SPLIT_LIST.split(text.strip(), maxsplit=1)[0].strip()
    if not first:
        return None
    host = _host_of(first)
    if host is None:
        return None
    host = _idna(host.rstrip("."))
    if host is None or not _is_domain(host):
        return None
    stripped = _WWW.sub("", host)
    return stripped if "." in stripped else host


def _host_of(text: str) -> str | None:
    """The host part of a URL-ish text, or None when there is none."""
    url = text if _SCHEME.match(text) else "//" + text
    try:
        host = urlsplit(url).hostname
    except ValueError:          # e.g. an unbalanced "[" in the netloc
        return None
    return host or None


def _idna(host: str) -> str | None:
    """Lower-case ASCII form of a host name (``München.de`` -> ``xn--mnchen-3ya.de``)."""
    if host.isascii():
        return host.lower()
    try:
        return ".".join(label.encode("idna").decode("ascii") for label in host.split("."))
    except UnicodeError:
        return None


def _is_domain(host: str) -> bool:
    labels = host.split(".")
    return (len(labels) >= 2 and len(host) <= 253
            and all(_LABEL.fullmatch(label) for label in labels)
            and bool(_TLD.fullmatch(labels[-1])))


def registrable_domain(domain: str) -> str:
    """The part of a host a company registers: ``eu.shop.acme.co.uk`` -> ``acme.co.uk``.

    Uses :data:`MULTI_PART_SUFFIXES`, a short list rather than the full Public Suffix
    List; under any other suffix the last two labels are the registrable domain. A host
    that is itself a suffix (``co.uk``) is returned as it is.
    """
    labels = domain.strip().rstrip(".").lower().split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_PART_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def email_domain(email: str) -> str:
    """The normalised host after the last "@" of an email address; "" when there is none."""
    if not isinstance(email, str) or "@" not in email:
        return ""
    return normalise_domain(email.rsplit("@", 1)[1]) or ""


def website_domain(website: str | None) -> str | None:
    """An Account Website -> the host it stands for, or None when it names no domain.

    A profile page on a shared site (``linkedin.com/company/acme``) is not the company's
    domain: matching it would put every LinkedIn employee on that Account.
    """
    if not website:
        return None
    host = normalise_domain(website)
    if host is None:
        return None
    if registrable_domain(host) in PROFILE_HOSTS and _has_path(website):
        return None
    return host


def _has_path(website: str) -> bool:
    first = _SPLIT_LIST.split(website.strip(), maxsplit=1)[0]
    url = first if _SCHEME.match(first) else "//" + first
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path.strip("/") != "" or bool(parts.query) or bool(parts.fragment)


# --------------------------------------------------------------------------- free mail


@dataclass(frozen=True)
class FreeMailList:
    """The shipped free-mail list: exact domains and ``brand.*`` families."""

    domains: frozenset[str]
    brands: frozenset[str]      # "yahoo" for "yahoo.*": yahoo.com, yahoo.co.uk, yahoo.fr...

    def __contains__(self, domain: str) -> bool:
        for name in {domain, registrable_domain(domain)}:
            brand, _, rest = name.partition(".")
            if name in self.domains or (brand in self.brands and _is_suffix_like(rest)):
                return True
        return False


def _is_suffix_like(rest: str) -> bool:
    """Is ``rest`` a public suffix ("com", "co.uk", "com.ar")? For ``brand.*`` entries."""
    labels = rest.split(".")
    return (len(labels) == 1 or rest in MULTI_PART_SUFFIXES
            or (len(labels) == 2 and all(len(label) <= 3 for label in labels)))


def parse_free_mail(text: str) -> FreeMailList:
    """One domain (or ``brand.*``) a line; blank lines and ``#`` comments ignored."""
    domains: set[str] = set()
    brands: set[str] = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if entry.endswith(".*"):
            brands.add(entry[:-2])
            continue
        domain = normalise_domain(entry)
        if domain:
            domains.add(domain)
    return FreeMailList(frozenset(domains), frozenset(brands))


@lru_cache(maxsize=4)
def load_free_mail(path: str | Path | None = None) -> FreeMailList:
    """Read a free-mail list once per process (cached by path); by default the shipped one,
    looked up on first use so an installed copy finds it too (see connector.shipped)."""
    if path is None:
        path = shipped_file(FREE_MAIL_FILE)
    try:
        return parse_free_mail(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        # Failing loudly beats matching every gmail.com person to an Account that once
        # typed gmail.com as its Website.
        raise LeadsyncError(f"the free-mail list is missing: {path}") from None


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
