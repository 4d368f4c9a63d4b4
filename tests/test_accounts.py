"""Lead-to-account matching (connector/accounts.py): pure tables, no server."""

from __future__ import annotations

import itertools

import pytest

from connector.config.accounts import parse_account_matching
from connector.core.accounts import (
    AccountMatch,
    AccountMatching,
    LookupTerms,
    company_prefixes,
    is_free_mail,
    lookup_terms,
    match_accounts,
    normalise_company,
)
from connector.core.domains import (
    email_domain,
    normalise_domain,
    parse_free_mail,
    registrable_domain,
    website_domain,
)
from connector.shipped import load_free_mail
from connector.errors import ConfigError

ON = AccountMatching(enabled=True)
BY_COMPANY = AccountMatching(enabled=True, by_company=True)


def account(id_: str, name: str = "Acme", website: str | None = "acme.com",
            created: str = "2020-01-01T00:00:00.000+0000", owner: str | None = "005A") -> dict:
    return {"Id": id_, "Name": name, "Website": website, "OwnerId": owner, "CreatedDate": created}


# --------------------------------------------------------------------------- domains

@pytest.mark.parametrize("text, expected", [
    ("acme.com", "acme.com"),
    ("https://www.Acme.com/about?x", "acme.com"),        # scheme, www, path, query, case
    ("http://acme.com/", "acme.com"),
    ("acme.com/en", "acme.com"),                          # path without a scheme
    ("acme.com:443", "acme.com"),                         # port
    ("https://acme.com:8443/x#y", "acme.com"),
    ("WWW.ACME.COM.", "acme.com"),                        # case, trailing dot
    ("  www.acme.com  ", "acme.com"),
    ("www2.acme.com", "acme.com"),
    ("HTTPS://WWW.ACME.CO.UK/contact", "acme.co.uk"),
    ("shop.acme.com", "shop.acme.com"),                   # other subdomains are kept here
    ("info@acme.com", "acme.com"),                        # an email typed as a website
    ("https://user:pw@acme.com/", "acme.com"),
    ("acme.com, acme.de", "acme.com"),                    # several sites: the first
    ("acme.com; acme.de", "acme.com"),
    ("München.de", "xn--mnchen-3ya.de"),                  # IDNA: both spellings agree
    ("https://www.XN--MNCHEN-3YA.de/", "xn--mnchen-3ya.de"),
    ("www.com", "www.com"),                               # www is only stripped off a domain
])
def test_normalise_domain_variants(text: str, expected: str) -> None:
    assert normalise_domain(text) == expected


@pytest.mark.parametrize("junk", [
    "", "   ", "n/a", "none", "-", "http://", "https:///path", "localhost", "acme",
    "10.0.0.1", "http://192.168.1.1/", "http://[::1]/", "acme..com", "-acme.com",
    "acme.c0m", "a" * 64 + ".com", "acme_corp.com", "http://[broken",
])
def test_normalise_domain_junk_is_none(junk: str) -> None:
    assert normalise_domain(junk) is None


def test_normalise_domain_of_a_non_string_is_none() -> None:
    assert normalise_domain(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("domain, expected", [
    ("acme.com", "acme.com"),
    ("eu.shop.acme.com", "acme.com"),
    ("eu.shop.acme.co.uk", "acme.co.uk"),
    ("acme.co.uk", "acme.co.uk"),
    ("mail.acme.com.au", "acme.com.au"),
    ("acme.co.jp", "acme.co.jp"),
    ("x.acme.com.br", "acme.com.br"),
    ("acme.co.za", "acme.co.za"),
    ("co.uk", "co.uk"),                                   # a bare suffix stays itself
    ("acme.de", "acme.de"),
    ("shop.acme.io", "acme.io"),
    ("acme.github.io", "acme.github.io"),                 # shared hosting: one customer each
    ("acme.myshopify.com", "acme.myshopify.com"),
    ("ACME.COM.", "acme.com"),
])
def test_registrable_domain(domain: str, expected: str) -> None:
    assert registrable_domain(domain) == expected


@pytest.mark.parametrize("email, expected", [
    ("bob@acme.com", "acme.com"),
    ("Bob@EU.Acme.COM", "eu.acme.com"),
    ("bob@www.acme.com", "acme.com"),
    ('"odd@name"@acme.com', "acme.com"),                  # the last "@" counts
    ("bob", ""),
    ("bob@", ""),
    ("bob@localhost", ""),
    ("", ""),
])
def test_email_domain(email: str, expected: str) -> None:
    assert email_domain(email) == expected


@pytest.mark.parametrize("website, expected", [
    ("https://www.acme.com/about", "acme.com"),
    ("https://www.linkedin.com/company/acme", None),      # a profile page, not a domain
    ("facebook.com/acme", None),
    ("https://linkedin.com", "linkedin.com"),             # LinkedIn's own Account
    ("", None),
    (None, None),
    ("n/a", None),
])
def test_website_domain(website: str | None, expected: str | None) -> None:
    assert website_domain(website) == expected


# --------------------------------------------------------------------------- free mail

@pytest.mark.parametrize("domain", [
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.com.ar", "yahoo.fr",
    "outlook.com", "outlook.de", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "web.de",
    "mail.ru", "yandex.ru", "yandex.com", "proton.me", "protonmail.com", "zoho.com",
    "qq.com", "163.com", "GMAIL.COM", "gmail.com.", "vip.163.com", "mail.yahoo.com",
])
def test_shipped_free_mail(domain: str) -> None:
    assert is_free_mail(domain, ON)


@pytest.mark.parametrize("domain", [
    "acme.com", "outlook.acme.com", "yahoo.acme-corp.com", "gmail.acme.com",
    "notgmail.com", "acme.co.uk", "",
])
def test_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain, ON)


