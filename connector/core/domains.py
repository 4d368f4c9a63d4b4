"""Domains as companies use them: a host from a website or an email, and whose it is. (pure)

Lead-to-account matching compares a person's email domain with an Account's Website, and
routing's ``domain`` rules compare it with a rule's domain. Both read the domain from the
address the same way (:func:`email_domain`), so a person routed by ``acme.com`` is also the
person matched to the Account whose site is ``www.acme.com``. The free-mail list's format
is here too; reading the shipped file is :func:`connector.shipped.load_free_mail`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

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
    """The normalised host after the last "@" of an email address; "" when there is none.

    The one reading of an address's domain: account matching and routing rules both use it.
    """
    if not isinstance(email, str) or "@" not in email:
        return ""
    return normalise_domain(email.rsplit("@", 1)[1]) or ""


def domain_within(domain: str, parent: str) -> bool:
    """eu.acme.com is within acme.com; notacme.com is not."""
    return domain == parent or domain.endswith("." + parent)


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
