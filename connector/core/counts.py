"""The one vocabulary of run counts: what a run, its report, the ledger's run history, the
daemon's log lines and ``status`` call each number.

Before this module the names were spelled in five places; a new count is added here once.
"""

from __future__ import annotations

from enum import StrEnum

from connector.core.model import Action, MemberAction, Outcome, Status


class Count(StrEnum):
    PULLED = "pulled"
    CREATED_LEADS = "created_leads"
    CREATED_CONTACTS = "created_contacts"
    ATTACHED = "attached"
    ALREADY_MEMBER = "already_member"
    FAILED = "failed"
    SKIPPED = "skipped"
    REPLANNED_BATCHES = "replanned_batches"
    PARKED_FORM_NOT_MAPPED = "parked_form_not_mapped"
    PARKED_NOT_IN_HUBSPOT = "parked_not_in_hubspot"
    PAUSED_FORMS = "paused_forms"            # forms held back: their campaign cannot take members
    PAUSED_RESPONSES = "paused_responses"    # given responses (retry, --fix) of those forms, held
    # of the attached: an existing membership moved forward (Registered -> Attended, Sent ->
    # Responded); counted besides ATTACHED, not instead of it
    STATUS_MOVES = "status_moves"
    # what the writes did besides the responses' own records and memberships: existing Leads
    # and Contacts updated (blanks filled, overwrite rules, a status moved at hand-off, a score;
    # a record, however many responses changed it) and follow-up Tasks (one per response)
    UPDATED_RECORDS = "updated_records"
    TASKS = "tasks"


# The counts a run's one-line summary shows (daemon log, status), in this order.
RUN_COUNTS = (Count.PULLED, Count.CREATED_LEADS, Count.ATTACHED, Count.ALREADY_MEMBER,
              Count.FAILED, Count.SKIPPED)

# What became of each response, as status and the HTML page group the ledger.
OUTCOMES = ("created_lead", "attached", "status_moved", "already_member", "failed", "pending")

_BY_ACTION = {Action.CREATE_LEAD: Count.CREATED_LEADS, Action.CREATE_CONTACT: Count.CREATED_CONTACTS,
              Action.ATTACH_LEAD: Count.ATTACHED, Action.ATTACH_CONTACT: Count.ATTACHED}


def count_of(action: Action, member: MemberAction) -> Count:
    """The count a planned response adds to (a dry run's, or a decision before its write).

    A create counts as created even when its membership is there already: a new record has
    no membership but the one leadsync gave it, which a replay after a lost reply finds."""
    if action is Action.FAILED:
        return Count.FAILED
    if member is MemberAction.EXISTS and action not in (Action.CREATE_LEAD, Action.CREATE_CONTACT):
        return Count.ALREADY_MEMBER
    return _BY_ACTION[action]


def count_of_outcome(outcome: Outcome) -> Count:
    """The count a written response adds to."""
    if outcome.status is Status.FAILED:
        return Count.FAILED
    return count_of(outcome.action, MemberAction.EXISTS if outcome.member_existed else MemberAction.CREATE)