def test_shipped_list_is_a_few_hundred_and_cached() -> None:
    shipped = load_free_mail()
    assert 250 <= len(shipped.domains) + len(shipped.brands) <= 1000
    assert {"yahoo", "hotmail", "gmx", "yandex", "outlook"} <= shipped.brands
    assert load_free_mail() is shipped


def test_free_mail_extra_from_config() -> None:
    settings = AccountMatching(enabled=True, free_mail_extra=(" Partner-Mail.COM ",))
    assert settings.free_mail_extra == ("partner-mail.com",)
    assert is_free_mail("partner-mail.com", settings)
    assert is_free_mail("eu.partner-mail.com", settings)
    assert not is_free_mail("partner-mail.com", ON)


def test_parse_free_mail_format() -> None:
    listed = parse_free_mail("# comment\n\nExample.ORG  # trailing\nbrand.*\nnot a domain\n")
    assert listed.domains == frozenset({"example.org"})
    assert listed.brands == frozenset({"brand"})
    assert "brand.co.uk" in listed and "sub.example.org" in listed
    assert "brand.acme.org" not in listed and "example.com" not in listed


# --------------------------------------------------------------------------- company names

@pytest.mark.parametrize("name", [
    "Acme", "Acme, Inc.", "ACME Inc", "acme incorporated", "Acme GmbH", "Acme Ltd.",
    "Acme Limited", "Acme LLC", "Acme L.L.C.", "Acme Corp.", "Acme Corporation",
    "Acme Co.", "Acme Company", "Acme Company Limited", "Acme Pty Ltd", "Acme S.A.",
    "Acme SAS", "Acme S.à r.l.", "Acme B.V.", "Acme N.V.", "Acme plc", "Acme AG",
    "Acme Oy", "Acme AB", "Acme AS", "Acme A/S", "Acme K.K.", "Acme S.p.A.", "Acme S.r.l.",
    "Acme GmbH & Co. KG", "Acme Sp. z o.o.", "Acme, S.A. de C.V.", "The Acme Company",
    "  ACME,   INC  ", "Acme Inc Ltd", "Ácmé", "Acme & Co",
])
def test_company_variants_normalise_to_one_key(name: str) -> None:
    assert normalise_company(name) == "acme"


@pytest.mark.parametrize("name, expected", [
    ("Procter & Gamble", "procter and gamble"),
    ("Procter and Gamble Co.", "procter and gamble"),
    ("AT&T Inc.", "at and t"),
    ("O'Reilly Media, Inc.", "oreilly media"),
    ("L'Oréal S.A.", "loreal"),
    ("Société Générale", "societe generale"),
    ("Müller GmbH", "muller"),
    ("Straße AG", "strasse"),
    ("Hewlett-Packard", "hewlett packard"),
    ("Hewlett Packard", "hewlett packard"),
    ("ООО Яндекс", "ооо яндекс"),                          # other scripts are kept
    ("Яндекс ООО", "яндекс"),
    ("Acme Holdings Pty Ltd", "acme holdings"),           # "holdings" is not a legal form
    ("Inc.", "inc"),                                      # never reduced to empty
    ("Limited Co", "limited"),
    ("AB", "ab"),
    ("The", "the"),
    ("", ""),
])
def test_company_normalisation(name: str, expected: str) -> None:
    assert normalise_company(name) == expected


