"""Salesforce names and Ids: the one definition of each shape leadsync checks or compares.

An API name is spliced into SOQL and into write payloads, and an Id's prefix says what kind
of record it is (a queue may own Leads, never Tasks). Several rooms ask these questions;
when each kept its own pattern they drifted apart, so the answers live here. Pure: strings
in, strings or booleans out.
"""

from __future__ import annotations

import re

# An API name: a letter, then letters, digits and underscores (``Phone``, ``Score__c``).
# Checked with ``fullmatch``: the value is spliced into SOQL, so nothing may trail it.
API_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
API_NAME = re.compile(API_NAME_PATTERN)
# A relationship path of API names (``Owner.Name``), as a Bulk query's columns may be.
FIELD_PATH = re.compile(rf"{API_NAME_PATTERN}(\.{API_NAME_PATTERN})*")
# A custom field's API name (``Leadsync_Response_Id__c``).
CUSTOM_FIELD = re.compile(rf"{API_NAME_PATTERN}__c")

USER_PREFIX = "005"    # a User's Id starts with it
QUEUE_PREFIX = "00G"   # a Group's, and so a queue's: may own Leads, not Tasks
# A record Id as typed: 15 characters (case-sensitive) or 18 (the API's form).
SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def is_api_name(text: object) -> bool:
    """Is this a string shaped like an API name (whether the field exists is the describe's)?"""
    return isinstance(text, str) and API_NAME.fullmatch(text) is not None


def is_queue_id(sf_id: str | None) -> bool:
    """Does this Id name a queue (a Group), which cannot own a Task?"""
    return (sf_id or "").startswith(QUEUE_PREFIX)


def is_user_id(sf_id: str | None) -> bool:
    """Does this Id name a User, the only kind of owner a Task accepts?"""
    return (sf_id or "").startswith(USER_PREFIX)


def to_id18(sf_id: str) -> str:
    """A 15-character Salesforce Id -> its 18-character form (what the API returns), so an
    Id typed from the browser's address bar compares equal to one read back."""
    if len(sf_id) != 15:
        return sf_id
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for chunk in (sf_id[0:5], sf_id[5:10], sf_id[10:15]):
        suffix += alphabet[sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")]
    return sf_id + suffix
