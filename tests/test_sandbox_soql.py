"""The sandbox's SOQL subset: parsing, Salesforce semantics, errors and index constraints.

Queries are built with simple-salesforce's ``format_soql`` wherever values are interpolated,
because that is what leadsync itself sends; the sandbox must read those bytes exactly as
Salesforce does.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest
from simple_salesforce import format_soql

from connector.sandbox import soql
from connector.sandbox.soql import (
    And, Comparison, Not, Or, Query, SoqlError, equality_constraints, execute,
    index_key, parse,
)

SCHEMA = {
    "Id": "id",
    "Email": "email",
    "FirstName": "string",
    "LastName": "string",
    "Company": "string",
    "Status": "picklist",
    "IsConverted": "boolean",
    "CreatedDate": "datetime",
    "ConvertedDate": "date",
    "NumberOfEmployees": "int",
    "AnnualRevenue": "currency",
    "OwnerId": "reference",
    "Description": "textarea",
}


def _id(n: int) -> str:
    return f"00Q{n:012d}EAA"


LEADS = [
    {"Id": _id(1), "Email": "ann@example.com", "FirstName": "Ann", "LastName": "Archer",
     "Company": "Acme", "Status": "Open", "IsConverted": False,
     "CreatedDate": "2024-05-01T10:00:00.000+0000", "NumberOfEmployees": 10,
     "AnnualRevenue": 1000.5, "OwnerId": "005000000000001AAA"},
    {"Id": _id(2), "Email": "BOB@Example.com", "FirstName": "bob", "LastName": "baker",
     "Company": "acme", "Status": "Working", "IsConverted": True,
     "CreatedDate": "2024-05-01T12:00:00.000+0000", "ConvertedDate": "2024-05-03",
     "NumberOfEmployees": 250, "AnnualRevenue": 0},
    {"Id": _id(3), "Email": None, "FirstName": "Cy", "LastName": "Carter",
     "Company": "Globex", "Status": "Open",
     "CreatedDate": "2024-04-30T23:30:00.000+0000", "NumberOfEmployees": -5},
    {"Id": _id(4), "Email": "dee@globex.com", "LastName": "Dunn", "Company": "Globex",
     "Status": "Closed", "IsConverted": False,
     "CreatedDate": "2024-05-02T00:00:00.000+0000", "Description": "50%_off promo"},
    {"Id": _id(5), "Email": "", "FirstName": "Eve", "LastName": "o'brien\\x",
     "Company": "Initech", "Status": "open", "IsConverted": False,
     "NumberOfEmployees": 10},
]


def ids(soql_text: str, records=LEADS, schema=SCHEMA) -> list[int]:
    """Run a query and return the numeric part of the matching Ids, in result order."""
    rows, total = execute(parse(soql_text), records, schema)
    assert total == len(rows)
    return [int(r["Id"][3:15]) for r in rows]


def where(clause: str) -> list[int]:
    return ids(f"SELECT Id FROM Lead WHERE {clause}")


def error_of(soql_text: str, schema=SCHEMA) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        execute(parse(soql_text), LEADS, schema)
    return info.value


# --- operators ------------------------------------------------------------------------------

@pytest.mark.parametrize("clause, expected", [
    ("Email = 'ann@example.com'", [1]),
    ("Email = 'bob@example.COM'", [2]),                 # case-insensitive
    ("Email != 'ann@example.com'", [2, 3, 4, 5]),       # != includes nulls
    ("Email <> 'ann@example.com'", [2, 3, 4, 5]),
    ("NumberOfEmployees < 10", [3]),
    ("NumberOfEmployees <= 10", [1, 3, 5]),
    ("NumberOfEmployees > 10", [2]),
    ("NumberOfEmployees >= -5", [1, 2, 3, 5]),
    ("NumberOfEmployees = 10", [1, 5]),
    ("AnnualRevenue > 1000.25", [1]),
    ("AnnualRevenue = 0", [2]),
    ("AnnualRevenue = 0.0", [2]),
    ("LastName < 'C'", [1, 2]),                         # 'baker' < 'C' case-insensitively
    ("LastName >= 'carter'", [3, 4, 5]),
    ("Company IN ('ACME', 'initech')", [1, 2, 5]),
    ("Company NOT IN ('ACME', 'initech')", [3, 4]),
    ("Status in ('OPEN')", [1, 3, 5]),
    ("IsConverted = true", [2]),
    ("IsConverted = FALSE", [1, 3, 4, 5]),             # missing checkbox is false
    ("IsConverted != true", [1, 3, 4, 5]),
    ("Company LIKE 'ac%'", [1, 2]),
    ("Company LIKE '%EX'", [3, 4]),
    ("Company LIKE '%ni%'", [5]),
    ("Company LIKE 'gl_bex'", [3, 4]),
    ("Company LIKE 'acme'", [1, 2]),
    ("Company LIKE '_'", []),
    ("Company LIKE '%'", [1, 2, 3, 4, 5]),
    ("Email LIKE '%@%.com'", [1, 2, 4]),
    ("Id = '" + _id(3) + "'", [3]),
    ("Id = '" + _id(3).lower() + "'", [3]),
    ("OwnerId = '005000000000001'", [1]),               # 15-character id matches 18
    ("OwnerId = '005000000000001aaa'", [1]),
    ("ConvertedDate = 2024-05-03", [2]),
    ("ConvertedDate < 2024-05-03", []),
    ("ConvertedDate > 2024-05-02", [2]),
])
def test_operators(clause: str, expected: list[int]) -> None:
    assert where(clause) == expected


# --- logic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("clause, expected", [
    ("Company = 'acme' AND Status = 'open'", [1]),
    ("Company = 'acme' OR Status = 'closed'", [1, 2, 4]),
    ("Company = 'acme' AND Status = 'open' AND IsConverted = false", [1]),
    ("Company = 'acme' OR Company = 'globex' OR Company = 'initech'", [1, 2, 3, 4, 5]),
    ("NOT Company = 'acme'", [3, 4, 5]),
    ("NOT (Company = 'acme')", [3, 4, 5]),
    # NOT binds tighter than AND: (NOT Company = 'acme') AND Status = 'open'
    ("NOT Company = 'acme' AND Status = 'open'", [3, 5]),
    ("NOT (Company = 'acme' AND Status = 'open')", [2, 3, 4, 5]),
    ("(Company = 'acme' AND Status = 'open') OR Status = 'closed'", [1, 4]),
    ("Company = 'acme' AND (Status = 'open' OR Status = 'closed')", [1]),
    ("Company = 'globex' AND (Status = 'open' OR Status = 'closed')", [3, 4]),
    ("((Company = 'acme'))", [1, 2]),
    ("NOT NOT Company = 'acme'", [1, 2]),
    ("(Company = 'acme' OR Company = 'initech') AND NOT Status = 'working'", [1, 5]),
    ("NOT Email LIKE 'ann%'", [2, 3, 4, 5]),            # NOT over LIKE includes nulls
])
def test_logic_and_grouping(clause: str, expected: list[int]) -> None:
    assert where(clause) == expected


def test_and_or_tree_shape() -> None:
    q = parse("SELECT Id FROM Lead WHERE NOT A = 1 AND (B = 2 OR C = 3)")
    assert isinstance(q.where, And)
    first, second = q.where.items
    assert isinstance(first, Not) and isinstance(first.item, Comparison)
    assert isinstance(second, Or) and len(second.items) == 2


@pytest.mark.parametrize("clause", [
    "Company = 'acme' AND Status = 'open' OR Status = 'closed'",
    "Company = 'acme' OR Status = 'open' AND Status = 'closed'",
])
def test_mixing_and_or_without_parentheses_is_rejected_like_salesforce(clause: str) -> None:
    # "Parentheses are required whenever you mix the operators" (SOQL logical operators).
    err = error_of(f"SELECT Id FROM Lead WHERE {clause}")
    assert err.code == "MALFORMED_QUERY"
    assert "unexpected token: '" in err.message


def test_keywords_are_case_insensitive_and_output_is_canonical() -> None:
    rows, total = execute(
        parse("select id, EMAIL, lastname from LEAD where company = 'ACME' "
              "and isconverted = FALSE order by LASTNAME desc nulls last limit 5"),
        LEADS, SCHEMA)
    assert total == 1
    assert rows == [{"Id": _id(1), "Email": "ann@example.com", "LastName": "Archer"}]
    assert list(rows[0]) == ["Id", "Email", "LastName"]


def test_whitespace_and_newlines_are_insignificant() -> None:
    assert ids("SELECT\n  Id\nFROM\tLead\nWHERE Company='acme'AND(Status='open')\n") == [1]


def test_select_returns_raw_values_and_defaults_checkbox() -> None:
    rows, _ = execute(parse("SELECT Id, Email, IsConverted, ConvertedDate FROM Lead "
                            "WHERE Id = '" + _id(3) + "'"), LEADS, SCHEMA)
    assert rows == [{"Id": _id(3), "Email": None, "IsConverted": False, "ConvertedDate": None}]


def test_object_prefixed_field_is_accepted() -> None:
    rows, _ = execute(parse("SELECT Lead.Email FROM Lead WHERE Lead.Company = 'initech'"),
                      LEADS, SCHEMA)
    assert rows == [{"Email": ""}]


# --- quoting as format_soql writes it ---------------------------------------------------------

NASTY = [
    "o'brien\\x",
    "' OR Id != null --",
    "a\\' OR Email != null OR LastName = \\'",
    'say "hi"',
    "line1\nline2\r\ttab",
    "back\bspace\fform",
    "50%_off",
    "trailing\\",
    "ünïcødé ☃",
    "(paren) , comma = eq",
]


@pytest.mark.parametrize("value", NASTY)
def test_format_soql_values_round_trip(value: str) -> None:
    records = [{"Id": _id(1), "LastName": value}, {"Id": _id(2), "LastName": "other"},
               {"Id": _id(3), "LastName": value.upper() + "x"}]
    query = format_soql("SELECT Id FROM Lead WHERE LastName = {}", value)
    assert ids(query, records) == [1]
    query = format_soql("SELECT Id FROM Lead WHERE LastName IN {}", [value, "zzz"])
    assert ids(query, records) == [1]
    query = format_soql("SELECT Id FROM Lead WHERE LastName != {}", value)
    assert ids(query, records) == [2, 3]


def test_injection_attempt_is_just_a_value() -> None:
    query = format_soql("SELECT Id FROM Lead WHERE Email = {} AND IsConverted = false",
                        "x' OR Id != null --")
    assert ids(query) == []
    q = parse(query)
    assert isinstance(q.where, And)
    assert q.where.items[0].value.value == "x' OR Id != null --"


def test_format_soql_example_from_brief() -> None:
    query = format_soql("SELECT Id FROM Lead WHERE Email = {}", "o'brien\\x@ex.com")
    assert query == "SELECT Id FROM Lead WHERE Email = 'o\\'brien\\\\x@ex.com'"
    records = [{"Id": _id(7), "Email": "O'Brien\\x@EX.com"}]
    assert ids(query, records) == [7]


def test_format_soql_scalars_booleans_null_numbers() -> None:
    query = format_soql("SELECT Id FROM Lead WHERE IsConverted = {} AND Email != {} "
                        "AND NumberOfEmployees = {}", False, None, 10)
    assert ids(query) == [1]


def test_string_escape_sequences_decode() -> None:
    q = parse(r"SELECT Id FROM Lead WHERE LastName = 'a\\b\'c\"d\ne\rf\tg\bh\fi'")
    assert q.where.value.value == "a\\b'c\"d\ne\rf\tg\bh\fi"


# --- IN lists ---------------------------------------------------------------------------------

def test_in_list_of_200_values() -> None:
    emails = [f"user{n}@Example.com" for n in range(200)]
    records = [{"Id": _id(n), "Email": f"USER{n}@example.COM", "IsConverted": n % 7 == 0}
               for n in range(1, 400)]
    query = format_soql("SELECT Id, Email, CreatedDate FROM Lead WHERE IsConverted = false "
                        "AND Email IN {}", emails)
    got = ids(query, records)
    assert got == [n for n in range(1, 200) if n % 7]
    rows, _ = execute(parse(query), records, SCHEMA)
    assert rows[0] == {"Id": _id(1), "Email": "USER1@example.COM", "CreatedDate": None}


def test_not_in_and_nulls() -> None:
    assert where("Email NOT IN ('ann@example.com')") == [2, 3, 4, 5]
    assert where("Email IN ('ann@example.com', null)") == [1, 3, 5]
    assert where("Email NOT IN ('ann@example.com', null)") == [2, 4]
    assert where("NumberOfEmployees IN (10, 250)") == [1, 2, 5]
    assert where("NumberOfEmployees NOT IN (10)") == [2, 3, 4]


# --- LIKE -------------------------------------------------------------------------------------

def test_like_with_format_soql_like_escapes() -> None:
    records = [
        {"Id": _id(1), "Description": "50%_OFF today"},
        {"Id": _id(2), "Description": "50 percent of"},
        {"Id": _id(3), "Description": "50%Xoff"},          # _ must not act as a wildcard
        {"Id": _id(4), "Description": "5000_off"},          # % must not act as a wildcard
        {"Id": _id(5), "Description": None},
    ]
    query = format_soql("SELECT Id FROM Lead WHERE Description LIKE '{:like}%'", "50%_off")
    assert query.endswith("LIKE '50\\%\\_off%'")
    assert ids(query, records) == [1]
    # Unescaped, the same text is a pattern.
    assert ids("SELECT Id FROM Lead WHERE Description LIKE '50%_off%'", records) == [1, 3, 4]


def test_like_escaped_backslash_before_wildcard() -> None:
    records = [{"Id": _id(1), "LastName": "a\\bc"}, {"Id": _id(2), "LastName": "a\\"},
               {"Id": _id(3), "LastName": "ab"}]
    query = format_soql("SELECT Id FROM Lead WHERE LastName LIKE '{:like}%'", "a\\")
    assert query.endswith("LIKE 'a\\\\%'")
    assert ids(query, records) == [1, 2]


def test_like_regex_metacharacters_are_literal() -> None:
    records = [{"Id": _id(1), "LastName": "a.c(d)+"}, {"Id": _id(2), "LastName": "abc(d)+"}]
    assert ids("SELECT Id FROM Lead WHERE LastName LIKE 'a.c(_)+'", records) == [1]
    assert ids("SELECT Id FROM Lead WHERE LastName LIKE '%.c%'", records) == [1]


def test_like_spans_newlines_and_ignores_case() -> None:
    records = [{"Id": _id(1), "Description": "First\nSECOND"}]
    assert ids("SELECT Id FROM Lead WHERE Description LIKE 'first%second'", records) == [1]
    assert ids("SELECT Id FROM Lead WHERE Description LIKE 'first_second'", records) == [1]


def test_like_on_a_number_field_is_rejected() -> None:
    assert error_of("SELECT Id FROM Lead WHERE NumberOfEmployees LIKE '1%'").code == \
        "INVALID_FIELD"


# --- nulls ------------------------------------------------------------------------------------

def test_null_handling() -> None:
    assert where("Email = null") == [3, 5]            # "" is stored as null by Salesforce
    assert where("Email = NULL") == [3, 5]
    assert where("Email != null") == [1, 2, 4]
    assert where("Email = ''") == [3, 5]
    assert where("FirstName = null") == [4]
    assert where("ConvertedDate = null") == [1, 3, 4, 5]
    assert where("NumberOfEmployees = null") == [4]
    assert where("NumberOfEmployees < 1000") == [1, 2, 3, 5]   # null < x is false
    assert where("NumberOfEmployees > -1000") == [1, 2, 3, 5]
    assert where("NumberOfEmployees < null") == []
    assert where("IsConverted = null") == []          # checkboxes are never null
    assert where("CreatedDate = null") == [5]
    assert where("Email LIKE '%'") == [1, 2, 4]


# --- dates and datetimes ----------------------------------------------------------------------

@pytest.mark.parametrize("clause, expected", [
    ("CreatedDate = 2024-05-01T10:00:00Z", [1]),
    ("CreatedDate = 2024-05-01T10:00:00.000+0000", [1]),
    ("CreatedDate = 2024-05-01T12:00:00+02:00", [1]),
    ("CreatedDate = 2024-05-01T05:30:00-04:30", [1]),
    ("CreatedDate > 2024-05-01T12:00:00+02:00", [2, 4]),
    ("CreatedDate >= 2024-05-01T14:00:00+02:00", [2, 4]),
    ("CreatedDate < 2024-05-01T00:00:00Z", [3]),
    ("CreatedDate <= 2024-05-01T02:00:00+02:00", [3]),
    ("CreatedDate != 2024-05-01T10:00:00Z", [2, 3, 4, 5]),
    ("CreatedDate IN (2024-05-01T10:00:00Z, 2024-05-02T02:00:00+02:00)", [1, 4]),
    ("CreatedDate > 2024-05-01T10:00:00.001Z", [2, 4]),
])
def test_datetime_comparisons_across_offsets(clause: str, expected: list[int]) -> None:
    assert where(clause) == expected


def test_datetime_from_format_soql() -> None:
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    query = format_soql("SELECT Id FROM Lead WHERE CreatedDate >= {} ORDER BY CreatedDate",
                        moment)
    assert "CreatedDate >= 2024-05-01T10:00:00+00:00 ORDER" in query
    assert ids(query) == [1, 2, 4]


def test_stored_datetime_formats_are_parsed() -> None:
    records = [{"Id": _id(1), "CreatedDate": "2024-05-01T10:00:00Z"},
               {"Id": _id(2), "CreatedDate": "2024-05-01T12:00:00+02:00"},
               {"Id": _id(3), "CreatedDate": datetime(2024, 5, 1, 10, tzinfo=timezone.utc)}]
    assert ids("SELECT Id FROM Lead WHERE CreatedDate = 2024-05-01T10:00:00Z", records) == \
        [1, 2, 3]


@pytest.mark.parametrize("clause, expected", [
    ("CreatedDate = TODAY", [2, 4]),
    ("CreatedDate = YESTERDAY", [1]),
    ("CreatedDate < YESTERDAY", [3]),
    ("CreatedDate > YESTERDAY", [2, 4]),
    ("CreatedDate >= TODAY", [2, 4]),
    ("CreatedDate <= YESTERDAY", [1, 3]),
    ("CreatedDate != TODAY", [1, 3, 5]),
    ("CreatedDate = LAST_N_DAYS:1", [1, 2, 4]),
    ("CreatedDate = last_n_days:2", [1, 2, 3, 4]),
    ("CreatedDate = TOMORROW", []),
    ("ConvertedDate = NEXT_N_DAYS:1", [2]),
    ("ConvertedDate IN (TODAY, TOMORROW)", [2]),
])
def test_date_literals(monkeypatch: pytest.MonkeyPatch, clause: str,
                       expected: list[int]) -> None:
    records = [dict(r) for r in LEADS]
    records[0]["CreatedDate"] = "2024-05-01T23:59:59.999+0000"
    records[1]["CreatedDate"] = "2024-05-02T00:00:00.000+0000"
    monkeypatch.setattr(soql, "_utcnow",
                        lambda: datetime(2024, 5, 2, 9, 0, tzinfo=timezone.utc))
    assert ids(f"SELECT Id FROM Lead WHERE {clause}", records) == expected


def test_date_field_accepts_date_objects() -> None:
    records = [{"Id": _id(1), "ConvertedDate": date(2024, 5, 3)}]
    assert ids("SELECT Id FROM Lead WHERE ConvertedDate = 2024-05-03", records) == [1]


@pytest.mark.parametrize("clause, type_name", [
    ("CreatedDate = '2024-05-01T10:00:00Z'", "dateTime"),
    ("CreatedDate = 2024-05-01", "dateTime"),
    ("ConvertedDate = 2024-05-01T10:00:00Z", "date"),
    ("NumberOfEmployees = '10'", "integer"),
    ("IsConverted = 'false'", "boolean"),
    ("Email = 5", "email"),
    ("Company IN ('a', 5)", "string"),
])
def test_literal_of_the_wrong_type_is_invalid_field(clause: str, type_name: str) -> None:
    err = error_of(f"SELECT Id FROM Lead WHERE {clause}")
    assert err.code == "INVALID_FIELD"
    assert f"must be of type {type_name}" in err.message


# --- ORDER BY, LIMIT, OFFSET, COUNT() ---------------------------------------------------------

@pytest.mark.parametrize("order, expected", [
    ("Email", [3, 5, 1, 2, 4]),                        # ASC defaults to NULLS FIRST
    ("Email ASC", [3, 5, 1, 2, 4]),
    ("Email ASC NULLS LAST", [1, 2, 4, 3, 5]),
    ("Email DESC", [4, 2, 1, 3, 5]),                    # DESC defaults to NULLS LAST
    ("Email DESC NULLS FIRST", [3, 5, 4, 2, 1]),
    ("LastName", [1, 2, 3, 4, 5]),                      # case-insensitive: Archer, baker, ...
    ("Company, LastName DESC", [2, 1, 4, 3, 5]),
    ("Company DESC, NumberOfEmployees", [5, 4, 3, 1, 2]),
    ("Status, Company", [4, 1, 3, 5, 2]),              # Open/open tie; then Company
    ("Status", [4, 1, 3, 5, 2]),                        # stable: input order on ties
    ("NumberOfEmployees DESC", [2, 1, 5, 3, 4]),
    ("IsConverted DESC, Id DESC", [2, 5, 4, 3, 1]),
    ("CreatedDate", [5, 3, 1, 2, 4]),
    ("CreatedDate DESC NULLS FIRST", [5, 4, 2, 1, 3]),
])
def test_order_by(order: str, expected: list[int]) -> None:
    assert ids(f"SELECT Id FROM Lead ORDER BY {order}") == expected


def test_without_order_by_input_order_is_kept() -> None:
    shuffled = LEADS[::-1]
    assert ids("SELECT Id FROM Lead", shuffled) == [5, 4, 3, 2, 1]


def test_datetime_ordering_uses_instants_not_text() -> None:
    records = [{"Id": _id(1), "CreatedDate": "2024-05-01T10:00:00.000+0000"},
               {"Id": _id(2), "CreatedDate": "2024-05-01T11:00:00.000+0300"}]   # 08:00Z
    assert ids("SELECT Id FROM Lead ORDER BY CreatedDate", records) == [2, 1]


@pytest.mark.parametrize("tail, expected", [
    ("LIMIT 2", [1, 2]),
    ("LIMIT 0", []),
    ("LIMIT 100", [1, 2, 3, 4, 5]),
    ("OFFSET 3", [4, 5]),
    ("LIMIT 2 OFFSET 1", [2, 3]),
    ("LIMIT 2 OFFSET 4", [5]),
    ("LIMIT 2 OFFSET 10", []),
    ("ORDER BY LastName DESC LIMIT 2 OFFSET 1", [4, 3]),
])
def test_limit_and_offset(tail: str, expected: list[int]) -> None:
    assert ids(f"SELECT Id FROM Lead {tail}") == expected


@pytest.mark.parametrize("text, expected", [
    ("SELECT COUNT() FROM Lead", 5),
    ("select count() from Lead where Company = 'ACME'", 2),
    ("SELECT COUNT() FROM Lead WHERE Company = 'nobody'", 0),
    ("SELECT COUNT() FROM Lead LIMIT 3", 3),
    ("SELECT COUNT() FROM Lead LIMIT 3 OFFSET 4", 1),
])
def test_count(text: str, expected: int) -> None:
    q = parse(text)
    assert q.count and q.fields == ()
    assert execute(q, LEADS, SCHEMA) == ([], expected)


def test_parse_result_shape() -> None:
    q = parse("SELECT Id, email FROM Lead WHERE Company = 'x' "
              "ORDER BY Email DESC NULLS FIRST, Id LIMIT 10 OFFSET 20")
    assert isinstance(q, Query)
    assert (q.sobject, q.fields, q.count, q.limit, q.offset) == \
        ("Lead", ("Id", "email"), False, 10, 20)
    assert [(o.field.name, o.descending, o.nulls_first) for o in q.order_by] == \
        [("Email", True, True), ("Id", False, True)]
    assert parse("SELECT Id FROM Lead").where is None
    assert parse("SELECT Id FROM Lead") is parse("SELECT Id FROM Lead")   # cached


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("SELECT Foo FROM Lead", "No such column 'Foo' on entity 'Lead'"),
    ("SELECT Id FROM Lead WHERE Foo = 'x'", "No such column 'Foo' on entity 'Lead'"),
    ("SELECT Id FROM Lead WHERE Foo IN ('x')", "No such column 'Foo'"),
    ("SELECT Id FROM Lead WHERE Foo LIKE 'x'", "No such column 'Foo'"),
    ("SELECT Id FROM Lead ORDER BY Foo", "No such column 'Foo'"),
    ("SELECT COUNT() FROM Lead WHERE Foo = null", "No such column 'Foo'"),
    ("SELECT Owner.Name FROM Lead", "Didn't understand relationship 'Owner'"),
    ("SELECT Id FROM Lead WHERE ConvertedContact.Email = 'x'",
     "Didn't understand relationship 'ConvertedContact'"),
])
def test_invalid_field(text: str, fragment: str) -> None:
    err = error_of(text)
    assert err.code == "INVALID_FIELD"
    assert fragment in err.message


def test_invalid_field_message_matches_salesforce() -> None:
    err = error_of("SELECT Foo FROM Lead")
    assert err.message == (
        "\nSELECT Foo FROM Lead\n       ^\nERROR at Row:1:Column:8\n"
        "No such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL "
        "or the describe call for the appropriate names.")
    assert str(err).startswith("INVALID_FIELD")


def test_invalid_field_even_when_no_records() -> None:
    with pytest.raises(SoqlError) as info:
        execute(parse("SELECT Id FROM Lead WHERE Bogus__c = 1"), [], SCHEMA)
    assert info.value.code == "INVALID_FIELD"


def test_malformed_message_format() -> None:
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id FROM Lead WHERE")
    assert info.value.code == "MALFORMED_QUERY"
    assert info.value.message == ("\nSELECT Id FROM Lead WHERE\n" + " " * 25 + "^\n"
                                  "ERROR at Row:1:Column:26\nunexpected token: <EOF>")


def test_malformed_reports_row_and_column_on_later_lines() -> None:
    with pytest.raises(SoqlError) as info:
        parse("SELECT Id\nFROM Lead\nWHERE Email = = 'x'")
    assert "ERROR at Row:3:Column:15" in info.value.message
    assert "\nWHERE Email = = 'x'\n" in info.value.message
    assert info.value.message.endswith("unexpected token: '='")


@pytest.mark.parametrize("text, fragment", [
    ("", "unexpected token: <EOF>"),
    ("SELECT Id", "unexpected token: <EOF>"),                      # missing FROM
    ("SELECT Id Lead", "unexpected token: 'Lead'"),                # missing FROM
    ("SELECT Id WHERE Email = 'x'", "unexpected token: 'WHERE'"),
    ("SELECT FROM Lead", "unexpected token: 'FROM'"),
    ("SELECT Id, FROM Lead", "unexpected token: 'FROM'"),
    ("SELECT Id FROM", "unexpected token: <EOF>"),
    ("SELECT Id FROM Lead WHERE", "unexpected token: <EOF>"),
    ("SELECT Id FROM Lead WHERE Email = 'x' AND", "unexpected token: <EOF>"),   # trailing AND
    ("SELECT Id FROM Lead WHERE Email = 'x' OR", "unexpected token: <EOF>"),
    ("SELECT Id FROM Lead WHERE Email = 'abc", "mismatched character '<EOF>'"),  # unclosed
    ("SELECT Id FROM Lead WHERE Email = 'abc\\'", "mismatched character '<EOF>'"),
    ("SELECT Id FROM Lead WHERE (Email = 'x'", "expecting a right parentheses"),
    ("SELECT Id FROM Lead WHERE ((Email = 'x')", "expecting a right parentheses"),
    ("SELECT Id FROM Lead WHERE Email = 'x')", "unexpected token: ')'"),
    ("SELECT Id FROM Lead WHERE Email IN ('a', 'b'", "expecting a right parentheses"),
    ("SELECT Id FROM Lead WHERE Email IN ()", "unexpected token: ')'"),
    ("SELECT Id FROM Lead WHERE Email IN 'a'", "unexpected token: ''a''"),
    ("SELECT Id FROM Lead LIMIT 5 garbage", "unexpected token: 'garbage'"),
    ("SELECT Id FROM Lead LIMIT 5, 6", "unexpected token: ','"),
    ("SELECT Id FROM Lead LIMIT abc", "unexpected token: 'abc'"),
    ("SELECT Id FROM Lead LIMIT -1", "unexpected token: '-1'"),
    ("SELECT Id FROM Lead LIMIT 1.5", "unexpected token: '1.5'"),
    ("SELECT Id FROM Lead OFFSET 1 LIMIT 5", "unexpected token: 'LIMIT'"),
    ("SELECT Id FROM Lead WHERE Email == 'x'", "unexpected token: '='"),
    ("SELECT Id FROM Lead WHERE Email 'x'", "unexpected token: ''x''"),
    ("SELECT Id FROM Lead WHERE Email = \"x\"", "no viable alternative at character '\"'"),
    ("SELECT Id FROM Lead WHERE Email = 'a\\qb'", "Illegal escape sequence '\\q'"),
    ("SELECT Id FROM Lead WHERE Email LIKE 5", "unexpected token: '5'"),
    ("SELECT Id FROM Lead WHERE Email NOT LIKE 'x'", "unexpected token: 'NOT'"),
    ("SELECT Id FROM Lead WHERE Email = bogus", "unexpected token: 'bogus'"),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2024-13-01T00:00:00Z", "invalid datetime"),
    ("SELECT Id FROM Lead WHERE CreatedDate > 2024-05-01T00:00:00", "no viable alternative"),
    ("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS", "unexpected token: <EOF>"),
    ("SELECT Id FROM Lead ORDER Email", "unexpected token: 'Email'"),
    ("SELECT Id FROM Lead ORDER BY Email NULLS", "unexpected token: <EOF>"),
    ("SELECT Id FROM Lead GROUP BY Email", "unexpected token: 'GROUP'"),
    ("SELECT Id, Email, id FROM Lead", "duplicate field selected: id"),
    ("SELECT COUNT(Id) FROM Lead", "only COUNT()"),
    ("SELECT MAX(NumberOfEmployees) FROM Lead", "does not support the function 'MAX'"),
    ("SELECT Id FROM Lead; DELETE", "no viable alternative at character ';'"),
    ("SELECT Id FROM Lead WHERE Email = 'x' AND Company = 'y' OR Status = 'z'",
     "unexpected token: 'OR'"),
])
def test_malformed_query(text: str, fragment: str) -> None:
    with pytest.raises(SoqlError) as info:
        parse(text)
    assert info.value.code == "MALFORMED_QUERY"
    assert "ERROR at Row:" in info.value.message
    assert fragment in info.value.message


def test_non_string_query_is_malformed() -> None:
    with pytest.raises(SoqlError) as info:
        parse(None)  # type: ignore[arg-type]
    assert info.value.code == "MALFORMED_QUERY"


# --- equality_constraints ---------------------------------------------------------------------

def constraints(clause: str) -> dict:
    return equality_constraints(parse(f"SELECT Id FROM Lead WHERE {clause}"), SCHEMA)


@pytest.mark.parametrize("clause, expected", [
    ("Email = 'A@X.com'", {"Email": {"a@x.com"}}),
    ("email IN ('A@x.com', 'b@X.com')", {"Email": {"a@x.com", "b@x.com"}}),
    ("IsConverted = false AND Email IN ('A@x.com')", {"Email": {"a@x.com"}}),
    ("Email IN ('a', 'b') AND (Company = 'Acme' AND Status = 'Open')",
     {"Email": {"a", "b"}, "Company": {"acme"}, "Status": {"open"}}),
    ("Email IN ('a', 'b') AND Email = 'B'", {"Email": {"b"}}),          # intersected
    ("Email = 'a' AND Email = 'b'", {"Email": set()}),                  # nothing can match
    ("NumberOfEmployees IN (10, 250)", {"NumberOfEmployees": {10, 250}}),
    ("Id = '00Q000000000001'", {"Id": {"00q000000000001eaa"}}),         # 15 -> 18 chars
    ("Email = 'a' OR Email = 'b'", {}),                                  # top-level OR
    ("Email = 'a' AND (Company = 'x' OR Company = 'y')", {"Email": {"a"}}),
    ("NOT Email = 'a'", {}),
    ("Email != 'a'", {}),
    ("Email NOT IN ('a')", {}),
    ("Email LIKE 'a%'", {}),
    ("Email = null", {}),
    ("Email IN ('a', null)", {}),
    ("Email = ''", {}),
    ("CreatedDate = 2024-05-01T10:00:00Z", {}),
    ("IsConverted = true", {}),
    ("Bogus = 'a'", {}),                                                # execute() reports it
])
def test_equality_constraints(clause: str, expected: dict) -> None:
    assert constraints(clause) == expected


def test_equality_constraints_without_where() -> None:
    assert equality_constraints(parse("SELECT Id FROM Lead"), SCHEMA) == {}


def test_equality_constraints_values_match_index_key() -> None:
    found = constraints("Email = 'BOB@example.COM' AND OwnerId = '005000000000001'")
    assert index_key(LEADS[1]["Email"], "email") in found["Email"]
    assert index_key(LEADS[0]["OwnerId"], "reference") in found["OwnerId"]
    assert index_key("", "email") is None


def _random_clause(rng: random.Random) -> str:
    fields = {
        "Email": ["'ann@example.com'", "'bob@example.com'", "'DEE@globex.com'", "null",
                  "'nobody@x.com'"],
        "Company": ["'acme'", "'Globex'", "'INITECH'", "'none'"],
        "Status": ["'Open'", "'working'", "'Closed'"],
        "NumberOfEmployees": ["10", "250", "-5", "null", "7"],
    }

    def term() -> str:
        name = rng.choice(list(fields))
        values = fields[name]
        kind = rng.random()
        if kind < 0.4:
            return f"{name} = {rng.choice(values)}"
        if kind < 0.7:
            picked = rng.sample(values, rng.randint(1, len(values)))
            return f"{name} IN ({', '.join(picked)})"
        if kind < 0.8:
            return f"NOT {name} = {rng.choice(values)}"
        if kind < 0.9:
            return f"{name} != {rng.choice(values)}"
        return f"({term()} OR {term()})"

    return " AND ".join(term() for _ in range(rng.randint(1, 4)))


def test_equality_constraints_are_a_sound_prefilter() -> None:
    """Prefiltering by any reported constraint never drops a record execute() would return."""
    rng = random.Random(1234)
    used = 0
    for _ in range(400):
        query = parse(f"SELECT Id FROM Lead WHERE {_random_clause(rng)}")
        expected, _ = execute(query, LEADS, SCHEMA)
        for name, allowed in equality_constraints(query, SCHEMA).items():
            used += 1
            candidates = [r for r in LEADS if index_key(r.get(name), SCHEMA[name]) in allowed]
            got, _ = execute(query, candidates, SCHEMA)
            assert got == expected, (query.source, name, allowed)
    assert used > 100


# --- a large IN list ---------------------------------------------------------------------------

def test_large_in_query_over_many_records() -> None:
    """The sync issues this shape hundreds of times (speed is measured in bench/, not here)."""
    records = [{"Id": _id(n), "Email": f"user{n}@example.com", "IsConverted": n % 3 == 0,
                "CreatedDate": "2024-05-01T10:00:00.000+0000"} for n in range(20_000)]
    emails = [f"USER{n}@example.com" for n in range(0, 20_000, 100)]
    query_text = format_soql("SELECT Id, Email, CreatedDate FROM Lead WHERE IsConverted = false "
                             "AND Email IN {}", emails)
    rows, total = execute(parse(query_text), records, SCHEMA)
    assert total == len([n for n in range(0, 20_000, 100) if n % 3])
    assert {r["Email"] for r in rows} == {f"user{n}@example.com" for n in range(0, 20_000, 100) if n % 3}