def test_company_names_that_differ_stay_apart() -> None:
    assert normalise_company("Acme Labs Inc") != normalise_company("Acme Inc")
    assert normalise_company("Acmes") != normalise_company("Acme")


@pytest.mark.parametrize("company, expected", [
    ("Acme, Inc.", ("acme",)),
    ("Société Générale", ("société", "societe")),         # either spelling of the Account
    ("L'Oréal", ("loreal",)),                             # leading run too short
    ("HP", ("hp",)),
    ("3M Company", ("3m",)),
    ("The Acme Co", ("acme",)),
    ("S.A.", ()),                                         # nothing worth a LIKE
    ("O'Reilly", ("oreilly",)),
])
def test_company_prefixes(company: str, expected: tuple[str, ...]) -> None:
    assert company_prefixes(company) == expected


# --------------------------------------------------------------------------- lookup terms

def test_lookup_terms_domains_exclude_free_mail_and_ignored() -> None:
    settings = AccountMatching(enabled=True, ignore_domains=("ourco.com",))
    people = {
        "bob@eu.acme.co.uk": "Acme",
        "ann@acme.co.uk": None,
        "joe@gmail.com": "Initech",
        "me@ourco.com": "OurCo",
        "sales@eu.ourco.com": None,
        "x@globex.com": "Globex Corp",
        "broken": None,
    }
    terms = lookup_terms(people, settings)
    assert terms == LookupTerms(domains=("acme.co.uk", "globex.com"), company_prefixes=())


def test_lookup_terms_company_prefixes_when_by_company() -> None:
    people = {"joe@gmail.com": "Initech, LLC", "ann@acme.com": "Acme Inc",
              "x@yahoo.com": "[not provided]", "y@hotmail.com": "n/a", "z@aol.com": None}
    terms = lookup_terms(people, BY_COMPANY)
    assert terms.domains == ("acme.com",)
    assert terms.company_prefixes == ("acme", "initech")


def test_lookup_terms_idn_domain_in_both_spellings() -> None:
    terms = lookup_terms({"hans@münchen.de": None}, ON)
    assert terms.domains == ("münchen.de", "xn--mnchen-3ya.de")


def test_lookup_terms_nothing_when_disabled() -> None:
    assert lookup_terms({"bob@acme.com": "Acme"}, AccountMatching()) == LookupTerms()


# --------------------------------------------------------------------------- matching

def test_domain_match_across_website_variants() -> None:
    rows = [account("001A", "Acme Inc", "https://www.Acme.com/about?x", owner="005X")]
    people = {"bob@acme.com": None, "ann@eu.acme.com": None, "joe@ACME.COM": None}
    matches = match_accounts(people, rows, ON)
    assert set(matches) == set(people)
    assert matches["bob@acme.com"] == AccountMatch("001A", "Acme Inc", "005X", "domain")


@pytest.mark.parametrize("website", [
    "acme.com", "www.acme.com", "http://acme.com/", "https://WWW.ACME.COM.", "acme.com:443",
    "acme.com/en", "shop.acme.com", "https://www.acme.com/about?x=1#team",
])
def test_each_website_spelling_matches(website: str) -> None:
    matches = match_accounts({"bob@acme.com": None}, [account("001A", website=website)], ON)
    assert matches["bob@acme.com"].account_id == "001A"


def test_multi_part_suffix_domains_match_exactly() -> None:
    rows = [account("001UK", "Acme UK", "https://www.acme.co.uk"),
            account("001OTHER", "Other", "other.co.uk")]
    matches = match_accounts({"bob@eu.shop.acme.co.uk": None, "ann@co.uk": None}, rows, ON)
    assert matches["bob@eu.shop.acme.co.uk"].account_id == "001UK"
    assert "ann@co.uk" not in matches


def test_false_positive_like_rows_are_rejected() -> None:
    # What "Website LIKE '%acme.com%'" also returns: none of these is acme.com.
    rows = [account("001N", "Not Acme", "notacme.com"),
            account("001S", "Acme Shop", "acme.com.evil.io"),
            account("001P", "Acme Portal", "https://portal.example.com/acme.com"),
            account("001U", "Acme UK", "acme.com.au"),
            account("001X", "Xacme", "https://www.xacme.com")]
    assert match_accounts({"bob@acme.com": None}, rows, ON) == {}


def test_blank_or_junk_websites_are_skipped() -> None:
    rows = [account("001B", website=None), account("001E", website=""),
            account("001J", website="n/a"), account("001L", website="localhost"),
            account("001K", website="https://www.linkedin.com/company/acme")]
    assert match_accounts({"bob@acme.com": None, "ann@linkedin.com": None}, rows, ON) == {}


def test_free_mail_never_matches_by_domain() -> None:
    rows = [account("001G", "Gmail Typed By Mistake", "gmail.com"),
            account("001Y", "Yahoo Inc", "https://www.yahoo.com")]
    matches = match_accounts({"joe@gmail.com": "Initech", "ann@yahoo.com": None}, rows, ON)
    assert matches == {}


def test_free_mail_person_can_still_match_by_company() -> None:
    rows = [account("001I", "Initech, LLC", "initech.com"),
            account("001G", "Gmail", "gmail.com")]
    matches = match_accounts({"joe@gmail.com": "INITECH Inc."}, rows, BY_COMPANY)
    assert matches["joe@gmail.com"].account_id == "001I"
    assert matches["joe@gmail.com"].how == "company"


def test_ignored_domain_never_matches_by_domain() -> None:
    settings = AccountMatching(enabled=True, ignore_domains=("ourco.com",))
    rows = [account("001O", "OurCo", "ourco.com")]
    assert match_accounts({"me@ourco.com": None, "it@eu.ourco.com": None}, rows, settings) == {}


def test_domain_match_beats_company_match() -> None:
    rows = [account("001D", "Globex Corporation", "globex.com", created="2022-01-01"),
            account("001C", "Acme Inc", "acme-widgets.com", created="2001-01-01")]
    matches = match_accounts({"bob@globex.com": "Acme"}, rows, BY_COMPANY)
    assert matches["bob@globex.com"].account_id == "001D"
    assert matches["bob@globex.com"].how == "domain"


def test_company_match_only_when_by_company() -> None:
    rows = [account("001C", "Acme Inc", "acme.com")]
    assert match_accounts({"joe@gmail.com": "Acme"}, rows, ON) == {}
    match = match_accounts({"joe@gmail.com": "Acme"}, rows, BY_COMPANY)["joe@gmail.com"]
    assert match.how == "company"


def test_company_match_by_normalised_name_rejects_prefix_rows() -> None:
    # What "Name LIKE 'acme%'" also returns.
    rows = [account("001L", "Acme Labs", None), account("001S", "Acmes Ltd", None),
            account("001A", "ACME, Inc.", None)]
    matches = match_accounts({"joe@gmail.com": "Acme GmbH"}, rows, BY_COMPANY)
    assert matches["joe@gmail.com"].account_id == "001A"


def test_junk_company_never_matches() -> None:
    rows = [account("001N", "[not provided]", None), account("001A", "N/A", None)]
    people = {"joe@gmail.com": "[not provided]", "ann@gmail.com": "n/a", "x@gmail.com": None}
    assert match_accounts(people, rows, BY_COMPANY) == {}


TWO_ON_ONE_DOMAIN = [
    account("001B", "Acme EMEA", "https://acme.com/emea", created="2021-06-01T00:00:00.000+0000"),
    account("001C", "Acme Corp", "www.acme.com", created="2019-03-01T00:00:00.000+0000"),
    account("001A", "Acme (dup)", "acme.com", created="2023-01-01T00:00:00.000+0000"),
]


def test_several_accounts_on_one_domain_oldest_wins_in_any_order() -> None:
    results = {
        match_accounts({"bob@acme.com": None}, list(order), ON)["bob@acme.com"]
        for order in itertools.permutations(TWO_ON_ONE_DOMAIN)
    }
    assert len(results) == 1
    (match,) = results
    assert match.account_id == "001C"
    assert match.note == "3 Accounts share acme.com; chose the oldest, 001C, over 001B, 001A"


def test_same_created_date_lowest_id_wins_in_any_order() -> None:
    rows = [account("001Z", created="2020-01-01T00:00:00.000+0000"),
            account("001M", created="2020-01-01T00:00:00Z"),
            account("001Q", created="2020-01-01T00:00:00.000+0000")]
    for order in itertools.permutations(rows):
        match = match_accounts({"bob@acme.com": None}, list(order), ON)["bob@acme.com"]
        assert match.account_id == "001M"
        assert "001Q, 001Z" in match.note


def test_missing_created_date_is_never_the_oldest() -> None:
    rows = [account("001A", created=None),  # type: ignore[arg-type]
            account("001B", created="2024-01-01")]
    assert match_accounts({"bob@acme.com": None}, rows, ON)["bob@acme.com"].account_id == "001B"


def test_exact_host_beats_the_rest_of_the_domain() -> None:
    rows = [account("001OLD", "Acme", "acme.com", created="2001-01-01"),
            account("001UK", "Acme UK", "https://uk.acme.com/", created="2020-01-01")]
    matches = match_accounts({"ann@uk.acme.com": None, "bob@acme.com": None}, rows, ON)
    assert matches["ann@uk.acme.com"].account_id == "001UK"
    assert matches["ann@uk.acme.com"].note == (
        "2 Accounts share acme.com; chose the one with Website uk.acme.com, 001UK, over 001OLD")
    assert matches["bob@acme.com"].account_id == "001OLD"


def test_several_accounts_on_one_name_oldest_wins() -> None:
    rows = [account("001B", "Acme Ltd", None, created="2022-01-01"),
            account("001A", "ACME, Inc.", None, created="2018-01-01")]
    for order in (rows, rows[::-1]):
        match = match_accounts({"joe@gmail.com": "Acme"}, order, BY_COMPANY)["joe@gmail.com"]
        assert (match.account_id, match.how) == ("001A", "company")
        assert match.note == "2 Accounts share 'acme'; chose the oldest, 001A, over 001B"


def test_repeated_rows_count_once() -> None:
    rows = [account("001A"), account("001A"), {"Name": "no id", "Website": "acme.com"}]
    match = match_accounts({"bob@acme.com": None}, rows, ON)["bob@acme.com"]
    assert (match.account_id, match.note) == ("001A", "")


def test_unmatched_people_are_absent_and_disabled_matches_nothing() -> None:
    rows = [account("001A")]
    people = {"bob@acme.com": None, "x@globex.com": None}
    assert set(match_accounts(people, rows, ON)) == {"bob@acme.com"}
    assert match_accounts({"bob@acme.com": None}, rows, AccountMatching()) == {}


def test_a_batch_of_1000_against_many_rows() -> None:
    # Speed is the benchmarks' to measure (tests never assert wall-clock times, which a busy
    # CI machine makes flaky); here only that a large batch is matched whole.
    rows = [account(f"001{i:06d}", f"Company {i} Inc", f"https://www.company{i}.com/",
                    created=f"20{10 + i % 10}-01-01") for i in range(5000)]
    people = {f"p{i}@company{i * 3}.com": f"Company {i} Ltd" for i in range(1000)}
    matches = match_accounts(people, rows, BY_COMPANY)
    assert len(matches) == 1000
    assert matches["p1@company3.com"].how == "domain"


# --------------------------------------------------------------------------- config

def test_parse_defaults() -> None:
    assert parse_account_matching(None) == AccountMatching()
    assert parse_account_matching({}) == AccountMatching(enabled=True)


def test_parse_full_table() -> None:
    settings = parse_account_matching({
        "enabled": True, "by_company": True, "new_person": "contact",
        "lead_field": "Matched_Account__c", "free_mail_extra": ["Partner.com", "partner.com"],
        "ignore_domains": ["https://www.OurCo.com/"],
    })
    assert settings == AccountMatching(True, True, "contact", "Matched_Account__c",
                                       ("partner.com",), ("ourco.com",))


def test_lead_without_lead_field_is_fine() -> None:
    settings = parse_account_matching({"new_person": "lead"})
    assert (settings.new_person, settings.lead_field) == ("lead", None)


@pytest.mark.parametrize("table, key", [
    ({"new_person": "account"}, "accounts.new_person"),
    ({"new_person": 1}, "accounts.new_person"),
    ({"enabled": "yes"}, "accounts.enabled"),
    ({"by_company": 1}, "accounts.by_company"),
    ({"lead_field": "Matched Account"}, "accounts.lead_field"),
    ({"lead_field": 7}, "accounts.lead_field"),
    ({"free_mail_extra": "gmail.com"}, "accounts.free_mail_extra"),
    ({"free_mail_extra": ["ok.com", "not a domain"]}, "accounts.free_mail_extra[1]"),
    ({"ignore_domains": [42]}, "accounts.ignore_domains[0]"),
    ({"by_domain": True}, "accounts.by_domain"),
    ("yes", "accounts"),
])
def test_parse_errors_name_the_key(table: object, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_account_matching(table)  # type: ignore[arg-type]
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert caught.value.exit_code == 2
